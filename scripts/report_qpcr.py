"""Rule report_qpcr: delta-delta-Ct fold changes beside the RNA-seq logFC, table and figure."""

from bloodsig.core.io import read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.de import qpcr
from bloodsig.plots import report as plots


def main(smk):
    sheet = smk.params.sheet
    samples = read_tsv(smk.input.samples, required=[sheet["id_column"], sheet["group_column"]],
                       what="sample sheet", dtype={sheet["id_column"]: str})
    groups = samples.set_index(sheet["id_column"])[sheet["group_column"]]
    fc = qpcr.delta_delta_ct(qpcr.read_ct(smk.input.ct), groups, sheet["case"], sheet["control"],
                             smk.params.reference_genes, path=smk.input.ct)
    table = qpcr.with_rnaseq(fc, read_tsv(smk.input.toptable, required=["gene_name", "logFC"]))
    write_tsv(table, smk.output.table)
    save_figure(plots.qpcr_scatter(table), smk.output.figure)


run(main, snakemake)  # noqa: F821
