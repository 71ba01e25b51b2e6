"""The landing page results/summary.html: the study's headline numbers linking to the tables.

Each `*_section` function turns one stage's result table into a small frame of headline
rows; `summary_page` lays the sections out as one static HTML page (no scripts, no external
resources), with links relative to the page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Section:
    title: str
    table: pd.DataFrame
    links: dict[str, str] = field(default_factory=dict)  # label -> path relative to the page


def samples_section(counts: dict[str, pd.DataFrame], links: dict[str, str]) -> Section:
    """Samples kept by expression QC per cohort (sample tables, one row per sample)."""
    rows = pd.DataFrame({"cohort": list(counts), "samples kept": [len(d) for d in counts.values()]})
    return Section("Samples kept after expression QC", rows, links)


def deg_section(up: dict[str, pd.DataFrame], down: dict[str, pd.DataFrame],
                links: dict[str, str]) -> Section:
    """Up and down DEGs per DE analysis (the stage's degs_up/degs_down lists)."""
    rows = pd.DataFrame({"analysis": list(up), "up": [len(up[a]) for a in up],
                         "down": [len(down[a]) for a in up]})
    return Section("Differentially expressed genes", rows, links)


def _n(row) -> str:
    return f"{int(row['n'])} ({int(row['n_cases'])} cases, {int(row['n_controls'])} controls)"


def _ci(low, high) -> str:
    return f"95% CI {low:.3f}-{high:.3f}"


def classifier_section(nested: pd.DataFrame, compare: pd.DataFrame, grouping: pd.DataFrame,
                       links: dict[str, str], external: pd.DataFrame | None = None,
                       external_name: str = "external") -> Section:
    """The classifier estimates, the honest one first: the nested-CV AUC of the first row of
    classify/nested/summary.tsv (the ensemble), the held-out test AUC of the best algorithm
    (compare/auc.tsv) on the split by patient and on one ignoring patients
    (compare/grouping.tsv), the optimistic in-sample CV AUC and, if given, the external
    cohort's AUC (external/<cohort>/metrics.tsv) - each with its n and reliability note."""
    head = nested.iloc[0]
    best = compare[compare["best"].astype(str).str.lower() == "true"].iloc[0]
    grp = grouping.set_index("split")
    rows = [
        {"estimate": "nested CV (panel selection inside each outer fold)",
         "model": head["model"], "AUC": head["nested_cv_auc"],
         "spread": f"sd {head['nested_cv_sd']:.3f} over {int(head['outer_folds'])} outer folds; "
                   f"pooled {head['nested_pooled_auc']:.3f}, "
                   f"{_ci(head['pooled_ci_low'], head['pooled_ci_high'])}",
         "n": f"{_n(head)}; test folds of >= {int(head['n_test_min'])}",
         "caveat": head["reliability"]},
        {"estimate": "held-out test split, by patient", "model": best["algorithm"],
         "AUC": best["test_auc"], "spread": _ci(best["ci_low"], best["ci_high"]),
         "n": f"{int(best['n_test'])} ({int(best['n_test_cases'])} cases, "
              f"{int(best['n_test_controls'])} controls)",
         "caveat": best["reliability"]},
    ]
    if "ignoring patients" in grp.index:
        leak = grp.loc["ignoring patients"]
        rows.append({"estimate": "held-out test split ignoring patients (leaky)",
                     "model": leak["algorithm"], "AUC": leak["test_auc"],
                     "spread": _ci(leak["ci_low"], leak["ci_high"]),
                     "n": f"{int(leak['n_test'])}; "
                          f"{int(leak['test_samples_with_patient_in_train'])} with their "
                          "patient in training",
                     "caveat": leak["reliability"]})
    rows.append({"estimate": "in-sample CV (optimistic: panels chosen on these samples)",
                 "model": head["model"], "AUC": head["optimistic_cv_auc"], "spread": "",
                 "n": _n(head), "caveat": ""})
    if external is not None and not external.empty:
        ext = external.set_index("model")
        ext = ext.loc[head["model"]] if head["model"] in ext.index else ext.iloc[0]
        rows.append({"estimate": f"external cohort {external_name}", "model": ext.name,
                     "AUC": ext["auc"], "spread": _ci(ext["ci_low"], ext["ci_high"]),
                     "n": _n(ext), "caveat": ext["reliability"]})
    table = pd.DataFrame(rows)
    table["AUC"] = table["AUC"].astype(float).round(3)
    return Section("Best classifiers (honest nested-CV AUC first)", table, links)


def cindex_section(cindex: pd.DataFrame, links: dict[str, str]) -> Section:
    """C-index of every survival model and cohort (survival/cindex.tsv)."""
    return Section("Survival models (C-index)",
                   cindex[["cohort", "model", "n", "events", "c_index", "ci_lower", "ci_upper"]]
                   .round(3), links)


def pathway_section(ora: dict[str, pd.DataFrame], links: dict[str, str], top: int = 5) -> Section:
    """The terms of smallest FDR per direction in each ORA table (enrich/*/ora_*.tsv)."""
    parts = []
    for name, df in ora.items():
        best = df.sort_values(["FDR", "term"]).groupby("direction", sort=True).head(top)
        parts.append(best.assign(analysis=name)[["analysis", "direction", "term", "Count", "FDR"]])
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return Section("Top pathways (over-representation)", rows, links)


def candidate_section(candidates: dict[str, pd.DataFrame], links: dict[str, str],
                      top: int = 5) -> Section:
    """The first drug candidates of each connectivity query (already ranked by the stage)."""
    parts = []
    for name, df in candidates.items():
        cols = [c for c in ("pert_name", "pert_id", "moa", "ncs", "tau") if c in df.columns]
        parts.append(df.head(top)[cols].assign(query=name))
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if not rows.empty:
        rows = rows[["query", *[c for c in rows.columns if c != "query"]]].round(3)
    return Section("Drug candidates (connectivity)", rows, links)


def qpcr_section(qpcr: pd.DataFrame, links: dict[str, str]) -> Section:
    """qPCR fold changes (delta-delta-Ct) beside the RNA-seq logFC, and whether the two agree
    in direction (report/qpcr.tsv)."""
    rows = qpcr[["gene", "log2FC", "P.Value", "rnaseq_logFC"]].rename(columns={
        "log2FC": "qPCR log2FC", "P.Value": "qPCR p", "rnaseq_logFC": "RNA-seq logFC"})
    same = np.sign(rows["qPCR log2FC"]) == np.sign(rows["RNA-seq logFC"])
    rows = rows.assign(**{"same direction": same.map({True: "yes", False: "no"})})
    return Section("qPCR validation", rows.round(3), links)


def summary_page(title: str, sections: list[Section]) -> str:
    """One static HTML page of the sections (tables escaped; links relative)."""
    parts = [f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
             "</title><style>body{font-family:sans-serif;max-width:60em;margin:auto}"
             "table{border-collapse:collapse}td,th{border-bottom:1px solid #ccc;"
             "padding:2px 8px;text-align:left}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for sec in sections:
        parts.append(f"<h2>{html.escape(sec.title)}</h2>")
        if sec.table.empty:
            parts.append("<p>None.</p>")
        else:
            parts.append(sec.table.to_html(index=False, border=0, na_rep="", escape=True))
        if sec.links:
            parts.append("<p>Tables: " + ", ".join(
                f"<a href=\"{html.escape(path)}\">{html.escape(label)}</a>"
                for label, path in sec.links.items()) + "</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
