"""Rule classify_compare: seven classifiers on one seeded split, DeLong CIs and tests, ROC."""

from bloodsig import classify
from bloodsig.io import save_figure, write_tsv
from bloodsig.plots import classify as plots
from bloodsig.script import run


def main(smk):
    cfg = smk.params.classify
    X, y, sets = classify.read_training_data(smk.input.toptable, smk.input.residuals,
                                             smk.input.samples, smk.params.sheet,
                                             cfg["filters"])
    res = classify.compare_algorithms(X[sets[cfg["compare"]["filter"]]], y, cfg["compare"],
                                      cfg["xgboost"], smk.params.seed, smk.threads)
    write_tsv(res.table, smk.output.auc)
    write_tsv(res.roc, smk.output.roc)
    write_tsv(res.test_scores, smk.output.scores)
    save_figure(plots.roc_curves(res.roc, res.table.set_index("algorithm")["test_auc"],
                                 by="algorithm", title="test set (30%)"), smk.output.figure)


run(main, snakemake)  # noqa: F821
