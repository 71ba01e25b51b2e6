"""What the report's sections share: the note of a stage that did not run, cut text, figures,
the n of each group and analysis, and the best classifier's line (headlines and classifiers)."""

from __future__ import annotations

import pandas as pd

from .. import html as h
from ..files import Results

# Text columns that list genes: cut in tables (the TSV keeps them whole).
LONG_TEXT = 80


def absent(title: str, stage: str) -> h.Section:
    return h.Section(title, present=False,
                     absent_reason=f"Not run: stage {stage} is off in this run's config "
                                   f"(stages.{stage}), so this section is left out.")


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
