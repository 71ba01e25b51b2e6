"""Confounding diagnostics: how strongly each technical or model covariate tracks the tested
variable, before any model is fitted.

A group tested for differential expression must vary independently of the covariates the
analysis has to correct for (sequencing run, library preparation, age, ...). When a batch
holds nearly all cases, its effect and the group effect cannot be told apart: the DE table
then measures the batch as much as the disease. Strength is on one scale for every pair:

- factor covariate, factor group: Cramér's V = sqrt(chi2 / (n (min(r, c) - 1))), Pearson's
  chi-squared without continuity correction (0 = independent, 1 = each covariate level holds
  a single group);
- numeric covariate, factor group (two levels): the AUC of the covariate for the tested level
  against the reference (Mann-Whitney, ties 1/2); strength = |2 AUC - 1| (Somers' D);
- numeric group: |Spearman rho| with numeric covariates, the correlation ratio eta with
  factors.

Strength >= `CONFOUNDED` is reported as confounded; 1 means the covariate separates the
groups perfectly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..core.errors import InputError

CONFOUNDED = 0.5
COLUMNS = ["column", "in_formula", "kind", "statistic", "value", "strength", "n", "confounded",
           "separates"]


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Cramér's V of two factors (no continuity correction); NaN with a single level."""
    table = pd.crosstab(a, b).to_numpy(dtype=float)
    k = min(table.shape) - 1
    if k < 1:
        return np.nan
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    return float(np.sqrt(chi2 / (table.sum() * k)))


def auc(values: np.ndarray, positive: np.ndarray) -> float:
    """P(value of a positive > value of a negative) + P(tie) / 2 (Mann-Whitney U / n1 n0)."""
    values, positive = np.asarray(values, dtype=float), np.asarray(positive, dtype=bool)
    n1, n0 = positive.sum(), (~positive).sum()
    if n1 == 0 or n0 == 0:
        return np.nan
    ranks = stats.rankdata(values)
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def correlation_ratio(numbers: np.ndarray, factor: pd.Series) -> float:
    """eta: sqrt of the share of the variance of `numbers` explained by the factor's levels."""
    numbers = np.asarray(numbers, dtype=float)
    total = ((numbers - numbers.mean()) ** 2).sum()
    if total == 0:
        return np.nan
    means = pd.Series(numbers).groupby(factor.to_numpy()).transform("mean").to_numpy()
    return float(np.sqrt(((means - numbers.mean()) ** 2).sum() / total))


def association(covariate: pd.Series, group: pd.Series, tested_level=None) -> tuple[str, float,
                                                                                       float]:
    """(statistic name, value, strength in [0, 1]) of one covariate with the tested variable.

    For a numeric covariate against a factor group, `tested_level` is the positive class of
    the AUC (the other samples are the reference)."""
    if _is_numeric(group):
        if _is_numeric(covariate):
            rho = stats.spearmanr(covariate, group)[0]
            return "spearman_rho", float(rho), abs(float(rho))
        eta = correlation_ratio(group.to_numpy(), covariate.astype(str))
        return "eta", eta, eta
    if _is_numeric(covariate):
        if group.nunique() != 2:
            eta = correlation_ratio(covariate.to_numpy(), group.astype(str))
            return "eta", eta, eta
        level = tested_level if tested_level is not None else sorted(group.astype(str))[-1]
        a = auc(covariate.to_numpy(), (group.astype(str) == str(level)).to_numpy())
        return "auc", a, abs(2 * a - 1)
    v = cramers_v(covariate.astype(str), group.astype(str))
    return "cramers_v", v, v


def confounding_table(samples: pd.DataFrame, term: str, columns: list[str],
                      in_formula: list[str], tested_level=None) -> pd.DataFrame:
    """One row per covariate column of `samples` (those absent are skipped): its association
    with `term` among the samples where both are known (COLUMNS; the cross-table of a factor
    pair is in ``result.attrs["crosstabs"][column]``)."""
    rows, crosstabs = [], {}
    for column in dict.fromkeys(columns):
        if column == term or column not in samples.columns:
            continue
        both = samples[[column, term]].dropna()
        kind = "numeric" if _is_numeric(both[column]) else "factor"
        if both[column].nunique() < 2 or both[term].nunique() < 2:
            rows.append((column, column in in_formula, kind, "", np.nan, np.nan, len(both),
                         False, False))
            continue
        name, value, strength = association(both[column], both[term], tested_level)
        if kind == "factor":
            crosstabs[column] = pd.crosstab(both[column].astype(str), both[term].astype(str))
        strength = round(strength, 12)
        rows.append((column, column in in_formula, kind, name, value, strength, len(both),
                     bool(strength >= CONFOUNDED), bool(strength >= 1.0)))
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.attrs["crosstabs"] = crosstabs
    return table


def messages(table: pd.DataFrame, term: str) -> list[str]:
    """One message per confounded covariate, with its cross-table for a factor."""
    out = []
    for row in table[table["confounded"]].itertuples(index=False):
        text = (f"'{row.column}' is confounded with '{term}' ({row.statistic} = "
                f"{row.value:.3f}, strength {row.strength:.2f}, n = {row.n}): the DE result "
                f"for {term} also measures {row.column}")
        crosstab = table.attrs.get("crosstabs", {}).get(row.column)
        if crosstab is not None:
            text += "\n" + crosstab.to_string()
        out.append(text)
    return out


def refuse_separation(table: pd.DataFrame, term: str, analysis: str) -> None:
    """Stop when a covariate of the formula separates the tested groups perfectly: its effect
    and the group effect cannot be estimated apart."""
    hit = table[table["separates"] & table["in_formula"]]
    if hit.empty:
        return
    column = hit["column"].iloc[0]
    crosstab = table.attrs.get("crosstabs", {}).get(column)
    shown = f" ({_compact(crosstab)})" if crosstab is not None else ""
    raise InputError(
        f"analysis '{analysis}': '{column}' separates the levels of '{term}' perfectly"
        f"{shown}, so its effect cannot be told apart from the {term} effect. Remove "
        f"'{column}' from the formula (the {term} result then includes any {column} effect: "
        "report it as "
        f"confounded), or analyse within one level (subset: {{{column}: [...]}}), or add "
        "samples that cross the two", column=column)


def _compact(crosstab: pd.DataFrame) -> str:
    return "; ".join(f"{level}: " + ", ".join(f"{g} {n}" for g, n in row.items() if n)
                     for level, row in crosstab.iterrows())
