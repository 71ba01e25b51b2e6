"""Rule classify_predict: score a cohort's counts with every saved model and the ensemble."""

from bloodsig.classify import models as classify
from bloodsig.classify.features import CaseControl
from bloodsig.core.cohort import read_samples
from bloodsig.core.io import read_counts, read_tsv, write_tsv
from bloodsig.core.script import run


def main(smk):
    prep = classify.read_preprocessing(smk.input.preprocessing)
    genes = read_tsv(smk.input.model_genes, required=["model", "gene_id", "position"],
                     dtype={"gene_id": str})
    panels = {m: g.sort_values("position")["gene_id"].tolist()
              for m, g in genes.groupby("model", sort=False)}
    models = {p.rsplit("/", 1)[1].removesuffix(".json"): classify.load_model(p)
              for p in smk.input.models}
    target = classify.cohort_features(
        read_counts(smk.input.target_counts),
        read_samples(smk.input.target_samples, smk.params.sheet), prep,
        smk.input.target_samples)
    train_X = train_y = None
    if prep.missing_genes == "refit":
        data = classify.read_training_data(
            smk.input.toptable, smk.input.residuals,
            read_samples(smk.input.samples, smk.params.sheet),
            CaseControl.from_config(smk.params.sheet), {}, smk.input.samples)
        train_X, train_y = data.X, data.y
    pred, missing = classify.score_cohort(target, models, panels, prep.missing_genes,
                                          train_X, train_y, prep.xgboost, prep.seed,
                                          smk.threads, smk.input.target_counts)
    write_tsv(pred.rename_axis("sample_id").reset_index(), smk.output.predictions)
    write_tsv(missing.merge(genes[["model", "gene_id", "gene_name"]], how="left"),
              smk.output.missing)


run(main, snakemake)  # noqa: F821
