"""Classifiers (comparison with DeLong CIs, panels, nested CV, external validation) and
survival models."""

from __future__ import annotations

from .. import html as h
from ..files import Results
from .common import best_classifier_line, pic, stage_section, trim_text


# ------------------------------------------------------------------------------ classifiers
def classify_section(res: Results, cfg: dict) -> h.Section:
    return stage_section(res, cfg, "classify", _classifiers)


def _classifiers(sec: h.Section, res: Results, block: dict) -> None:
    if res.has("classify/compare/auc.tsv"):
        auc = res.tsv("classify/compare/auc.tsv")
        sec.add("<h3>Comparison of algorithms (held-out test split)</h3>",
                h.para(best_classifier_line(res)), h.static_table(trim_text(auc)))
        n = int(auc["n_test"].iloc[0]) if "n_test" in auc else None
        if n is not None and n < 50:
            sec.add(h.caveat(f"The test split has {n} samples: AUCs of 1.0 and CIs of width 0 "
                             "are expected by chance at this size; the nested-CV AUC below "
                             "is the honest estimate."))
    if res.has("classify/compare/grouping.tsv"):
        sec.add("<h3>Test split by patient against one ignoring patients</h3>",
                h.para("A split that ignores patients puts repeat samples of one patient on "
                       "both sides: its AUC is leaky, shown only to measure the leak "
                       "(classify/compare/grouping.tsv)."),
                h.static_table(trim_text(res.tsv("classify/compare/grouping.tsv"))))
    sec.add(pic(res, "classify/compare/roc.png", "ROC curves on the held-out test split.",
                 "48%"))
    if res.has("classify/nested/summary.tsv"):
        sec.add("<h3>Nested cross-validation</h3>",
                h.static_table(trim_text(res.tsv("classify/nested/summary.tsv"))))
    if res.has("classify/panels/panels.tsv"):
        panels = res.tsv("classify/panels/panels.tsv")
        sec.add("<h3>Gene panels (XGBoost RFE)</h3>", h.static_table(trim_text(panels)))
        if "n_genes" in panels and (panels["n_genes"] <= 2).any():
            sec.add(h.caveat("Some panels have only 1-2 genes: their AUC rests on single "
                             "genes and is unlikely to hold in another cohort."))
    sec.add(pic(res, "classify/panels/rfe_curves.png", "RFE: CV AUC against panel size.",
                 "48%"),
            pic(res, "classify/panels/importance.png", "Gene importance in the panels.", "48%"),
            pic(res, "classify/panels/overlap.png", "Overlap of the panels' genes.", "48%"))
    for key in res.glob("classify/external/*/metrics.tsv"):
        name = key.split("/")[2]
        sec.add(f"<h3>External validation: {h.esc(name)}</h3>",
                h.static_table(trim_text(res.tsv(key))),
                pic(res, f"classify/external/{name}/roc.png", f"ROC in cohort {name}.",
                     "48%"))


# ------------------------------------------------------------------------------- survival
def survival_section(res: Results, cfg: dict) -> h.Section:
    return stage_section(res, cfg, "survival", _survival)


def _survival(sec: h.Section, res: Results, block: dict) -> None:
    for key, title in (("survival/cindex.tsv", "C-index"),
                       ("survival/cindex_tests.tsv", "C-index tests"),
                       ("survival/splits_tests.tsv", "Across train/test splits"),
                       ("survival/risk_group_summary.tsv", "Risk groups"),
                       ("survival/risk_group_tests.tsv", "Risk-group tests")):
        if res.has(key):
            t = res.tsv(key)
            for col in [c for c in t.columns if c.lower() in ("p", "pvalue", "p_value")]:
                t[col] = t[col].map(h.fmt_p)
            sec.add(f"<h3>{title}</h3>", h.static_table(trim_text(t)))
    sec.add(pic(res, "survival/km.png", "Kaplan-Meier curves of the risk groups.", "48%"),
            pic(res, "survival/td_auc.png", "Time-dependent AUC.", "48%"))
    for key in res.glob("*/survival/km.png"):
        sec.add(pic(res, key, f"External cohort: {key}.", "48%"))
    if res.has("survival/cindex.tsv"):
        ci = res.tsv("survival/cindex.tsv")
        if "events" in ci and (ci["events"] < 50).any():
            sec.add(h.caveat("Some C-indices rest on fewer than 50 events: wide intervals."))
