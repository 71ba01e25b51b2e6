"""Rule cells_for_de: the estimate used for adjustment, minus the collinear cell type(s)."""

from bloodsig.cells import adjustment
from bloodsig.cells import proportions as cells
from bloodsig.cells.settings import CellsSettings
from bloodsig.core.cohort import read_samples
from bloodsig.core.io import read_tsv, write_tsv
from bloodsig.core.script import run


def main(smk):
    settings, sheet = CellsSettings.from_config(smk.params.settings), smk.params.sheet
    files = dict(smk.input.items())
    estimates = cells.read_estimates(files, read_samples(smk.input.sheet, sheet).index,
                                     settings.sum_tolerance)
    validation = read_tsv(smk.input.validation[0]) if smk.input.validation else None
    chosen = cells.choose_estimate(settings.estimate, list(estimates), validation,
                                   settings.groups)
    samples = read_samples(smk.input.samples, sheet)
    res = adjustment.drop_collinear(estimates[chosen], samples, settings.collinearity,
                                    source=files[chosen])
    fractions = estimates[chosen].loc[samples.index].rename_axis("sample_id").reset_index()
    write_tsv(fractions, smk.output.fractions)
    write_tsv(fractions[["sample_id", *res.kept]], smk.output.for_de)
    write_tsv(res.table, smk.output.vif)


run(main, snakemake)  # noqa: F821
