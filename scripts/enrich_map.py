"""Rule enrich_map: enrichment map of one analysis's significant terms (GraphML + figure)."""

from bloodsig.core import gmt
from bloodsig.core.io import read_tsv, save_figure, write_text, write_tsv
from bloodsig.core.script import run
from bloodsig.enrich.enrichmap import MapSettings, enrichment_map, to_graphml
from bloodsig.enrich.ora import universe_genes
from bloodsig.plots import enrich as plots


def main(smk):
    settings, spec = MapSettings.from_config(smk.params.map), smk.params.spec
    sets, _ = gmt.load_collection(spec)
    tt = read_tsv(smk.input.toptable, required=["gene_name"], what="DE table")
    # Similarities use the members the ORA counted (those in its universe).
    sets = gmt.restrict(sets, universe_genes(tt["gene_name"], sets, smk.params.universe),
                        path=spec["gmt"])
    table = read_tsv(smk.input.ora, required=["direction", "term", "FDR", "pvalue", "Count",
                                              "set_size"], what="ORA table")
    emap = enrichment_map(table, sets, settings)
    write_text(to_graphml(emap), smk.output.graphml)
    write_tsv(emap.nodes, smk.output.nodes)
    title = f"{smk.wildcards.analysis}: {smk.wildcards.collection}, FDR < {settings.fdr:g}"
    save_figure(plots.enrichment_map_figure(emap.nodes, emap.edges, smk.params.seed, title),
                smk.output.figure)


run(main, snakemake)  # noqa: F821
