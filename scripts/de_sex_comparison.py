"""Rule de_sex_comparison: genes whose case-control effect differs between males and females."""

from bloodsig.core.io import read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.de.sexdiff import sex_interaction_flags
from bloodsig.plots.de import sex_logfc_scatter


def main(smk):
    need = ["gene_id", "gene_name", "logFC", "t"]
    male = read_tsv(smk.input.male, required=need, what="male top table")
    female = read_tsv(smk.input.female, required=need, what="female top table")
    flags = sex_interaction_flags(male, female, fdr=smk.params.fdr)
    write_tsv(flags.reset_index(), smk.output.table)
    save_figure(sex_logfc_scatter(flags), smk.output.figure)


run(main, snakemake)  # noqa: F821
