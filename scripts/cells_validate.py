"""Rule cells_validate: each cell-fraction estimate against flow cytometry (Pearson r)."""

from bloodsig.cells import proportions as cells
from bloodsig.core.cohort import read_samples
from bloodsig.core.io import save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots.cells import validation_scatter


def main(smk):
    known, tol, groups = (read_samples(smk.input.samples, smk.params.sheet).index,
                          smk.params.sum_tolerance, smk.params.groups)
    estimates = cells.read_estimates(dict(smk.input.items()), known, tol)
    flow = cells.read_fractions(smk.input.flow, known, tol)
    table = cells.compare(estimates, flow, groups)
    write_tsv(table, smk.output.table)
    save_figure(validation_scatter({k: cells.with_groups(v, groups) for k, v in
                                    estimates.items()}, cells.with_groups(flow, groups), table),
                smk.output.figure)


run(main, snakemake)  # noqa: F821
