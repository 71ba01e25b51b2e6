"""Design matrices from R-style formulas and contrasts from strings, without eval.

A formula is ``~ term + term ...`` where each term is a column of the sample table; ``0 +``
or ``- 1`` drops the intercept. Categorical columns (object, category or bool dtype) are
treatment-coded against a reference level, numeric columns enter as they are, and columns
are named as R's ``model.matrix`` names them: ``(Intercept)``, ``groupALS``, ``sexmale``,
``age``. Interactions, transformations and other R formula syntax are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.errors import InputError

_NAME = r"[A-Za-z_.][A-Za-z0-9_.]*"
_FORMULA_TOKEN = re.compile(rf"\s*(?:(?P<name>{_NAME})|(?P<num>\d+)|(?P<op>[~+-])|(?P<bad>\S+))")


@dataclass(frozen=True)
class Formula:
    """A parsed formula: its terms in order and whether it has an intercept."""

    terms: tuple[str, ...]
    intercept: bool


def parse_formula(formula: str) -> Formula:
    """Parse ``~ a + b + c`` (optionally ``~ 0 + ...`` or ``... - 1``) into a Formula.

    Anything else (``*``, ``:``, ``I()``, ``log(x)``, a left-hand side) raises InputError
    naming the formula and the offending token.
    """
    def bad(token, why="unexpected token"):
        return InputError(f"formula '{formula}': {why} '{token}' (bloodsig accepts "
                          "'~ a + b + c', with '0 +' or '- 1' to drop the intercept)")

    tokens = []
    pos = 0
    text = formula.rstrip()
    while pos < len(text):
        m = _FORMULA_TOKEN.match(text, pos)
        kind = m.lastgroup
        if kind == "bad":
            raise bad(m.group("bad")[0])
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    if not tokens or tokens[0] != ("op", "~"):
        raise bad(tokens[0][1] if tokens else "", "a formula must start with '~', found")
    terms: list[str] = []
    intercept = True
    sign = "+"
    expect_term = True
    for kind, tok in tokens[1:]:
        if expect_term:
            if kind == "name":
                if sign == "-":
                    raise bad(tok, "cannot remove term")
                if tok in terms:
                    raise bad(tok, "duplicated term")
                terms.append(tok)
            elif kind == "num" and tok in ("0", "1"):
                if tok == "0" and sign == "+" or tok == "1" and sign == "-":
                    intercept = False
                elif not (tok == "1" and sign == "+"):
                    raise bad(tok)
            else:
                raise bad(tok)
            expect_term = False
        else:
            if kind != "op" or tok == "~":
                raise bad(tok)
            sign = tok
            expect_term = True
    if expect_term:
        raise bad(tokens[-1][1], "formula ends after")
    if not terms and not intercept:
        raise InputError(f"formula '{formula}': no terms and no intercept")
    return Formula(tuple(terms), intercept)


def _is_factor(series: pd.Series) -> bool:
    return (pd.api.types.is_object_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype)
            or pd.api.types.is_bool_dtype(series) or pd.api.types.is_string_dtype(series))


def _levels(series: pd.Series) -> list:
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna())
        return [lv for lv in series.cat.categories if lv in present]
    return sorted(series.dropna().unique(), key=_level_label)


def _level_label(level) -> str:
    if isinstance(level, bool | np.bool_):
        return "TRUE" if level else "FALSE"
    return str(level)


def model_matrix(formula: str, samples: pd.DataFrame, reference_levels: dict | None = None,
                 ) -> pd.DataFrame:
    """The design matrix of ``formula`` over ``samples`` (rows = samples), as R model.matrix.

    Factors get treatment contrasts against ``reference_levels[column]`` (default: the first
    level; categories' order for a categorical column, else sorted values, which is R's
    factor() order for ASCII labels of one case). Without an intercept the first factor
    gets one column per level, as in R. Raises InputError for a missing column, NaN in a used
    column (naming the sample), a factor with a single level, an unknown reference level or
    a design that is not of full column rank (naming the aliased columns).
    """
    f = parse_formula(formula)
    reference_levels = dict(reference_levels or {})
    cols: dict[str, np.ndarray] = {}
    if f.intercept:
        cols["(Intercept)"] = np.ones(len(samples))
    full_coding_done = f.intercept
    for term in f.terms:
        if term not in samples.columns:
            raise InputError(f"formula '{formula}' uses column '{term}', which the sample "
                             f"table lacks (it has: {', '.join(map(str, samples.columns))})",
                             column=term)
        s = samples[term]
        na = s.isna().to_numpy()
        if na.any():
            raise InputError(f"missing value (NaN) for sample '{samples.index[na][0]}' in a "
                             f"column used by the design '{formula}'", column=term)
        if _is_factor(s):
            levels = _levels(s)
            if len(levels) < 2:
                raise InputError(f"factor has a single level '{_level_label(levels[0])}'; it "
                                 "cannot be a design term", column=term)
            if term in reference_levels:
                ref = reference_levels[term]
                match = [lv for lv in levels if _level_label(lv) == str(ref) or lv == ref]
                if not match:
                    raise InputError(f"reference level '{ref}' is not among the levels "
                                     f"{', '.join(map(_level_label, levels))}", column=term)
                levels = match[:1] + [lv for lv in levels if lv != match[0]]
            values = s.to_numpy()
            use = levels if not full_coding_done else levels[1:]
            full_coding_done = True
            for lv in use:
                cols[f"{term}{_level_label(lv)}"] = (values == lv).astype(np.float64)
        else:
            cols[term] = s.to_numpy(dtype=np.float64)
    design = pd.DataFrame(cols, index=samples.index)
    check_full_rank(design)
    return design


def check_full_rank(design: pd.DataFrame) -> None:
    """Raise InputError naming every column that is a linear combination of earlier ones."""
    x = design.to_numpy(dtype=np.float64)
    # Rank tolerance on column-scaled values, so a covariate's units do not matter.
    norms = np.sqrt((x**2).sum(axis=0))
    xs = x / np.where(norms > 0, norms, 1.0)
    aliased = []
    rank = 0
    for j in range(xs.shape[1]):
        r = np.linalg.matrix_rank(xs[:, : j + 1], tol=1e-7) if norms[j] > 0 else rank
        if r == rank:
            aliased.append(str(design.columns[j]))
        rank = r
    if aliased:
        raise InputError(f"design is not of full rank: column(s) {', '.join(aliased)} are "
                         "linear combinations of earlier columns (confounded or constant "
                         "covariates); drop or merge them", column=aliased[0])


def check_group_sizes(samples: pd.DataFrame, column: str, min_size: int = 3) -> pd.Series:
    """Per-level sample counts of ``column``; InputError if a level has fewer than min_size."""
    if column not in samples.columns:
        raise InputError("sample table lacks the group column", column=column)
    sizes = samples[column].value_counts(dropna=True).sort_index()
    small = sizes[sizes < min_size]
    if len(small):
        detail = ", ".join(f"'{k}' has {v}" for k, v in small.items())
        raise InputError(f"groups need at least {min_size} samples each: {detail}",
                         column=column)
    return sizes


_CONTRAST_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)|(?P<name>\(Intercept\)|[A-Za-z_.]"
    r"[A-Za-z0-9_.]*)|(?P<op>[+*-])|(?P<bad>\S+))")


def contrast_vector(contrast: str, columns) -> np.ndarray:
    """The contrast vector over design ``columns`` for a coefficient name or an expression.

    Accepts a column name, or terms ``[number *] name`` joined by ``+``/``-`` (e.g.
    ``groupALS - groupPMA`` or ``0.5*a + 0.5*b - c``), parsed without eval; InputError
    names an unknown column or a bad token.
    """
    columns = [str(c) for c in columns]
    vec = np.zeros(len(columns))
    if contrast.strip() in columns:
        vec[columns.index(contrast.strip())] = 1.0
        return vec

    def bad(token, why="unexpected token"):
        return InputError(f"contrast '{contrast}': {why} '{token}'")

    tokens, pos, text = [], 0, contrast.rstrip()
    while pos < len(text):
        m = _CONTRAST_TOKEN.match(text, pos)
        if m.lastgroup == "bad":
            raise bad(m.group("bad"))
        tokens.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    i, sign, seen = 0, 1.0, False
    while i < len(tokens):
        kind, tok = tokens[i]
        if kind == "op" and tok in "+-" and not seen:
            sign *= -1.0 if tok == "-" else 1.0
            i += 1
            continue
        coef = 1.0
        if kind == "num":
            if i + 2 >= len(tokens) or tokens[i + 1] != ("op", "*"):
                raise bad(tok, "a number must be followed by '*' and a column name:")
            coef = float(tok)
            i += 2
            kind, tok = tokens[i]
        if kind != "name":
            raise bad(tok)
        if tok not in columns:
            raise InputError(f"contrast '{contrast}': '{tok}' is not a design column "
                             f"({', '.join(columns)})")
        vec[columns.index(tok)] += sign * coef
        i += 1
        if i < len(tokens):
            kind, tok = tokens[i]
            if kind != "op" or tok not in "+-":
                raise bad(tok)
            sign = -1.0 if tok == "-" else 1.0
            i += 1
            if i == len(tokens):
                raise bad(tok, "contrast ends after")
        seen = True
    if not seen:
        raise InputError(f"contrast '{contrast}' is empty")
    return vec
