"""bloodsig.classify on small simulated data with known informative genes."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from bloodsig import classify
from bloodsig.errors import InputError

XGB = {"n_estimators": 20, "learning_rate": 0.3, "max_depth": 3, "reg_lambda": 3e-4,
       "reg_alpha": 3e-4}
SHEET = {"group_column": "group", "case": "ALS", "control": "control"}


def make_data(n=200, p=30, informative=4, seed=0):
    rng = np.random.default_rng(seed)
    y = pd.Series(rng.integers(0, 2, n), index=[f"S{i:03d}" for i in range(n)])
    x = rng.normal(size=(n, p))
    x[:, :informative] += 1.2 * y.to_numpy()[:, None]
    X = pd.DataFrame(x, index=y.index, columns=[f"G{j:02d}" for j in range(p)])
    return X, y


def test_rfe_schedule():
    assert classify.rfe_schedule(10, 0.5, 4) == [10, 5, 4, 3, 2, 1]
    sizes = classify.rfe_schedule(3640, 0.1, 200)
    assert sizes[:3] == [3640, 3276, 2948] and 200 in sizes and sizes[-1] == 1
    assert all(a - b == 1 for a, b in zip(sizes[sizes.index(200):], sizes[sizes.index(200) + 1:],
                                            strict=False))
    assert len(sizes) == 28 + 200


def test_rfe_ranks_informative_genes_first():
    X, y = make_data()
    res = classify.rfe(X, y, XGB, 0.3, 8, 3, seed=1)
    assert res.curve["n_genes"].tolist() == classify.rfe_schedule(30, 0.3, 8)
    assert sorted(res.rank) == list(range(1, 31))
    assert set(res.rank.nsmallest(4).index) == {"G00", "G01", "G02", "G03"}
    best = res.curve.set_index("n_genes")["mean_auc"]
    assert best[4] > best[30] and best[4] > 0.85
    # deterministic
    again = classify.rfe(X, y, XGB, 0.3, 8, 3, seed=1)
    pd.testing.assert_series_equal(res.rank, again.rank)


def test_knee():
    n = np.arange(1, 61)
    curve = pd.DataFrame({"n_genes": n[::-1], "mean_auc": (0.5 + 0.4 * (1 - np.exp(-n / 5)))[::-1]})
    k = classify.knee(curve)
    assert 8 <= k <= 20
    assert classify.knee(curve, max_genes=30) <= k
    flat = pd.DataFrame({"n_genes": [3, 2, 1], "mean_auc": [0.6, 0.7, 0.6]})
    assert classify.knee(flat) == 2  # no knee: highest AUC


def test_select_panels_and_ensemble():
    X, y = make_data(p=20)
    settings = {"xgboost": XGB, "rfe": {"drop_fraction": 0.3, "stepwise_below": 8,
                                        "cv_folds": 3, "knee_max_genes": 8}}
    sets = {"a": list(X.columns), "b": list(X.columns[::2])}
    panels = classify.select_panels(X, y, sets, settings, seed=2)
    assert set(panels.genes) == {"a", "b", "union"}
    assert set(panels.genes["union"]) == set(panels.genes["a"]) | set(panels.genes["b"])
    assert set(panels.genes["b"]) <= set(sets["b"])
    assert {"G00", "G01", "G02", "G03"} & set(panels.genes["a"])
    models = classify.fit_panel_models(X, y, panels.genes, XGB, seed=2)
    pred = classify.predict_panels(models, panels.genes, X)
    np.testing.assert_allclose(pred["ensemble"], (pred["a"] + pred["b"]) / 2)
    names = pd.Series({g: g.lower() for g in X.columns})
    curves, ranking, table = classify.panel_tables(panels, models, names)
    assert curves.groupby("filter")["knee"].sum().tolist() == [1, 1]
    assert table.groupby("panel")["importance"].sum().round(6).tolist() == [1.0, 1.0, 1.0]
    assert len(ranking) == 20 + 10


def test_nested_cv_is_not_more_optimistic_on_noise():
    """On pure noise, the in-sample panel AUC is inflated and the nested estimate is not."""
    X, y = make_data(n=120, p=40, informative=0, seed=3)
    settings = {"xgboost": XGB, "rfe": {"drop_fraction": 0.3, "stepwise_below": 10,
                                        "cv_folds": 3, "knee_max_genes": 10},
                "nested": {"outer_folds": 3}}
    sets = {"a": list(X.columns)}
    folds, oof = classify.nested_cv(X, y, sets, settings, seed=4)
    assert len(folds) == 3 * 3 and list(oof.index) == list(X.index)
    panels = classify.select_panels(X, y, sets, settings, seed=4)
    rfe_auc = panels.curves["a"].curve.set_index("n_genes")["mean_auc"][panels.knees["a"]]
    summary = classify.honest_summary(folds, oof, y, pd.Series({"a": rfe_auc}))
    row = summary.set_index("model").loc["a"]
    assert row["nested_pooled_auc"] < 0.62
    assert row["optimistic_cv_auc"] > row["nested_cv_auc"]


def test_penalised_logistic_all_penalties():
    X, y = make_data(n=200, p=30)
    for pen, alpha in [("ridge", 0.1), ("lasso", 0.05), ("elastic_net", 0.05), ("l1_2", 0.05),
                       ("scad", 0.05), ("mcp", 0.05)]:
        est = clone(classify.PenalisedLogistic(pen, alpha=alpha)).fit(X.to_numpy(), y.to_numpy())
        p = est.predict_proba(X.to_numpy())
        assert p.shape == (200, 2) and np.allclose(p.sum(axis=1), 1)
        assert roc_auc_score(y, p[:, 1]) > 0.85, pen
        top = set(np.argsort(-np.abs(est.coef_))[:4])
        assert top == {0, 1, 2, 3}, pen
        if pen != "ridge":
            assert (est.coef_[4:] == 0).mean() > 0.5, pen  # sparse


def test_compare_algorithms():
    X, y = make_data(n=200, p=20)
    settings = {"test_fraction": 0.3, "cv_folds": 3, "l1_ratio": 0.5, "scad_gamma": 3.7,
                "mcp_gamma": 3.0, "xgboost_max_depth": [2],
                "alphas": {k: [0.05] for k in ("ridge", "lasso", "elastic_net", "l1_2", "scad",
                                               "mcp")}}
    res = classify.compare_algorithms(X, y, settings, XGB, seed=5)
    t = res.table.set_index("algorithm")
    assert list(t.index) == list(classify.ALGORITHMS)
    assert t["best"].sum() == 1 and np.isnan(t.loc[t["best"], "delong_p_vs_best"]).all()
    assert (t["test_auc"] > 0.8).all() and (t["ci_low"] < t["test_auc"]).all()
    assert t["n_test"].iloc[0] == 60 and len(res.test_scores) == 60
    best = t.index[t["best"]][0]
    assert t.loc[best, "test_auc"] == t["test_auc"].max()
    assert set(res.roc["algorithm"]) == set(classify.ALGORITHMS)
    # saga's sample order is seeded: a threaded rerun gives the same scores to the bit
    again = classify.compare_algorithms(X, y, settings, XGB, seed=5, n_jobs=2)
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
    prep = {"min_count": 5, "min_samples": 10, "technical": ["batch", "library_type"]}
    X = classify.cohort_features(counts, samples, prep)
    assert "G1" not in X.columns and X.shape == (n, g - 1)
    np.testing.assert_allclose(X.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(ddof=1), 1, atol=1e-12)
    gap = X.loc[batch == "X2", "G0"].mean() - X.loc[batch == "X1", "G0"].mean()
    assert abs(gap) < 1e-10
    with pytest.raises(InputError, match="technical covariate"):
        classify.cohort_features(counts, samples, {**prep, "technical": ["site"]})


def test_score_cohort_missing_gene_policies():
    X, y = make_data(n=150, p=10)
    panels = {"a": ["G00", "G01", "G05"], "b": ["G02", "G03"], "union": ["G00", "G01", "G05",
                                                                       "G02", "G03"]}
    models = classify.fit_panel_models(X, y, panels, XGB, seed=0)
    target = X.drop(columns=["G01"])
    pred, missing = classify.score_cohort(target, models, panels, "refit", X, y, XGB, seed=0)
    assert missing.to_dict("list") == {"model": ["a", "union"], "gene_id": ["G01", "G01"]}
    refit = classify.xgb_classifier(XGB, 0).fit(X[["G00", "G05"]].to_numpy(), y.to_numpy())
    np.testing.assert_allclose(pred["a"], refit.predict_proba(target[["G00", "G05"]].to_numpy())
                               [:, 1], rtol=1e-6)
    full = classify.predict_panels(models, panels, X)
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


def test_labels_and_filters():
    samples = pd.DataFrame({"group": ["ALS", "control", "other"]}, index=["a", "b", "c"])
    with pytest.raises(InputError, match="'other' of sample 'c'"):
        classify.labels(samples, SHEET)
    assert classify.labels(samples.iloc[:2], SHEET).tolist() == [1, 0]
    tt = pd.DataFrame({"gene_id": ["g1", "g2", "g3"], "adj.P.Val": [0.001, 0.001, 0.5],
                       "logFC": [0.5, -0.05, 1.0], "AveExpr": [3.0, 1.0, 5.0]})
    assert classify.deg_filter(tt, {"fdr": 0.01}) == ["g1", "g2"]
    assert classify.deg_filter(tt, {"fdr": 0.01, "min_abs_logfc": 0.1}) == ["g1"]
    assert classify.deg_filter(tt, {"min_ave_expr": 2}) == ["g1", "g3"]
    with pytest.raises(InputError, match="keeps 1 gene"):
        classify.gene_sets(tt, {"x": {"fdr": 0.01, "min_abs_logfc": 0.1}}, pd.Index(["g1"]))


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
        classify.training_data(tt, residuals, samples, SHEET, {"f": {"fdr": 0.01}},
                               "samples.tsv")
    X, y, sets = classify.training_data(tt, residuals[["a", "b"]], samples, SHEET,
                                        {"f": {"fdr": 0.01}})
    assert sets == {"f": ["g1", "g2"]} and y.tolist() == [1, 0] and X.shape == (2, 2)
