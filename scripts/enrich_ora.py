"""Rule enrich_ora: over-representation of one analysis's up and down DEGs in one collection."""

from bloodsig.core.gmt import load_collection
from bloodsig.core.io import read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.enrich import ora
from bloodsig.plots import enrich as plots


def main(smk):
    settings, spec = smk.params.enrich, smk.params.spec
    sets, descriptions = load_collection(spec)
    tt = read_tsv(smk.input.toptable, required=["gene_name"], what="DE table")
    up = read_tsv(smk.input.up, required=["gene_name"], what="DEG list")
    down = read_tsv(smk.input.down, required=["gene_name"], what="DEG list")
    table = ora.ora_up_down(tt, up, down, sets, ora.OraSettings.from_config(settings),
                            descriptions, path=spec["gmt"])
    write_tsv(table, smk.output.table)
    title = f"{smk.wildcards.analysis}: {smk.wildcards.collection}"
    save_figure(plots.ora_dotplot(table, settings["dotplot_terms"], settings["fdr"], title),
                smk.output.dotplot)


run(main, snakemake)  # noqa: F821
