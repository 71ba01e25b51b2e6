"""Rule classify_external: AUC, sensitivity, specificity, accuracy and ROC on a cohort's case
and control samples whose patients the models were not trained on."""

from bloodsig.classify import features
from bloodsig.classify import models as classify
from bloodsig.core.cohort import read_samples
from bloodsig.core.io import read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots import classify as plots


def main(smk):
    sheet = smk.params.sheet
    coding = features.CaseControl.from_config(sheet)
    prep = classify.read_preprocessing(smk.input.preprocessing)
    pred = read_tsv(smk.input.predictions, required=["sample_id"],
                    dtype={"sample_id": str}).set_index("sample_id")
    genes = read_tsv(smk.input.model_genes, required=["model", "gene_id"],
                     dtype={"gene_id": str})
    panels = {m: g["gene_id"].tolist() for m, g in genes.groupby("model", sort=False)}
    samples = read_samples(smk.input.samples, sheet).loc[pred.index]
    samples = samples.loc[classify.unseen_patients(
        samples, read_samples(smk.input.training_samples, sheet), coding.patient_column,
        smk.input.samples)]
    y = features.labels(samples, coding, smk.input.samples)
    metrics = classify.validation_metrics(pred, y, prep.threshold, panels,
                                          features.patients(samples.loc[y.index],
                                                            coding.patient_column))
    roc = classify.roc_table(pred, y)
    write_tsv(metrics, smk.output.metrics)
    write_tsv(roc, smk.output.roc)
    save_figure(plots.roc_curves(roc, metrics.set_index("model")["auc"],
                                 title=f"external cohort {smk.wildcards.target} "
                                       f"(n = {len(y)})"), smk.output.figure)


run(main, snakemake)  # noqa: F821
