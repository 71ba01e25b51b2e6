"""Rule connectivity_queries: up/down CMap queries from core genes and tissue DEGs."""

from bloodsig.connectivity import coregenes
from bloodsig.core.io import read_tsv, write_tsv
from bloodsig.core.script import run


def main(smk):
    cfg = smk.params.settings
    cores = {a: read_tsv(p, required=["gene_name", "mean_logFC"], what="core genes")
             for a, p in zip(smk.params.analyses, smk.input.cores, strict=True)}
    tissues = {name: coregenes.read_deg_table(path, cfg["tissues"][name])
               for name, path in zip(smk.params.tissues, smk.input.tissues, strict=True)}
    genes = read_tsv(smk.input.store_genes, required=["gene_id", "gene_symbol"],
                     what="store genes", dtype=str)
    write_tsv(coregenes.queries_for(cores, tissues, genes, cfg["fdr"], cfg["min_abs_logfc"],
                                    cfg["min_query_genes"], cfg["max_query_genes"]),
              smk.output.queries)


run(main, snakemake)  # noqa: F821
