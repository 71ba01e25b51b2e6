"""Demo run, stage classify: panels recover planted DE genes; the internal test, nested-CV,
in-sample and external AUCs are reported; saved models reproduce the predictions; the demo's
repeat samples of a patient never straddle a split, and the ungrouped AUC sits beside."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow


def read(demo, path, **kw):
    return pd.read_csv(demo / path, sep="\t", **kw)


@pytest.fixture(scope="module")
def cfg(demo):
    return yaml.safe_load((demo / "config/config.yaml").read_text())["classify"]


def test_panels_recover_planted_de_genes(demo, cfg):
    truth = set(read(demo, "results/demo/truth/de_genes.tsv")["gene_id"])
    panels = read(demo, "results/discovery/classify/panels/panels.tsv")
    assert set(panels["panel"]) == set(cfg["filters"]) | {"union"}
    for name, grp in panels.groupby("panel"):
        assert 1 <= len(grp) <= (cfg["rfe"]["knee_max_genes"] or len(grp)) * (
            len(cfg["filters"]) if name == "union" else 1)
        assert grp["gene_id"].isin(truth).mean() >= 0.9, name
    # the RFE ranking puts planted genes first: its top 20 per filter are all planted
    ranking = read(demo, "results/discovery/classify/panels/rfe_ranking.tsv")
    top = ranking[ranking["rank"] <= 20]
    assert top["gene_id"].isin(truth).mean() >= 0.95
    curves = read(demo, "results/discovery/classify/panels/rfe_curves.tsv")
    assert curves.groupby("filter")["knee"].sum().eq(1).all()


def test_internal_comparison_reported(demo):
    auc = read(demo, "results/discovery/classify/compare/auc.tsv")
    assert len(auc) == 7 and auc["best"].sum() == 1
    assert (auc["ci_low"] <= auc["test_auc"]).all() and (auc["test_auc"] <= auc["ci_high"]).all()
    assert auc["test_auc"].max() > 0.9  # planted effects are strong
    others = auc[~auc["best"]]
    assert others["delong_p_vs_best"].between(0, 1).all()
    assert (demo / "results/discovery/classify/compare/roc.png").stat().st_size > 10_000


def test_nested_beside_optimistic(demo, cfg):
    raw = read(demo, "results/discovery/classify/nested/summary.tsv")
    assert raw["model"].iloc[0] == "ensemble" and raw.columns[1] == "nested_cv_auc"  # headline
    s = raw.set_index("model")
    assert set(s.index) == set(cfg["filters"]) | {"union", "ensemble"}
    assert (s["reliability"] == "ok").all() and (s["n_test_min"] >= 20).all()
    assert s[["optimistic_cv_auc", "nested_cv_auc", "nested_pooled_auc"]].notna().all().all()
    assert (s["nested_cv_auc"] > 0.7).all()  # the calibrated demo: honest AUCs near 0.8
    folds = read(demo, "results/discovery/classify/nested/folds.tsv")
    assert folds["fold"].nunique() == cfg["nested"]["outer_folds"]


def test_external_validation_and_saved_models(demo, cfg):
    ext = cfg["external_cohort"]
    m = read(demo, f"results/discovery/classify/external/{ext}/metrics.tsv").set_index("model")
    assert set(m.index) == set(cfg["filters"]) | {"union", "ensemble"}
    assert m.loc["ensemble", "auc"] > 0.75
    assert m[["sensitivity", "specificity", "accuracy"]].stack().between(0, 1).all()
    n = m.loc["ensemble", "n"]
    assert m["reliability"].eq("ok" if n >= 20 else f"unreliable: test n = {n} < 20").all()
    pred = read(demo, f"results/discovery/classify/predict/{ext}/predictions.tsv",
                dtype={"sample_id": str})
    samples = read(demo, f"results/{ext}/counts/samples.tsv", dtype={"sample_id": str})
    assert sorted(pred["sample_id"]) == sorted(samples["sample_id"])
    prep = json.loads((demo / "results/discovery/classify/models/preprocessing.json").read_text())
    assert prep["ensemble"] == list(cfg["filters"])
    # the saved JSON models reproduce the predictions of models without missing genes
    import sys
    sys.path.insert(0, str(demo / "scripts"))
    from bloodsig.classify import models as classify
    from bloodsig.core.io import read_counts

    missing = read(demo, f"results/discovery/classify/predict/{ext}/missing_genes.tsv")
    genes = read(demo, "results/discovery/classify/models/genes.tsv")
    saved = classify.read_preprocessing(demo / "results/discovery/classify/models/"
                                        "preprocessing.json")
    target = classify.cohort_features(read_counts(demo / f"results/{ext}/counts/counts.tsv"),
                                      samples.set_index("sample_id"), saved)
    complete = [n for n in genes["model"].unique() if n not in set(missing["model"])]
    for name in complete:
        model = classify.load_model(demo / f"results/discovery/classify/models/{name}.json")
        g = genes[genes["model"] == name].sort_values("position")["gene_id"]
        p = model.predict_proba(target.loc[pred["sample_id"], g].to_numpy())[:, 1]
        np.testing.assert_allclose(p, pred[name], atol=1e-9)


def test_splits_keep_a_patients_samples_together(demo):
    """The demo plants repeat samples of a few patients: none of them straddles the test
    split, an outer fold of the nested CV, and the ungrouped AUC is reported beside."""
    sheet = yaml.safe_load((demo / "config/config.yaml").read_text())["samples"]
    samples = read(demo, "results/discovery/expression_qc/samples.tsv", dtype={"sample_id": str})
    samples = samples[samples["group"].isin([sheet["case"], sheet["control"]])]
    repeats = samples[samples["patient_id"].duplicated(keep=False)]
    assert repeats["patient_id"].nunique() >= 2
    scores = read(demo, "results/discovery/classify/compare/test_scores.tsv",
                  dtype={"sample_id": str})
    in_test = samples["patient_id"].isin(scores["patient"])
    assert set(samples.loc[in_test, "sample_id"]) == set(scores["sample_id"])
    oof = read(demo, "results/discovery/classify/nested/out_of_fold.tsv")
    assert oof.groupby("patient")["fold"].nunique().max() == 1
    grouping = read(demo, "results/discovery/classify/compare/grouping.tsv").set_index("split")
    assert grouping.loc["by patient", "test_samples_with_patient_in_train"] == 0
    auc = read(demo, "results/discovery/classify/compare/auc.tsv")
    assert grouping.loc["by patient", "test_auc"] == auc["test_auc"].max()
    assert grouping.loc["ignoring patients", "test_auc"] > 0.9
    assert (auc["reliability"] == "ok").all()
    page = (demo / "results/report.html").read_text()
    assert "<h3>Nested cross-validation</h3>" in page
    assert "<h3>Test split by patient against one ignoring patients</h3>" in page
