"""The cohort table (a study's Table 1): cases against controls, variable by variable.

Continuous variables: median (25th, 75th percentile) per group and the two-sided Wilcoxon
rank-sum test (Mann-Whitney U; scipy's `mannwhitneyu`, exact for small samples without ties,
else the normal approximation with tie and continuity correction, as R's `wilcox.test`).
Categorical variables: n (%) per level (percent of the group's samples) and Pearson's
chi-squared test of the known levels by group, without Yates' continuity correction (R's
`chisq.test(correct = FALSE)`). Missing values are counted in an "Unknown" row and left out of
the tests. Case-only variables (e.g. ALSFRS-R) are summarised among cases without a test.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from scipy import stats

from .errors import InputError

COLUMNS = ["variable", "level", "case", "control", "p_value", "test"]
UNKNOWN = "Unknown"


def _median_iqr(values: pd.Series) -> str:
    if values.empty:
        return ""
    q1, med, q3 = np.quantile(values.to_numpy(float), [0.25, 0.5, 0.75])
    return f"{med:.1f} ({q1:.1f}, {q3:.1f})"


def _n_pct(n: int, total: int) -> str:
    return f"{n} ({100 * n / total:.1f}%)" if total else "0"


def _numeric(samples: pd.DataFrame, column: str, path) -> pd.Series:
    values = pd.to_numeric(samples[column], errors="coerce")
    bad = values.isna() & samples[column].notna()
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"'{samples[column].iloc[i]}' is not a number (continuous variable)",
                         path=path, row=i + 2, column=column)
    return values


def _continuous(name, values, is_case, is_control, tested: bool) -> list[dict]:
    case, ctrl = values[is_case].dropna(), values[is_control].dropna()
    p, test = np.nan, ""
    if tested and len(case) and len(ctrl):
        p = float(stats.mannwhitneyu(case, ctrl, alternative="two-sided").pvalue)
        test = "Wilcoxon rank-sum"
    rows = [{"variable": name, "level": "median (IQR)", "case": _median_iqr(case),
             "control": _median_iqr(ctrl) if tested else "", "p_value": p, "test": test}]
    n_case, n_ctrl = int(values[is_case].isna().sum()), int(values[is_control].isna().sum())
    if n_case or (tested and n_ctrl):
        rows.append({"variable": name, "level": UNKNOWN,
                     "case": _n_pct(n_case, int(is_case.sum())),
                     "control": _n_pct(n_ctrl, int(is_control.sum())) if tested else "",
                     "p_value": np.nan, "test": ""})
    return rows


def _categorical(name, values, is_case, is_control, tested: bool) -> list[dict]:
    known = values.dropna().astype(str)
    levels = sorted(known.unique())
    counts = pd.crosstab(known, is_case[known.index]).reindex(index=levels, columns=[True, False],
                                                              fill_value=0)
    if not tested:
        counts[False] = 0
    p, test = np.nan, ""
    table = counts.to_numpy()
    table = table[table.sum(axis=1) > 0]
    if tested and table.shape[0] > 1 and (table.sum(axis=0) > 0).all():
        p = float(stats.chi2_contingency(table, correction=False).pvalue)
        test = "Pearson chi-squared"
    n_case, n_ctrl = int(is_case.sum()), int(is_control.sum())
    rows = [{"variable": name, "level": level, "case": _n_pct(int(counts.at[level, True]), n_case),
             "control": _n_pct(int(counts.at[level, False]), n_ctrl) if tested else "",
             "p_value": p if i == 0 else np.nan, "test": test if i == 0 else ""}
            for i, level in enumerate(levels)]
    miss_case = int(values[is_case].isna().sum())
    miss_ctrl = int(values[is_control].isna().sum())
    if miss_case or (tested and miss_ctrl):
        rows.append({"variable": name, "level": UNKNOWN, "case": _n_pct(miss_case, n_case),
                     "control": _n_pct(miss_ctrl, n_ctrl) if tested else "",
                     "p_value": np.nan, "test": ""})
    return rows


def cohort_table(samples: pd.DataFrame, group_column: str, case: str, control: str,
                 variables: dict, path=None) -> pd.DataFrame:
    """Table 1 of the cases and controls of `samples` (other groups are left out).

    variables: {"continuous": [...], "categorical": [...], "case_continuous": [...],
    "case_categorical": [...]} (sample-sheet columns; the case_ ones are summarised among cases
    only, without a test). Returns COLUMNS, with an "n" row first; p_value on the first row of
    each tested variable.
    """
    wanted = [c for kind in ("continuous", "categorical", "case_continuous", "case_categorical")
              for c in variables.get(kind, [])]
    for column in [group_column, *wanted]:
        if column not in samples.columns:
            raise InputError("the cohort table's column is not in the sample sheet", path=path,
                             column=column)
    samples = samples[samples[group_column].isin([case, control])].reset_index(drop=True)
    is_case = samples[group_column].eq(case)
    is_control = samples[group_column].eq(control)
    rows = [{"variable": "n", "level": "", "case": str(int(is_case.sum())),
             "control": str(int(is_control.sum())), "p_value": np.nan, "test": ""}]
    for kind in ("continuous", "categorical", "case_continuous", "case_categorical"):
        tested = not kind.startswith("case_")
        for column in variables.get(kind, []):
            if kind.endswith("continuous"):
                values = _numeric(samples, column, path)
                rows += _continuous(column, values, is_case, is_control, tested)
            else:
                rows += _categorical(column, samples[column], is_case, is_control, tested)
    return pd.DataFrame(rows, columns=COLUMNS)


def to_html(table: pd.DataFrame, case: str, control: str) -> str:
    """A standalone HTML page of the cohort table (p-values to 3 significant digits)."""
    n = table.set_index("variable").loc["n"]
    head = (f"<tr><th>Variable</th><th></th><th>{html.escape(case)} (n={n['case']})</th>"
            f"<th>{html.escape(control)} (n={n['control']})</th><th>p</th><th>Test</th></tr>")
    body = []
    for row in table.iloc[1:].itertuples(index=False):
        p = "" if pd.isna(row.p_value) else f"{row.p_value:.3g}"
        cells = [row.variable, row.level, row.case, row.control, p, row.test]
        body.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Cohort table</title>"
            "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
            "td,th{border-bottom:1px solid #ccc;padding:3px 8px;text-align:left}</style>"
            "</head><body>\n<h1>Cohort characteristics</h1>\n<table>\n" + head + "\n"
            + "\n".join(body) + "\n</table>\n<p>Continuous: median (25%, 75%), two-sided Wilcoxon "
            "rank-sum test; categorical: n (%), Pearson's chi-squared test (no continuity "
            "correction); Unknown rows count missing values and are not tested.</p>\n"
            "</body></html>\n")
