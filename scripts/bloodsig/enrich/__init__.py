"""The `enrich` stage: ORA, preranked GSEA, the enrichment map, overlap with published DEG lists."""
