"""The demo measured against the reference study: is the simulated cohort as hard as a real one?

Each statistic is computed from the pipeline's own outputs and set beside the study's value and
a band (resources/calibration.tsv: the study's bands for the paper-scale demo, wider ones for the
400-sample demo). Rows whose name starts with `truth_` measure the recovery of the demo's
planted truth instead (false discoveries, power, panel genes among the planted DEGs, the
C-index of the true risk), so that a loss of power shows even when the bands hold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..classify.panel_selection import UNION
from ..stats.discrimination import harrell_c
from ..stats.survival import km_median

COLUMNS = ["statistic", "description", "study", "low", "high", "value", "within_band"]
PENALISED = ("ridge", "lasso", "elastic_net", "l1_2", "scad", "mcp")
YEARS = {"days": 365.25, "weeks": 365.25 / 7, "months": 12.0, "years": 1.0}


def de_statistics(toptable: pd.DataFrame, fdr: float, min_abs_logfc: float) -> dict:
    """DEG share of the tested genes, share up and median |logFC| of the DEGs."""
    deg = toptable[(toptable["adj.P.Val"] < fdr) & (toptable["logFC"].abs() > min_abs_logfc)]
    return {"deg_fraction": len(deg) / len(toptable),
            "deg_up_fraction": float((deg["logFC"] > 0).mean()) if len(deg) else np.nan,
            "deg_median_abs_logfc": float(deg["logFC"].abs().median())}


def classify_statistics(auc: pd.DataFrame, panels: pd.DataFrame, performance: pd.DataFrame,
                        external: pd.DataFrame | None) -> dict:
    """Test AUCs of the algorithms (range, spread of the penalised ones), sizes of the filter
    panels, their optimistic in-sample CV AUC and their AUC on the validation cohort."""
    penalised = auc.loc[auc["algorithm"].isin(PENALISED), "test_auc"]
    sizes = panels[panels["panel"] != UNION].groupby("panel").size()
    filters = list(sizes.index)
    internal = performance.set_index("model").loc[filters, "optimistic_cv_auc"]
    out = {"classifier_auc_min": auc["test_auc"].min(), "classifier_auc_max": auc["test_auc"].max(),
           "penalised_auc_spread": penalised.max() - penalised.min(),
           "panel_genes_min": sizes.min(), "panel_genes_max": sizes.max(),
           "panel_auc_internal_min": internal.min(), "panel_auc_internal_max": internal.max()}
    if external is not None:
        ext = external.set_index("model").loc[filters, "auc"]
        out |= {"panel_auc_external_min": ext.min(), "panel_auc_external_max": ext.max()}
    return out


def survival_statistics(splits: pd.DataFrame, logrank: pd.DataFrame, cases: pd.DataFrame,
                        time_unit: str) -> dict:
    """Mean test C-index over the seeded splits of the clinical model and the gain of each gene
    model over it (variant "honest": genes chosen again on each training part; chosen once on
    all cases, the test parts have seen the selection), the log-rank screen's hit share and
    the cases' Kaplan-Meier median survival in years."""
    c = splits[(splits["variant"] == "honest") & (splits["metric"] == "c_index")]
    mean = c.groupby("model")["value"].mean()
    out = {"survival_c_clinical": mean["clinical"]}
    for model in mean.index.drop("clinical"):
        out[f"survival_c_gain_{model}"] = mean[model] - mean["clinical"]
    out["logrank_hit_fraction"] = float(logrank["selected"].mean())
    out["median_survival_years"] = km_median(cases["time"], cases["event"]) / YEARS[time_unit]
    return out


def truth_statistics(toptable: pd.DataFrame, planted: pd.DataFrame, fdr: float,
                     panels: pd.DataFrame | None, risk: pd.DataFrame | None,
                     cases: pd.DataFrame | None) -> dict:
    """Recovery of the planted truth: false discovery proportion and power at `fdr` (planted
    genes that were tested), share of the panels' genes that are planted DEGs, and the
    C-index of the cases' true log hazard (what no model of the stage can beat)."""
    called = set(toptable.loc[toptable["adj.P.Val"] < fdr, "gene_id"])
    truth = set(planted["gene_id"])
    tested = truth & set(toptable["gene_id"])
    out = {"truth_fdp": len(called - truth) / max(len(called), 1),
           "truth_power": len(called & tested) / max(len(tested), 1)}
    if panels is not None:
        genes = set(panels.loc[panels["panel"] == UNION, "gene_id"])
        out["truth_panel_planted_fraction"] = len(genes & truth) / max(len(genes), 1)
    if risk is not None and cases is not None:
        log_hazard = risk.set_index("sample_id")["log_hazard"].reindex(cases.index)
        out["truth_c_true_risk"] = harrell_c(cases["time"].to_numpy(float),
                                             cases["event"].to_numpy(int), log_hazard.to_numpy())
    return out


def calibration_table(values: dict, bands: pd.DataFrame, scale: str) -> pd.DataFrame:
    """One row per statistic of `bands` (statistic, description, study, <scale>_low,
    <scale>_high): its value here and whether it lies in the band (yes / no / not run)."""
    rows = []
    for _, b in bands.iterrows():
        value = values.get(b["statistic"], np.nan)
        low, high = float(b[f"{scale}_low"]), float(b[f"{scale}_high"])
        value = float(value) if value is not None else np.nan
        within = "not run" if np.isnan(value) else ("yes" if low <= value <= high else "no")
        rows.append((b["statistic"], b["description"], b["study"], low, high,
                     round(value, 4), within))
    return pd.DataFrame(rows, columns=COLUMNS)
