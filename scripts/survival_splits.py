"""Rule survival_splits: time-dependent AUC and C-index over seeded train/test splits."""

from bloodsig.core.io import read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots.survival import td_auc_plot
from bloodsig.survival import inputs, selection
from bloodsig.survival import models as prognosis


def main(smk):
    settings = prognosis.SplitSettings.from_config(smk.params.settings)
    expr, cases, clin = inputs.read_case_data(smk.input.expression, smk.input.cases,
                                              settings.cases)
    selected = read_tsv(smk.input.selected, required=["model", "gene_id"],
                        dtype={"gene_id": str})
    splits = prognosis.split_evaluation(expr, clin, cases["time"], cases["event"],
                                        selection.genes_by_model(selected), settings,
                                        smk.params.seed, smk.threads)
    write_tsv(splits, smk.output.splits)
    write_tsv(prognosis.split_tests(splits), smk.output.tests)
    save_figure(td_auc_plot(splits, unit=settings.time_unit), smk.output.figure)


run(main, snakemake)  # noqa: F821
