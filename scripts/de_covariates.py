"""Rule de_covariates: RNA-PC (or SVA) technical covariates for one analysis."""

from bloodsig.core.cohort import read_cell_fractions, read_samples
from bloodsig.core.io import read_counts, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.de import analysis as de
from bloodsig.de.settings import Analysis, CovariateSettings
from bloodsig.plots.covariates import association_heatmap


def main(smk):
    settings = CovariateSettings.from_config(smk.params.de, smk.params.sheet)
    cells = read_cell_fractions(smk.input.cells[0]) if smk.input.cells else None
    analysis = de.with_cell_terms(Analysis.from_config(smk.params.analysis), cells)
    samples = de.analysis_samples(read_samples(smk.input.samples, smk.params.sheet), analysis,
                                  cells, smk.input.cells[0] if cells is not None else None)
    confounding = de.analysis_confounding(samples, analysis, smk.wildcards.analysis, settings)
    write_tsv(confounding, smk.output.confounding)
    covs = de.technical_covariates(read_counts(smk.input.counts), samples, analysis, settings,
                                   smk.params.seed)
    write_tsv(covs.values.rename_axis("sample_id").reset_index(), smk.output.covariates)
    write_tsv(covs.association, smk.output.association)
    save_figure(association_heatmap(covs.association, smk.wildcards.analysis),
                smk.output.heatmap)


run(main, snakemake)  # noqa: F821
