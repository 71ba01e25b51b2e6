"""Rule classify_compare: seven classifiers on one seeded split by patient, DeLong CIs and
tests, ROC, and the best one's AUC on a split that ignores patients beside it."""

from bloodsig.classify import algorithms
from bloodsig.classify import models as classify
from bloodsig.classify.features import CaseControl
from bloodsig.core.cohort import read_samples
from bloodsig.core.io import save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots import classify as plots


def main(smk):
    cfg = classify.ClassifySettings.from_config(smk.params.classify)
    data = classify.read_training_data(
        smk.input.toptable, smk.input.residuals, read_samples(smk.input.samples, smk.params.sheet),
        CaseControl.from_config(smk.params.sheet), cfg.filters, smk.input.samples)
    res = algorithms.compare_algorithms(data.X[data.sets[cfg.compare.filter]], data.y,
                                        cfg.compare, cfg.xgboost, smk.params.seed, smk.threads,
                                        data.groups)
    write_tsv(res.table, smk.output.auc)
    write_tsv(res.grouping, smk.output.grouping)
    write_tsv(res.roc, smk.output.roc)
    write_tsv(res.test_scores, smk.output.scores)
    n_test = int(res.table["n_test"].iloc[0])
    save_figure(plots.roc_curves(res.roc, res.table.set_index("algorithm")["test_auc"],
                                 by="algorithm",
                                 title=f"held-out test set, split by patient (n = {n_test})"),
                smk.output.figure)


run(main, snakemake)  # noqa: F821
