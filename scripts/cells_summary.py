"""Rule cells_summary: estimate used, dropped type, r with flow cytometry (and with a planted
truth), and how adjusting the DE for cells changes its DEGs."""

from bloodsig.cells import adjustment
from bloodsig.cells import proportions as cells
from bloodsig.cells.settings import CellsSettings
from bloodsig.core.io import read_tsv, write_tsv
from bloodsig.core.script import run


def main(smk):
    settings, de, files = CellsSettings.from_config(smk.params.settings), smk.params.de, smk.input
    groups, tol = settings.groups, settings.sum_tolerance
    estimates = cells.read_estimates(dict(files.items()), None, tol)
    validation = read_tsv(files.validation[0]) if files.validation else None
    chosen = cells.choose_estimate(settings.estimate, list(estimates), validation, groups)
    truth = (cells.compare(estimates, cells.read_fractions(files.truth_proportions, None, tol),
                           groups, "planted truth") if hasattr(files, "truth_proportions")
             else None)
    effect = (adjustment.adjustment_effect(
        read_tsv(files.unadjusted), read_tsv(files.adjusted),
        read_tsv(files.truth_de_genes) if hasattr(files, "truth_de_genes") else None,
        de["fdr"], de["min_abs_logfc"]) if hasattr(files, "adjusted")
        else None)
    write_tsv(cells.summary_table(chosen, list(estimates), validation, read_tsv(files.vif),
                                  truth, effect), smk.output.summary)


run(main, snakemake)  # noqa: F821
