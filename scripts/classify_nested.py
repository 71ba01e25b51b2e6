"""Rule classify_nested: nested CV (folds by patient) with the whole panel selection inside
each outer fold; the nested-CV AUC heads its summary."""

from bloodsig.classify import models as classify
from bloodsig.classify import panel_selection
from bloodsig.classify.features import CaseControl
from bloodsig.core.cohort import read_samples
from bloodsig.core.io import read_tsv, write_tsv
from bloodsig.core.script import run


def main(smk):
    cfg = classify.ClassifySettings.from_config(smk.params.classify)
    data = classify.read_training_data(
        smk.input.toptable, smk.input.residuals, read_samples(smk.input.samples, smk.params.sheet),
        CaseControl.from_config(smk.params.sheet), cfg.filters, smk.input.samples)
    folds, oof = panel_selection.nested_cv(data.X, data.y, data.sets, cfg.outer_folds, cfg.rfe,
                                           cfg.xgboost, smk.params.seed, smk.threads,
                                           data.groups)
    optimistic = read_tsv(smk.input.performance, required=["model", "optimistic_cv_auc"])
    summary = panel_selection.honest_summary(folds, oof, data.y,
                                             optimistic.set_index("model")["optimistic_cv_auc"])
    write_tsv(folds, smk.output.folds)
    write_tsv(oof.assign(label=data.y, patient=data.groups).rename_axis("sample_id")
              .reset_index(), smk.output.oof)
    write_tsv(summary, smk.output.summary)


run(main, snakemake)  # noqa: F821
