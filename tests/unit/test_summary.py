"""The landing page: headline rows picked from stage tables, escaped HTML, relative links."""

from __future__ import annotations

import pandas as pd

from bloodsig.plots.report import qpcr_scatter
from bloodsig.report import summary


def test_sections_and_page():
    nested = pd.DataFrame({"model": ["ensemble", "fdr"], "nested_cv_auc": [0.81, 0.83],
                           "nested_cv_sd": 0.05, "outer_folds": 3, "n_test_min": 10,
                           "nested_pooled_auc": 0.8, "pooled_ci_low": 0.6, "pooled_ci_high": 0.95,
                           "n": 30, "n_cases": 8, "n_controls": 22, "optimistic_cv_auc": 0.97,
                           "reliability": "unreliable: test n = 10 < 20"})
    auc = pd.DataFrame({"algorithm": ["ridge", "lasso"], "test_auc": [0.91, 0.95],
                        "ci_low": 0.8, "ci_high": 1.0, "best": ["False", "True"], "n_test": 9,
                        "n_test_cases": 2, "n_test_controls": 7,
                        "reliability": "unreliable: test n = 9 < 20"})
    grouping = pd.DataFrame({"split": ["by patient", "ignoring patients"],
                             "algorithm": "lasso", "test_auc": [0.95, 0.99], "ci_low": 0.8,
                             "ci_high": 1.0, "n_test": 9,
                             "test_samples_with_patient_in_train": [0, 3],
                             "reliability": "unreliable: test n = 9 < 20"})
    ext = pd.DataFrame({"model": ["fdr", "ensemble"], "auc": [0.7, 0.75], "ci_low": 0.6,
                        "ci_high": 0.9, "n": 100, "n_cases": 50, "n_controls": 50,
                        "reliability": "ok"})
    cls = summary.classifier_section(nested, auc, grouping, {}, ext, "ext").table
    assert cls["estimate"].iloc[0].startswith("nested CV")  # the honest estimate first
    assert cls["AUC"].tolist() == [0.81, 0.95, 0.99, 0.97, 0.75]
    assert cls["model"].tolist() == ["ensemble", "lasso", "lasso", "ensemble", "ensemble"]
    assert cls["n"].iloc[0] == "30 (8 cases, 22 controls); test folds of >= 10"
    assert cls["n"].iloc[1] == "9 (2 cases, 7 controls)"
    assert "3 with their patient in training" in cls["n"].iloc[2]
    assert cls["caveat"].iloc[0] == "unreliable: test n = 10 < 20"
    page = summary.summary_page("x", [summary.classifier_section(nested, auc, grouping, {})])
    assert "unreliable: test n = 9 &lt; 20" in page and "external" not in page
    ora = pd.DataFrame({"direction": ["up", "up", "down", "up"], "term": ["A", "B", "C", "D"],
                        "Count": [5, 6, 7, 8], "FDR": [0.01, 0.001, 0.02, 0.5]})
    terms = summary.pathway_section({"primary": ora}, {}, top=1).table
    assert terms[["direction", "term"]].values.tolist() == [["up", "B"], ["down", "C"]]  # by FDR
    degs = summary.deg_section({"primary": pd.DataFrame({"g": range(3)})},
                               {"primary": pd.DataFrame({"g": range(5)})}, {})
    assert degs.table.iloc[0].tolist() == ["primary", 3, 5]
    cands = pd.DataFrame({"pert_id": ["p1", "p2"], "pert_name": ["<drug>", "b"],
                          "moa": ["x", "y"], "ncs": [-1.5, -1.2], "tau": [-99.0, -95.0]})
    sec = summary.candidate_section({"core_primary": cands}, {"candidates": "a/b c.tsv"}, top=1)
    page = summary.summary_page("Demo", [degs, sec])
    assert "&lt;drug&gt;" in page and "<drug>" not in page
    assert '<a href="a/b c.tsv">candidates</a>' in page and "<h2>Differentially" in page
    qpcr = pd.DataFrame({"gene": ["A", "B"], "log2FC": [0.7, -0.2], "P.Value": [1e-5, 0.3],
                         "rnaseq_logFC": [0.8, 0.1]})
    rows = summary.qpcr_section(qpcr, {}).table
    assert rows["same direction"].tolist() == ["yes", "no"]
    assert rows.columns.tolist() == ["gene", "qPCR log2FC", "qPCR p", "RNA-seq logFC",
                                     "same direction"]


def test_qpcr_scatter():
    table = pd.DataFrame({"gene": ["A", "B", "C", "D"], "log2FC": [1.0, -0.5, 0.4, 0.2],
                          "ci_low": [0.8, -0.7, 0.2, 0.0], "ci_high": [1.2, -0.3, 0.6, 0.4],
                          "rnaseq_logFC": [0.9, -0.6, 0.5, None]})
    fig = qpcr_scatter(table)
    points = [c for c in fig.axes[0].collections if c.get_gid() == "genes"][0]
    assert len(points.get_offsets()) == 3
    assert "n=3 genes" in fig.axes[0].get_title()
