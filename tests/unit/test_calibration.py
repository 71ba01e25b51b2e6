"""The calibration table: each statistic from hand-made tables with known answers."""

import numpy as np
import pandas as pd
import pytest

from bloodsig.report import calibration as cal


def _toptable():
    # 10 genes: 4 DEGs (3 up), one significant but below the logFC cut, five null
    return pd.DataFrame({
        "gene_id": [f"G{i}" for i in range(10)],
        "logFC": [0.5, 0.2, 0.3, -0.4, 0.05, 0, 0, 0, 0, 0],
        "adj.P.Val": [0.001, 0.005, 0.0001, 0.002, 0.001, 0.5, 0.6, 0.7, 0.8, 0.9]})


def test_de_statistics():
    out = cal.de_statistics(_toptable(), fdr=0.01, min_abs_logfc=0.1)
    assert out == pytest.approx({"deg_fraction": 0.4, "deg_up_fraction": 0.75,
                                 "deg_median_abs_logfc": 0.35})


def test_classify_statistics():
    auc = pd.DataFrame({"algorithm": ["ridge", "lasso", "elastic_net", "xgboost"],
                        "test_auc": [0.84, 0.85, 0.87, 0.91]})
    panels = pd.DataFrame({"panel": ["a"] * 3 + ["b"] * 5 + ["union"] * 6,
                           "gene_id": [f"G{i}" for i in range(14)]})
    perf = pd.DataFrame({"model": ["a", "b", "union", "ensemble"],
                         "optimistic_cv_auc": [0.95, 0.97, 0.99, 0.99]})
    ext = pd.DataFrame({"model": ["a", "b", "ensemble"], "auc": [0.8, 0.9, 0.99]})
    out = cal.classify_statistics(auc, panels, perf, ext)
    assert out == pytest.approx({
        "classifier_auc_min": 0.84, "classifier_auc_max": 0.91, "penalised_auc_spread": 0.03,
        "panel_genes_min": 3, "panel_genes_max": 5, "panel_auc_internal_min": 0.95,
        "panel_auc_internal_max": 0.97, "panel_auc_external_min": 0.8,
        "panel_auc_external_max": 0.9})
    assert "panel_auc_external_min" not in cal.classify_statistics(auc, panels, perf, None)


def test_survival_statistics():
    splits = pd.DataFrame({
        "variant": ["honest"] * 4 + ["fixed"] * 2 + ["honest"],
        "split": [1, 2, 1, 2, 1, 2, 1],
        "model": ["clinical", "clinical", "xgboost", "xgboost", "clinical", "xgboost", "clinical"],
        "metric": ["c_index"] * 6 + ["auc"],
        "value": [0.6, 0.7, 0.7, 0.72, 0.1, 0.1, 0.1]})
    logrank = pd.DataFrame({"selected": [True, False, False, False]})
    # deaths at 12, 24, 36 months of 4 cases (one censored at 40): S = 0.5 from 24 to 36, so
    # the median is their midpoint, 30 months (R's survfit rule)
    cases = pd.DataFrame({"time": [12, 24, 36, 40], "event": [1, 1, 1, 0]})
    out = cal.survival_statistics(splits, logrank, cases, "months")
    assert out == pytest.approx({"survival_c_clinical": 0.65, "survival_c_gain_xgboost": 0.06,
                                 "logrank_hit_fraction": 0.25, "median_survival_years": 2.5})


def test_truth_statistics():
    planted = pd.DataFrame({"gene_id": ["G0", "G1", "G3", "G7", "G99"]})  # G99 not tested
    panels = pd.DataFrame({"panel": ["union"] * 4, "gene_id": ["G0", "G1", "G2", "G3"]})
    cases = pd.DataFrame({"time": [5.0, 10, 15, 20], "event": [1, 1, 1, 1]},
                         index=["S1", "S2", "S3", "S4"])
    risk = pd.DataFrame({"sample_id": ["S4", "S3", "S2", "S1"], "log_hazard": [1, 2, 3, 4]})
    out = cal.truth_statistics(_toptable(), planted, 0.01, panels, risk, cases)
    # called G0-G4 (adj.P < 0.01): G2 and G4 false; planted tested G0 G1 G3 G7: 3 found
    assert out == pytest.approx({"truth_fdp": 0.4, "truth_power": 0.75,
                                 "truth_panel_planted_fraction": 0.75,
                                 "truth_c_true_risk": 1.0})


def test_calibration_table_bands_and_missing():
    bands = pd.DataFrame({"statistic": ["a", "b", "c"], "description": ["A", "B", "C"],
                          "study": ["1", "2", "3"], "paper_low": [0, 0, 0],
                          "paper_high": [1, 1, 1], "demo_low": [0.5, 0, 0],
                          "demo_high": [1, 0.1, 1]})
    table = cal.calibration_table({"a": 0.4, "b": 0.05}, bands, "demo")
    assert table.columns.tolist() == cal.COLUMNS
    assert table["within_band"].tolist() == ["no", "yes", "not run"]
    assert table["low"].tolist() == [0.5, 0, 0]
    assert np.isnan(table["value"].iloc[2])
    assert cal.calibration_table({"a": 0.4}, bands, "paper")["within_band"].iloc[0] == "yes"
