"""The landing page: headline rows picked from stage tables, escaped HTML, relative links."""

from __future__ import annotations

import pandas as pd

from bloodsig import summary
from bloodsig.plots.report import qpcr_scatter


def test_sections_and_page():
    auc = pd.DataFrame({"algorithm": ["ridge", "lasso", "xgboost", "mcp"],
                        "test_auc": [0.91, 0.95, 0.95, 0.80], "ci_low": 0.8, "ci_high": 1.0})
    best = summary.auc_section(auc, {}, top=2).table
    assert best["algorithm"].tolist() == ["lasso", "xgboost"]
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
