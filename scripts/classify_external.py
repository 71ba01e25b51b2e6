"""Rule classify_external: AUC, sensitivity, specificity, accuracy and ROC on a cohort."""

import json
from pathlib import Path

from bloodsig import classify
from bloodsig.cohort import read_samples
from bloodsig.io import read_tsv, save_figure, write_tsv
from bloodsig.plots import classify as plots
from bloodsig.script import run


def main(smk):
    prep = json.loads(Path(smk.input.preprocessing).read_text())
    pred = read_tsv(smk.input.predictions, required=["sample_id"],
                    dtype={"sample_id": str}).set_index("sample_id")
    samples = read_samples(smk.input.samples, smk.params.sheet)
    y = classify.labels(samples.loc[pred.index], smk.params.sheet, smk.input.samples)
    metrics = classify.validation_metrics(pred, y, prep["threshold"])
    roc = classify.roc_table(pred, y)
    write_tsv(metrics, smk.output.metrics)
    write_tsv(roc, smk.output.roc)
    save_figure(plots.roc_curves(roc, metrics.set_index("model")["auc"],
                                 title=f"external cohort {smk.wildcards.target}"),
                smk.output.figure)


run(main, snakemake)  # noqa: F821
