"""Rule cells_rna: cell fractions estimated from the expression (NNLS on a signature matrix)."""

from bloodsig.cells import proportions as cells
from bloodsig.core.io import read_counts, write_tsv
from bloodsig.core.script import run


def main(smk):
    res = cells.deconvolve(read_counts(smk.input.counts), cells.read_signature(
        smk.input.signature), smk.params.weighting)
    write_tsv(res.fractions.rename_axis("sample_id").reset_index(), smk.output.fractions)
    write_tsv(res.fit.rename_axis("sample_id").reset_index(), smk.output.fit)


run(main, snakemake)  # noqa: F821
