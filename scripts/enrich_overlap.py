"""Rule enrich_overlap: a cohort's DEGs vs one published DEG list (Fisher tests, logFC
correlation of the shared DEGs, pathways of the shared DEGs)."""

import pandas as pd

from bloodsig.core.gmt import load_collection
from bloodsig.core.io import read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.enrich import overlap
from bloodsig.enrich.ora import OraSettings, ora_up_down
from bloodsig.plots import enrich as plots


def main(smk):
    spec = overlap.PublishedList.from_config(smk.params.spec)
    settings = OraSettings.from_config(smk.params.enrich)
    published = overlap.read_published(spec)
    tt = read_tsv(smk.input.toptable, required=["gene_name", "logFC"], what="DE table")
    up = read_tsv(smk.input.up, required=["gene_name", "logFC"], what="DEG list")
    down = read_tsv(smk.input.down, required=["gene_name", "logFC"], what="DEG list")
    shared = overlap.shared_degs(up, down, published)
    corr = overlap.logfc_correlation(shared)
    write_tsv(overlap.overlap_tests(tt, up, down, published).assign(**corr), smk.output.tests)
    write_tsv(shared, smk.output.shared)
    concordant = shared[shared["concordant"]]
    tables = []
    for name, coll in smk.params.collections.items():
        sets, descriptions = load_collection(coll)
        table = ora_up_down(tt, concordant[concordant["logFC"] > 0],
                            concordant[concordant["logFC"] < 0], sets, settings,
                            descriptions, path=coll["gmt"])
        tables.append(table.assign(collection=name))
    write_tsv(pd.concat(tables, ignore_index=True), smk.output.pathways)
    save_figure(plots.shared_logfc_scatter(shared, smk.wildcards.published, corr),
                smk.output.figure)


run(main, snakemake)  # noqa: F821
