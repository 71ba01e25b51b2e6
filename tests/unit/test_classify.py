"""bloodsig.classify on small simulated data with known informative genes."""

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from bloodsig.classify import algorithms, features, panel_selection
from bloodsig.classify import models as classify
from bloodsig.classify.algorithms import CompareSettings, XGBoostSettings
from bloodsig.classify.features import CaseControl, DEGFilter
from bloodsig.classify.panel_selection import RFESettings
from bloodsig.core.errors import InputError

XGB = XGBoostSettings.from_config({"n_estimators": 20, "learning_rate": 0.3, "max_depth": 3,
                                   "reg_lambda": 3e-4, "reg_alpha": 3e-4, "max_bin": 256})
SHEET = CaseControl.from_config({"group_column": "group", "case": "ALS", "control": "control",
                                 "other_groups": [], "patient_column": "patient_id"})
FDR = {"f": DEGFilter.from_config({"fdr": 0.01})}
KNEE = {"knee_sensitivity": 1.0, "knee_interp": "interp1d"}  # kneed's defaults


def make_data(n=200, p=30, informative=4, seed=0):
    rng = np.random.default_rng(seed)
    y = pd.Series(rng.integers(0, 2, n), index=[f"S{i:03d}" for i in range(n)])
    x = rng.normal(size=(n, p))
    x[:, :informative] += 1.2 * y.to_numpy()[:, None]
    X = pd.DataFrame(x, index=y.index, columns=[f"G{j:02d}" for j in range(p)])
    return X, y


def test_rfe_schedule():
    assert panel_selection.rfe_schedule(10, 0.5, 4) == [10, 5, 4, 3, 2, 1]
    sizes = panel_selection.rfe_schedule(3640, 0.1, 200)
    assert sizes[:3] == [3640, 3276, 2948] and 200 in sizes and sizes[-1] == 1
    assert all(a - b == 1 for a, b in zip(sizes[sizes.index(200):], sizes[sizes.index(200) + 1:],
                                            strict=False))
    assert len(sizes) == 28 + 200
    # the paper's: halves down to 100, then 10% steps (floor, at least one gene)
    sizes = panel_selection.rfe_schedule(2700, 0.5, 100, 0.1)
    assert sizes[:6] == [2700, 1350, 675, 337, 168, 100]
    assert sizes[6:12] == [90, 81, 73, 66, 60, 54]
    assert sizes[-19:] == [20, *range(18, 0, -1)]


def test_rfe_ranks_informative_genes_first():
    X, y = make_data()
    res = panel_selection.rfe(X, y, XGB, RFESettings(0.3, 8, 0.0, 3, None, **KNEE), seed=1)
    # the curve starts where the coarse steps (one ranking model, no CV) stop
    assert res.curve["n_genes"].tolist() == list(range(8, 0, -1))
    assert sorted(res.rank) == list(range(1, 31))
    assert set(res.rank.nsmallest(4).index) == {"G00", "G01", "G02", "G03"}
    best = res.curve.set_index("n_genes")["mean_auc"]
    assert best[4] > best[8] and best[4] > 0.85
    # deterministic
    again = panel_selection.rfe(X, y, XGB, RFESettings(0.3, 8, 0.0, 3, None, **KNEE), seed=1)
    pd.testing.assert_series_equal(res.rank, again.rank)


def knee_at(curve, max_genes=None, sensitivity=1.0, interp="interp1d"):
    return panel_selection.knee(curve, RFESettings(0.5, 100, 0.0, 10, max_genes, sensitivity,
                                                   interp))


def test_knee():
    n = np.arange(1, 61)
    curve = pd.DataFrame({"n_genes": n[::-1], "mean_auc": (0.5 + 0.4 * (1 - np.exp(-n / 5)))[::-1]})
    k = knee_at(curve)
    assert 8 <= k <= 20
    assert knee_at(curve, max_genes=30) <= k
    flat = pd.DataFrame({"n_genes": [3, 2, 1], "mean_auc": [0.6, 0.7, 0.6]})
    assert knee_at(flat) == 2  # no knee: highest AUC
    # a noisy dip at 2 genes: the raw curve's first knee would be 1 gene
    dip = curve.copy()
    dip.loc[dip["n_genes"] == 2, "mean_auc"] -= 0.12
    assert knee_at(dip) == k


def test_knee_with_the_studys_kneedle_settings():
    """find_knee_point_clean.ipynb: S=5 and a polynomial fit. On noisy CV AUCs, kneed's
    defaults stop at the first wiggle of the running maximum (too small a panel); the fit
    finds the smooth curve's knee, and so, more often than S=1, does S=5 on the points."""
    n = np.arange(1, 201)
    auc = 0.5 + 0.4 * (1 - np.exp(-n / 8))
    smooth = knee_at(pd.DataFrame({"n_genes": n, "mean_auc": auc}))
    assert 20 <= smooth <= 35
    found = {1: 0, 5: 0}  # noisy draws whose knee is not early, with S on the points
    for seed in range(6):
        noisy = pd.DataFrame({"n_genes": n, "mean_auc": auc + np.random.default_rng(seed).normal(
            0, 0.01, len(n))})
        for sensitivity in found:
            assert abs(knee_at(noisy, sensitivity=sensitivity, interp="polynomial")
                       - smooth) <= 3
            found[sensitivity] += knee_at(noisy, sensitivity=sensitivity) >= smooth - 3
    assert found[1] <= 1 and found[5] >= found[1] + 3


def test_select_panels_and_ensemble():
    X, y = make_data(p=20)
    settings = RFESettings(drop_fraction=0.3, curve_from=8, curve_drop_fraction=0.0, cv_folds=3,
                           knee_max_genes=8, **KNEE)
    sets = {"a": list(X.columns), "b": list(X.columns[::2])}
    panels = panel_selection.select_panels(X, y, sets, settings, XGB, seed=2)
    assert set(panels.genes) == {"a", "b", "union"}
    # a filter with the same genes as another gets the same search and panel
    same = panel_selection.select_panels(X, y, {**sets, "c": sets["a"]}, settings, XGB, seed=2)
    assert same.genes["c"] == same.genes["a"] == panels.genes["a"]
    pd.testing.assert_frame_equal(same.curves["c"].curve, panels.curves["a"].curve)
    assert set(panels.genes["union"]) == set(panels.genes["a"]) | set(panels.genes["b"])
    assert set(panels.genes["b"]) <= set(sets["b"])
    assert {"G00", "G01", "G02", "G03"} & set(panels.genes["a"])
    models = panel_selection.fit_panel_models(X, y, panels.genes, XGB, seed=2)
    pred = panel_selection.predict_panels(models, panels.genes, X)
    np.testing.assert_allclose(pred["ensemble"], (pred["a"] + pred["b"]) / 2)
    names = pd.Series({g: g.lower() for g in X.columns})
    curves, ranking, table = classify.panel_tables(panels, models, names)
    assert curves.groupby("filter")["knee"].sum().tolist() == [1, 1]
    assert table.groupby("panel")["importance"].sum().round(6).tolist() == [1.0, 1.0, 1.0]
    assert len(ranking) == 20 + 10


def test_nested_cv_is_not_more_optimistic_on_noise():
    """On pure noise, the in-sample panel AUC is inflated and the nested estimate is not."""
    X, y = make_data(n=120, p=40, informative=0, seed=3)
    settings = RFESettings(drop_fraction=0.3, curve_from=10, curve_drop_fraction=0.0, cv_folds=3,
                           knee_max_genes=10, **KNEE)
    sets = {"a": list(X.columns)}
    folds, oof = panel_selection.nested_cv(X, y, sets, 3, settings, XGB, seed=4)
    assert len(folds) == 3 * 3 and list(oof.index) == list(X.index)
    # the outer folds side by side give the same numbers
    folds2, oof2 = panel_selection.nested_cv(X, y, sets, 3, settings, XGB, seed=4, n_jobs=2)
    pd.testing.assert_frame_equal(folds, folds2)
    pd.testing.assert_frame_equal(oof, oof2)
    panels = panel_selection.select_panels(X, y, sets, settings, XGB, seed=4)
    rfe_auc = panels.curves["a"].curve.set_index("n_genes")["mean_auc"][panels.knees["a"]]
    summary = panel_selection.honest_summary(folds, oof, y, pd.Series({"a": rfe_auc}))
    row = summary.set_index("model").loc["a"]
    assert row["nested_pooled_auc"] < 0.62
    assert row["optimistic_cv_auc"] > row["nested_cv_auc"]


def test_lasso_reaches_the_optimum_of_its_objective():
    """liblinear's lasso (intercept scaled) meets the KKT conditions of mean log-loss +
    alpha * |w|_1 with an unpenalised intercept, on correlated genes."""
    rng = np.random.default_rng(5)
    factor = rng.normal(size=(300, 1))
    x = factor + 0.5 * rng.normal(size=(300, 40))
    y = (factor[:, 0] + rng.normal(size=300) > 0.3).astype(int)
    alpha = 0.02
    est = algorithms.PenalisedLogistic("lasso", alpha=alpha).fit(x, y)
    p = 1 / (1 + np.exp(-est.decision_function(x)))
    grad = x.T @ (p - y) / len(y)
    assert abs(np.mean(p - y)) <= alpha / 1e4 + 1e-7  # intercept: (nearly) unpenalised
    on = est.coef_ != 0
    assert on.sum() >= 2
    np.testing.assert_allclose(grad[on], -alpha * np.sign(est.coef_[on]), atol=1e-5)
    assert np.all(np.abs(grad[~on]) <= alpha + 1e-5)


def test_elastic_net_reaches_the_optimum_of_its_objective():
    """prox-Newton meets the KKT conditions of mean log-loss + alpha * (l1_ratio |w|_1 +
    (1 - l1_ratio) / 2 |w|_2^2) with an unpenalised intercept, on correlated genes, from a
    cold start and warm-started from another alpha's solution (a path in `_tune`)."""
    rng = np.random.default_rng(5)
    factor = rng.normal(size=(300, 1))
    x = factor + 0.5 * rng.normal(size=(300, 40))
    y = (factor[:, 0] + rng.normal(size=300) > 0.3).astype(int)
    alpha, ratio = 0.02, 0.3
    cold = algorithms.PenalisedLogistic("elastic_net", alpha=alpha, l1_ratio=ratio).fit(x, y)
    warm = algorithms.PenalisedLogistic("elastic_net", alpha=alpha, l1_ratio=ratio).fit(
        x, y, init=algorithms.PenalisedLogistic("elastic_net", alpha=0.1,
                                                l1_ratio=ratio).fit(x, y))
    for est in (cold, warm):
        p = 1 / (1 + np.exp(-est.decision_function(x)))
        grad = x.T @ (p - y) / len(y) + alpha * (1 - ratio) * est.coef_
        assert abs(np.mean(p - y)) <= 1e-7  # intercept unpenalised
        on = est.coef_ != 0
        assert 2 <= on.sum() < 40
        np.testing.assert_allclose(grad[on], -alpha * ratio * np.sign(est.coef_[on]), atol=1e-7)
        assert np.all(np.abs(grad[~on]) <= alpha * ratio + 1e-7)
    np.testing.assert_allclose(warm.coef_, cold.coef_, atol=1e-6)


def test_penalised_logistic_all_penalties():
    X, y = make_data(n=200, p=30)
    for pen, alpha in [("ridge", 0.1), ("lasso", 0.05), ("elastic_net", 0.05), ("l1_2", 0.05),
                       ("scad", 0.05), ("mcp", 0.05)]:
        est = clone(algorithms.PenalisedLogistic(pen, alpha=alpha)).fit(X.to_numpy(), y.to_numpy())
        p = est.predict_proba(X.to_numpy())
        assert p.shape == (200, 2) and np.allclose(p.sum(axis=1), 1)
        assert roc_auc_score(y, p[:, 1]) > 0.85, pen
        top = set(np.argsort(-np.abs(est.coef_))[:4])
        assert top == {0, 1, 2, 3}, pen
        if pen != "ridge":
            assert (est.coef_[4:] == 0).mean() > 0.5, pen  # sparse


def test_compare_algorithms():
    X, y = make_data(n=200, p=20)
    settings = dataclasses.replace(COMPARE, cv_folds=3)
    res = algorithms.compare_algorithms(X, y, settings, XGB, seed=5)
    t = res.table.set_index("algorithm")
    assert list(t.index) == list(algorithms.ALGORITHMS)
    assert t["best"].sum() == 1 and np.isnan(t.loc[t["best"], "delong_p_vs_best"]).all()
    assert (t["test_auc"] > 0.8).all() and (t["ci_low"] < t["test_auc"]).all()
    assert t["n_test"].iloc[0] == 60 and len(res.test_scores) == 60
    best = t.index[t["best"]][0]
    assert t.loc[best, "test_auc"] == t["test_auc"].max()
    assert set(res.roc["algorithm"]) == set(algorithms.ALGORITHMS)
    # liblinear's gene order is seeded: a threaded rerun gives the same scores to the bit
    again = algorithms.compare_algorithms(X, y, settings, XGB, seed=5, n_jobs=2)
    pd.testing.assert_frame_equal(again.test_scores, res.test_scores, check_exact=True)


def test_cohort_features_removes_batch_and_filters():
    rng = np.random.default_rng(6)
    n, g = 40, 50
    batch = np.repeat(["X1", "X2"], n // 2)
    mu = rng.uniform(20, 200, size=(g, 1)) * np.where(batch == "X2", 2.0, 1.0)[None, :]
    mu[0] *= np.where(batch == "X2", 3.0, 1.0)  # gene-specific batch effect
    counts = pd.DataFrame(rng.poisson(mu), index=[f"G{i}" for i in range(g)],
                          columns=[f"E{i}" for i in range(n)])
    counts.iloc[1] = 0  # too few counts: filtered
    samples = pd.DataFrame({"batch": batch, "library_type": "rRNA_depletion"},
                           index=counts.columns)
    external = classify.ExternalSettings(min_count=5, min_samples=10,
                                         technical=["batch", "library_type"],
                                         missing_genes="refit", threshold=0.5)
    prep = classify.preprocessing(external, XGB, 1, ["f"])
    assert classify.Preprocessing.from_json(prep.to_json()) == prep
    X = classify.cohort_features(counts, samples, prep)
    assert "G1" not in X.columns and X.shape == (n, g - 1)
    np.testing.assert_allclose(X.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(ddof=1), 1, atol=1e-12)
    gap = X.loc[batch == "X2", "G0"].mean() - X.loc[batch == "X1", "G0"].mean()
    assert abs(gap) < 1e-10
    with pytest.raises(InputError, match="technical covariate"):
        classify.cohort_features(counts, samples, dataclasses.replace(prep, technical=["site"]))


def test_score_cohort_missing_gene_policies():
    X, y = make_data(n=150, p=10)
    panels = {"a": ["G00", "G01", "G05"], "b": ["G02", "G03"], "union": ["G00", "G01", "G05",
                                                                       "G02", "G03"]}
    models = panel_selection.fit_panel_models(X, y, panels, XGB, seed=0)
    target = X.drop(columns=["G01"])
    pred, missing = classify.score_cohort(target, models, panels, "refit", X, y, XGB, seed=0)
    assert missing.to_dict("list") == {"model": ["a", "union"], "gene_id": ["G01", "G01"]}
    refit = algorithms.xgb_classifier(XGB, 0).fit(X[["G00", "G05"]].to_numpy(), y.to_numpy())
    np.testing.assert_allclose(pred["a"], refit.predict_proba(target[["G00", "G05"]].to_numpy())
                               [:, 1], rtol=1e-6)
    full = panel_selection.predict_panels(models, panels, X)
    np.testing.assert_allclose(pred["b"], full["b"], rtol=1e-6)  # complete: saved model
    nan_pred, _ = classify.score_cohort(target, models, panels, "missing", None, None, XGB, 0)
    x = X[["G00", "G01", "G05"]].to_numpy().copy()
    x[:, 1] = np.nan
    np.testing.assert_allclose(nan_pred["a"], models["a"].predict_proba(x)[:, 1], rtol=1e-6)
    np.testing.assert_allclose(nan_pred["ensemble"], (nan_pred["a"] + nan_pred["b"]) / 2)
    none, _ = classify.score_cohort(X[["G02", "G03"]], models, panels, "refit", X, y, XGB, 0)
    assert none["a"].isna().all() and none["b"].notna().all()
    with pytest.raises(InputError, match="none of the 5 panel genes") as err:
        classify.score_cohort(X[["G09"]], models, panels, "refit", X, y, XGB, 0, path="c.tsv")
    assert err.value.path == "c.tsv" and err.value.column == "gene_id"


def test_validation_metrics():
    y = pd.Series([1, 1, 1, 0, 0, 0, 0], index=list("abcdefg"))
    pred = pd.DataFrame({"m": [0.9, 0.6, 0.3, 0.4, 0.2, 0.1, 0.7]}, index=y.index)
    row = classify.validation_metrics(pred, y, 0.5).iloc[0]
    assert row["sensitivity"] == pytest.approx(2 / 3)
    assert row["specificity"] == pytest.approx(3 / 4)
    assert row["accuracy"] == pytest.approx(5 / 7)
    assert row["auc"] == pytest.approx(roc_auc_score(y, pred["m"]))


def test_labels_and_filters(caplog):
    samples = pd.DataFrame({"group": ["ALS", "control", "other"]}, index=["a", "b", "c"])
    with pytest.raises(InputError, match="'other' of sample 'c'"):
        features.labels(samples, SHEET)
    assert features.labels(samples.iloc[:2], SHEET).tolist() == [1, 0]
    # a listed other group is left out, with a log line, not refused
    with caplog.at_level("INFO"):
        y = features.labels(samples, dataclasses.replace(SHEET, other_groups=["other"]))
    assert y.to_dict() == {"a": 1, "b": 0} and "1 sample(s) of other groups" in caplog.text
    tt = pd.DataFrame({"gene_id": ["g1", "g2", "g3"], "adj.P.Val": [0.001, 0.001, 0.5],
                       "logFC": [0.5, -0.05, 1.0], "AveExpr": [3.0, 1.0, 5.0]})
    assert features.deg_filter(tt, FDR["f"]) == ["g1", "g2"]
    both = DEGFilter.from_config({"fdr": 0.01, "min_abs_logfc": 0.1})
    assert features.deg_filter(tt, both) == ["g1"]
    assert features.deg_filter(tt, DEGFilter.from_config({"min_ave_expr": 2})) == ["g1", "g3"]
    with pytest.raises(InputError, match=r"'x' \(fdr 0.01, min_abs_logfc 0.1\) keeps 1 gene"):
        features.gene_sets(tt, {"x": both}, pd.Index(["g1"]))


def test_figures():
    from bloodsig.plots import classify as plots

    roc = pd.DataFrame({"model": ["a", "a", "a", "b", "b"], "fpr": [0, 0.5, 1, 0, 1],
                        "tpr": [0, 1, 1, 0, 1]})
    fig = plots.roc_curves(roc, pd.Series({"a": 0.75, "b": 0.5}))
    assert {line.get_gid() for line in fig.axes[0].lines} >= {"a", "b"}
    curves = pd.DataFrame({"filter": ["f"] * 4, "n_genes": [8, 4, 2, 1],
                           "mean_auc": [0.9, 0.9, 0.85, 0.7], "sd_auc": [0.05] * 4})
    fig = plots.rfe_curves(curves, {"f": 2}, max_genes=4)
    knees = [c for c in fig.axes[1].collections if c.get_gid() == "knee_f"]
    assert knees[0].get_offsets().tolist() == [[2.0, 0.85]]
    table = pd.DataFrame({"panel": ["f", "f", "union"], "gene_name": ["A", "B", "A"],
                          "importance": [0.7, 0.3, 1.0]})
    assert len(plots.panel_importance(table).axes) == 2
    fig = plots.panel_overlap({"f": ["g1", "g2"], "h": ["g2"]}, pd.Series({"g1": "A"}))
    dots = [c for c in fig.axes[0].collections if c.get_gid() == "member"][0]
    assert len(dots.get_offsets()) == 3


def test_training_data_refuses_unknown_samples():
    residuals = pd.DataFrame(np.arange(6.0).reshape(2, 3), index=["g1", "g2"],
                             columns=["a", "b", "z"])
    samples = pd.DataFrame({"group": ["ALS", "control"]}, index=["a", "b"])
    tt = pd.DataFrame({"gene_id": ["g1", "g2"], "adj.P.Val": [0.001, 0.001],
                       "logFC": [0.5, -0.5], "AveExpr": [3.0, 1.0]})
    with pytest.raises(InputError, match="sample 'z' of the residual expression"):
        classify.training_data(tt, residuals, samples, SHEET, FDR, "samples.tsv")
    data = classify.training_data(tt, residuals[["a", "b"]], samples, SHEET, FDR)
    assert data.sets == {"f": ["g1", "g2"]} and data.y.tolist() == [1, 0]
    assert data.X.shape == (2, 2) and data.groups.tolist() == ["sample a", "sample b"]
    # other groups are dropped before standardising; the patient column gives the groups
    samples = pd.DataFrame({"group": ["ALS", "control", "MND"], "patient_id": ["p1", "p2", "p1"]},
                           index=["a", "b", "z"])
    sheet = dataclasses.replace(SHEET, other_groups=["MND"])
    data = classify.training_data(tt, residuals, samples, sheet, FDR)
    assert list(data.X.index) == ["a", "b"] and data.groups.tolist() == ["p1", "p2"]
    np.testing.assert_allclose(data.X.mean(), 0, atol=1e-12)


# ------------------------------------------------------------ patients and small cohorts

def make_repeats(n_patients=40, reps=3, p=5, seed=7):
    """Patients sequenced `reps` times: each patient has its own expression profile (repeat
    samples differ by a little noise) and a random label: nothing separates cases from
    controls, but a model that has seen a patient recognises its other samples."""
    rng = np.random.default_rng(seed)
    label = rng.permutation(np.arange(n_patients) < n_patients // 2).astype(int)
    pid = np.repeat(np.arange(n_patients), reps)
    x = rng.normal(size=(n_patients, p))[pid] + 0.1 * rng.normal(size=(len(pid), p))
    idx = [f"S{i:03d}" for i in range(len(pid))]
    X = pd.DataFrame(x, index=idx, columns=[f"G{j}" for j in range(p)])
    return X, pd.Series(label[pid], index=idx), pd.Series([f"P{i:02d}" for i in pid], index=idx)


def test_grouped_folds_keep_patients_together_and_are_seeded():
    X, y, g = make_repeats()
    # uneven repeats too: a few patients with 1 sample
    X, y, g = X.iloc[2:], y.iloc[2:], g.iloc[2:]
    splits = features.grouped_folds(y, g, 5, seed=3, stage="test")
    assert len(splits) == 5
    for tr, te in splits:
        assert not set(g.iloc[tr]) & set(g.iloc[te])   # no patient on both sides
        assert set(y.iloc[te]) == {0, 1}
    assert sorted(np.concatenate([te for _, te in splits])) == list(range(len(y)))
    again = features.grouped_folds(y, g, 5, seed=3, stage="test")
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again, strict=True))
    other = features.grouped_folds(y, g, 5, seed=4, stage="test")
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(splits, other, strict=True))
    # the ungrouped folds put repeat samples of a patient on both sides
    plain = features.grouped_folds(y, None, 5, seed=3, stage="test")
    assert any(set(g.iloc[tr]) & set(g.iloc[te]) for tr, te in plain)


def test_grouped_split_keeps_patients_on_one_side():
    X, y, g = make_repeats(n_patients=60)
    train, test = features.grouped_split(y, g, 0.3, seed=1)
    assert not set(g.iloc[train]) & set(g.iloc[test])
    assert len(test) == 18 * 3 and y.iloc[test].sum() == 9 * 3  # 30% of the patients, stratified
    # one sample per patient: exactly scikit-learn's stratified sample split
    from sklearn.model_selection import train_test_split
    X1, y1 = make_data(n=100)
    tr1, te1 = features.grouped_split(y1, None, 0.3, seed=2)
    ref_tr, ref_te = train_test_split(np.arange(100), test_size=0.3, stratify=y1, random_state=2)
    assert np.array_equal(te1, np.sort(ref_te)) and np.array_equal(tr1, np.sort(ref_tr))


def test_grouped_cv_removes_the_optimism_of_repeat_samples():
    """Planted repeats, no case-control signal: folds that split patients score ~0.9, folds
    by patient ~0.5 (the truth)."""
    X, y, g = make_repeats()
    panels = {"a": list(X.columns)}
    leaky = panel_selection.panel_cv_auc(X, y, panels, XGB, 5, seed=1).set_index("model")
    honest = panel_selection.panel_cv_auc(X, y, panels, XGB, 5, seed=1, groups=g).set_index("model")
    assert leaky.loc["a", "optimistic_cv_auc"] > 0.8
    assert abs(honest.loc["a", "optimistic_cv_auc"] - 0.5) < 0.15


COMPARE = CompareSettings.from_config({
    "filter": "f", "test_fraction": 0.3, "cv_folds": 10, "l1_ratio": 0.5, "scad_gamma": 3.7,
    "mcp_gamma": 3.0, "xgboost_max_depth": [2],
    "alphas": {k: [0.05] for k in ("ridge", "lasso", "elastic_net", "l1_2", "scad", "mcp")}})


def test_compare_reports_grouped_beside_ungrouped_split():
    X, y, g = make_repeats(n_patients=30)
    res = algorithms.compare_algorithms(X, y, dataclasses.replace(COMPARE, cv_folds=3), XGB,
                                        seed=2, groups=g)
    t = res.grouping.set_index("split")
    assert t.loc["by patient", "test_samples_with_patient_in_train"] == 0
    assert t.loc["ignoring patients", "test_samples_with_patient_in_train"] > 10
    assert (t["algorithm"] == res.table.loc[res.table["best"], "algorithm"].iloc[0]).all()
    assert t.loc["by patient", "test_auc"] == res.table["test_auc"].max()
    scores = res.test_scores
    assert not set(scores["patient"]) & set(g.drop(scores["sample_id"]))


def small_cohort(n_cases, n=30, p=12, seed=11):
    """n samples (one per patient), the first n_cases cases; genes G0-G2 carry the effect."""
    rng = np.random.default_rng(seed)
    y = pd.Series((np.arange(n) < n_cases).astype(int), index=[f"S{i:02d}" for i in range(n)])
    x = rng.normal(size=(n, p))
    x[:, :3] += 2.0 * y.to_numpy()[:, None]
    return pd.DataFrame(x, index=y.index, columns=[f"G{j}" for j in range(p)]), y


def test_small_cohort_adapts_folds_and_marks_caveats(caplog):
    X, y = small_cohort(n_cases=8)
    settings = RFESettings(drop_fraction=0.3, curve_from=4, curve_drop_fraction=0.0, cv_folds=10,
                           knee_max_genes=6, **KNEE)
    with caplog.at_level("WARNING"):
        res = panel_selection.rfe(X, y, XGB, settings, seed=1)
    assert "RFE: 8 folds instead of 10 (the smallest class has 8 patients)" in caplog.text
    assert res.curve["mean_auc"].iloc[0] > 0.8
    caplog.clear()
    with caplog.at_level("WARNING"):
        folds, oof = panel_selection.nested_cv(X, y, {"a": list(X.columns)}, 3, settings, XGB,
                                               seed=1)
    assert folds["fold"].nunique() == 3 and folds.groupby("fold")["n_test"].first().sum() == 30
    assert re.search(r"RFE inside outer fold 1 \(a\): [56] folds instead of 10", caplog.text)
    summary = panel_selection.honest_summary(folds, oof, y, pd.Series({"a": 0.9}))
    assert summary["model"].iloc[0] == "ensemble"          # the headline row
    assert list(summary.columns[:2]) == ["model", "nested_cv_auc"]
    assert summary["reliability"].str.startswith("unreliable: test n = 10 < 20").all()
    assert summary["n"].eq(30).all() and summary["n_cases"].eq(8).all()
    res = algorithms.compare_algorithms(X, y, COMPARE, XGB, seed=2)
    t = res.table
    assert t["n_test"].eq(9).all() and t["n_test_cases"].eq(2).all()
    assert t["reliability"].eq("unreliable: test n = 9 < 20").all()
    assert res.grouping["reliability"].eq("unreliable: test n = 9 < 20").all()
    # a 1-gene panel and an external set of 7 samples
    pred = pd.DataFrame({"m": [0.9, 0.6, 0.3, 0.4, 0.2, 0.1, 0.7]}, index=list("abcdefg"))
    ext = classify.validation_metrics(pred, pd.Series([1, 1, 1, 0, 0, 0, 0], index=pred.index),
                                      0.5, {"m": ["G0"]})
    assert ext["reliability"].iloc[0] == "unreliable: test n = 7 < 20, 1-gene panel"
    assert features.reliability(120, 2) == "unreliable: 2-gene panel"
    assert features.reliability(20, 3) == "ok"


def test_cohort_with_two_cases_is_refused_with_the_reason():
    X, y = small_cohort(n_cases=2)
    settings = RFESettings(drop_fraction=0.3, curve_from=4, curve_drop_fraction=0.0, cv_folds=5,
                           knee_max_genes=None, **KNEE)
    reason = (r"classify {}: 2 case and 28 control patient\(s\) \(2 case and 28 control "
              r"samples\); stratified cross-validation needs at least 3 patients of each class")
    with pytest.raises(InputError, match=reason.format("RFE")):
        panel_selection.rfe(X, y, XGB, settings, seed=1)
    with pytest.raises(InputError, match=reason.format(r"nested CV \(outer folds\)")):
        panel_selection.nested_cv(X, y, {"a": list(X.columns)}, 3, settings, XGB, seed=1)
    with pytest.raises(InputError, match="classify compare: 2 case and 28 control.*at least 4"):
        algorithms.compare_algorithms(X, y, COMPARE, XGB, seed=2)
    # 4 cases: the outer folds exist, but an outer training part keeps too few for RFE
    X, y = small_cohort(n_cases=4)
    with pytest.raises(InputError, match=r"RFE inside outer fold \d \(a\): [23] case"):
        panel_selection.nested_cv(X, y, {"a": list(X.columns)}, 3, settings, XGB, seed=1)


def test_external_metrics_leave_out_training_patients():
    sheet = SHEET.patient_column
    train = pd.DataFrame({"patient_id": ["P1", "P2", "P3"]}, index=["a", "b", "c"])
    target = pd.DataFrame({"patient_id": ["E1", "P2", None]}, index=["x", "y", "z"])
    assert classify.unseen_patients(target, train, sheet).tolist() == ["x", "z"]
    assert classify.unseen_patients(target, train.drop(columns="patient_id"), sheet).size == 3
    with pytest.raises(InputError, match="every sample's patient id is also a training"):
        classify.unseen_patients(target.iloc[1:2], train, sheet, path="ext.tsv")
