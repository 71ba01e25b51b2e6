"""What the report's sections share: the note of a stage that did not run, cut text, figures,
the n of each group and analysis, and the best classifier's line (headlines and classifiers)."""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import NamedTuple

import pandas as pd

from .. import html as h
from ..files import Results

# Text columns that list genes: cut in tables (the TSV keeps them whole).
LONG_TEXT = 80


class Opener(NamedTuple):
    """How a stage's section opens: its title and its settings sentence (`settings_sentence`
    syntax; fields are keys of the stage's config block, or what `derived` makes of it)."""
    title: str
    sentence: str
    derived: Callable[[dict], dict] | None = None


# The sections that open when their stage wrote anything under results/<cohort>/<stage>/.
OPENERS = {
    "cells": Opener("Cell composition", "Estimate used: {estimate}; a cell type is dropped "
                    "while its VIF exceeds {collinearity[max_vif]}."),
    "classify": Opener("Classifiers", "Genes of DE analysis {analysis} (filter "
                       "{compare[filter]}); held-out test part {compare[test_fraction]} of the "
                       "patients; nested CV with {nested[outer_folds]} outer folds; AUC "
                       "confidence intervals by DeLong."),
    "survival": Opener("Survival", "Cases with {time_column} ({time_unit}) and {event_column}; "
                       "clinical covariates {clinical}; log-rank screen P &lt; {logrank_p}; "
                       "{splits} train/test splits ({test_fraction} test); risk groups by "
                       "{risk_model} at quantiles {risk_quantiles}.",
                       lambda s: {"clinical": ", ".join(s["clinical"])}),
    "enrich": Opener("Pathways", "ORA of the up and down DEGs (universe: {universe}; sets of "
                     "{min_size}-{max_size} genes); significant: BH FDR &lt; {fdr:g}. Only "
                     "significant terms are listed."),
    "connectivity": Opener("Drug candidates", "Core genes: DEGs at FDR &lt; {fdr} and |logFC| "
                           "&gt; {min_abs_logfc} shared with the disease tissues; "
                           "{candidates[direction]} perturbagens with FDR q &lt; "
                           "{candidates[max_fdr]}, known mechanism required: "
                           "{candidates[require_moa]}; ranked by tau."),
    "subtypes": Opener("Immune subtypes", "Samples {subset}; k = {k}; {linkage} linkage on "
                       "correlation distance; DE of C1 against the others: padj &lt; {de[fdr]}, "
                       "|log2FC| &gt; {de[min_abs_log2fc]}.",
                       lambda s: {"subset": s["subset"] or "all"}),
}


class _EscapedFields(string.Formatter):
    """str.format whose fields' text is HTML-escaped (the template's own text is HTML)."""

    def format_field(self, value, format_spec: str) -> str:
        return h.esc(format(value, format_spec))


def settings_sentence(template: str, block: dict, **derived) -> str:
    """A section's settings paragraph: `template` in str.format syntax (`{fdr:g}`,
    `{candidates[max_fdr]}`) filled from a config block as the schema fills it and from
    `derived` values, each field escaped."""
    return h.settings(_EscapedFields().vformat(template, (), {**block, **derived}))


def absent(title: str, stage: str) -> h.Section:
    return h.Section(title, present=False,
                     absent_reason=f"Not run: stage {stage} is off in this run's config "
                                   f"(stages.{stage}), so this section is left out.")


def stage_section(res: Results, cfg: dict, stage: str,
                  fill: Callable[[h.Section, Results, dict], None]) -> h.Section:
    """The section of `stage` (OPENERS): its settings sentence, then what `fill` adds; or,
    when the stage wrote nothing, the note that it did not run."""
    opener = OPENERS[stage]
    if not res.any(f"{stage}/*"):
        return absent(opener.title, stage)
    block = cfg[stage]
    derived = opener.derived(block) if opener.derived else {}
    sec = h.Section(opener.title).add(settings_sentence(opener.sentence, block, **derived))
    fill(sec, res, block)
    return sec


def trim_text(df: pd.DataFrame, max_chars: int = LONG_TEXT) -> pd.DataFrame:
    """Text cells longer than `max_chars` cut with an ellipsis (gene lists of ORA/GSEA)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: v if not isinstance(v, str) or len(v) <= max_chars
                                    else v[:max_chars] + "…")
    return out


def pic(res: Results, key: str, caption: str, width: str | None = None) -> str:
    """The embedded PNG of results file `key` with its caption; nothing if it was not written."""
    return h.png(res.path(key), key, caption, width) if res.has(key) else ""


def table(res: Results, key: str, heading: str = "") -> str:
    """Results table `key` as a static table, under an <h3> `heading` when given; nothing if
    it was not written."""
    if not res.has(key):
        return ""
    return (f"<h3>{heading}</h3>" if heading else "") + h.static_table(res.tsv(key))


def n_groups(samples: pd.DataFrame, scfg: dict) -> str:
    col = scfg["group_column"]
    counts = samples[col].astype(str).value_counts()
    case, ctrl = scfg["case"], scfg["control"]
    parts = [f"{counts.get(case, 0)} {case}", f"{counts.get(ctrl, 0)} {ctrl}"]
    parts += [f"{n} {g}" for g, n in counts.items() if g not in (case, ctrl)]
    return f"n = {len(samples)} samples ({', '.join(parts)})"

def best_classifier_line(res: Results) -> str:
    auc = res.tsv("classify/compare/auc.tsv")
    best = auc[auc["best"].astype(str).str.lower() == "true"]
    if best.empty:
        return "Classifier comparison: no algorithm flagged best in compare/auc.tsv."
    b = best.iloc[0]
    return (f"Best classifier by the comparison's rule (compare/auc.tsv): "
            f"<b>{h.esc(b['algorithm'])}</b>, held-out test AUC {b['test_auc']:.3f} "
            f"[95% CI {b['ci_low']:.3f}, {b['ci_high']:.3f}] on n = {int(b['n_test'])} test "
            f"samples ({int(b['n_test_cases'])} cases, {int(b['n_test_controls'])} controls)"
            + (f"; {h.esc(b['reliability'])}" if isinstance(b.get("reliability"), str)
               and b["reliability"] else "") + ".")


def analysis_n(res: Results, analysis: str) -> str:
    key = f"de/{analysis}/covariates.tsv"
    return f"n = {len(res.tsv(key))} samples" if res.has(key) else "n not recorded"
