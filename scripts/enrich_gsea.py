"""Rule enrich_gsea: preranked GSEA (gseapy) of one analysis's contrast in one collection."""

from bloodsig.core.gmt import load_collection
from bloodsig.core.io import read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.enrich import gsea
from bloodsig.plots import enrich as plots


def main(smk):
    settings = gsea.GseaSettings.from_config(smk.params.gsea)
    sets, _ = load_collection(smk.params.spec)
    tt = read_tsv(smk.input.toptable, required=["gene_name", "logFC", "P.Value"],
                  what="DE table")
    ranking = gsea.rank_statistic(tt, path=smk.input.toptable)
    res = gsea.prerank(ranking, sets, settings, smk.params.seed, smk.threads)
    write_tsv(res.table, smk.output.table)
    title = f"{smk.wildcards.analysis}: {smk.wildcards.collection}"
    save_figure(plots.gsea_plots(res.table, res.ranking, res.running_es, res.hits,
                                 settings.plots, title, settings.permutations),
                smk.output.figure)


run(main, snakemake)  # noqa: F821
