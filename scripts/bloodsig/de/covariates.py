"""Technical covariates for differential expression: the reference study's "modified SVA".

The recipe: regress each gene's log-CPM on the biological design (which must not contain
the case/control group), take principal components of the residuals (samples as
observations, genes centred and scaled, as R's prcomp(t(resid), center=TRUE, scale.=TRUE)),
keep the first k by the kneedle elbow of the explained variance (Satopaa et al. 2011) or a
fixed k from config, and drop every PC that a logistic regression of group on the PC plus
the other model covariates finds associated with group (Wald test, Bonferroni across the k
PCs), so that adjusting for the kept PCs cannot remove the disease signal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from kneed import KneeLocator
from scipy import stats
from scipy.linalg import eigh
from scipy.optimize import linprog

from ..core.errors import InputError

log = logging.getLogger(__name__)

# R's glm.fit convergence rule: relative change of deviance, at most 25 iterations.
_GLM_EPSILON = 1e-8
_GLM_MAXIT = 25


def residualize(expr: pd.DataFrame, design_bio: pd.DataFrame) -> pd.DataFrame:
    """Residuals of every gene's expression on the biological design (ordinary least squares).

    expr: genes x samples log-expression; design_bio: samples x p, with an intercept column,
    rows in any order but covering expr's samples. One least-squares solve for all genes.
    """
    missing = expr.columns.difference(design_bio.index)
    if len(missing):
        raise InputError(f"design has no row for samples {list(missing[:5])}")
    design = design_bio.loc[expr.columns].to_numpy(dtype=float)
    y = expr.to_numpy(dtype=float).T  # samples x genes: one lstsq with many right-hand sides
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    return pd.DataFrame((y - design @ coef).T, index=expr.index, columns=expr.columns)


def residual_pca(residuals: pd.DataFrame, n_max: int = 50) -> tuple[pd.DataFrame, pd.Series]:
    """PCA of the residuals with samples as observations, as prcomp(t(resid), scale.=TRUE).

    Genes with zero variance are dropped (prcomp would fail on them); the others are centred
    and scaled to unit variance. The PCs come from the leading eigenpairs of the samples x
    samples Gram matrix (exact, n^2 m instead of an m x m problem). Each PC's sign is
    fixed so that its largest-magnitude score is positive (prcomp's sign is arbitrary).

    Returns (scores, explained): scores is samples x min(n_max, rank) with columns RNA_PC1..,
    scaled as prcomp's x; explained is each PC's share of the total variance (over all
    PCs, as summary(prcomp)'s "Proportion of Variance"), indexed by the PC names.
    """
    x = residuals.to_numpy(dtype=float).T
    sd = x.std(axis=0, ddof=1)
    keep = sd > 1e-12 * max(sd.max(initial=0.0), 1.0)
    if not keep.any():
        raise InputError("no gene has non-zero residual variance; nothing to decompose")
    z = (x[:, keep] - x[:, keep].mean(axis=0)) / sd[keep]
    gram = z @ z.T
    n = gram.shape[0]
    # Only the leading eigenpairs are needed: the total variance is the trace.
    k = min(n_max, n - 1)
    evals, evecs = eigh(gram, subset_by_index=[n - k, n - 1])
    evals, evecs = np.clip(evals[::-1], 0.0, None), evecs[:, ::-1]
    k = int(np.sum(evals > 1e-10 * evals[0]))  # drop null directions (rank < n_max)
    scores = evecs[:, :k] * np.sqrt(evals[:k])
    flip = np.sign(scores[np.abs(scores).argmax(axis=0), np.arange(k)])
    scores *= flip
    names = [f"RNA_PC{i + 1}" for i in range(k)]
    explained = pd.Series(evals[:k] / np.trace(gram), index=names, name="explained_variance")
    return pd.DataFrame(scores, index=residuals.columns, columns=names), explained


def choose_n_pcs(explained, method: str = "kneedle", fixed: int | None = None) -> int:
    """Number of residual PCs to keep.

    method="kneedle": the elbow of explained variance against PC number by the Kneedle
    algorithm (Satopaa et al. 2011) as kneed.KneeLocator(curve="convex",
    direction="decreasing"); the PCs up to and including the elbow are kept, and 0 if no
    elbow is found. method="fixed": `fixed` PCs, as set in config.
    """
    y = np.asarray(explained, dtype=float)
    if method == "fixed":
        if fixed is None or not 0 <= fixed <= len(y):
            raise InputError(f"n_pcs must be an integer between 0 and {len(y)}, got {fixed}")
        return int(fixed)
    if method != "kneedle":
        raise InputError(f"unknown method '{method}' (expected 'kneedle' or 'fixed')")
    if len(y) < 3:
        return len(y)
    knee = KneeLocator(np.arange(1, len(y) + 1), y, curve="convex", direction="decreasing").knee
    if knee is None:
        log.warning("kneedle found no elbow in the explained variance; keeping no PCs")
        return 0
    return int(knee)


def _separated(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether the 0/1 outcome y is (quasi-)completely separated by the columns of x.

    The linear programme of Konis (2007; R package detectseparation): with s = 2y - 1, find b
    in [-1, 1]^p maximising sum(s * x b) subject to s * x b >= 0. A positive optimum is a
    direction that classifies every sample without error, so the logistic MLE does not exist.
    """
    scale = np.abs(x).max(axis=0)
    a = (2 * y - 1)[:, None] * (x / np.where(scale > 0, scale, 1.0))
    res = linprog(-a.sum(axis=0), A_ub=-a, b_ub=np.zeros(len(y)), bounds=(-1, 1),
                  method="highs")
    return res.status == 0 and -res.fun > 1e-7 * len(y)


def _logit_wald(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Coefficient and Wald SE of x's first column in a logistic regression of y on x.

    IRLS with R glm.fit's convergence rule; x must not separate y (see `_separated`).
    """
    beta = np.zeros(x.shape[1])
    mu = np.full(len(y), 0.5)
    dev_old = np.inf
    for _ in range(_GLM_MAXIT):
        w = mu * (1 - mu)
        z = x @ beta + (y - mu) / w
        xw = x * w[:, None]
        beta = np.linalg.solve(xw.T @ x, xw.T @ z)
        mu = 1 / (1 + np.exp(-(x @ beta)))
        dev = -2 * np.sum(y * np.log(mu) + (1 - y) * np.log1p(-mu))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < _GLM_EPSILON:
            break
        dev_old = dev
    else:
        log.warning("logistic regression did not converge in %d iterations", _GLM_MAXIT)
    w = mu * (1 - mu)
    cov = np.linalg.inv((x * w[:, None]).T @ x)
    return float(beta[0]), float(np.sqrt(cov[0, 0]))


def _binary(group: pd.Series) -> np.ndarray:
    levels = pd.unique(group.dropna())
    if group.isna().any() or len(levels) != 2:
        raise InputError(f"group must have exactly two levels and no gaps, got {list(levels)}",
                         column=group.name)
    if set(levels) <= {0, 1}:
        return group.to_numpy(dtype=float)
    ref = sorted(levels, key=str)[0]
    return (group != ref).to_numpy(dtype=float)


def group_associated_pcs(
    pcs: pd.DataFrame, group: pd.Series, other_covariates: pd.DataFrame | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Which PCs are associated with the case/control group.

    For each PC, a logistic regression of group (two levels; 0/1, or the level sorting first
    is the reference) on an intercept, the PC and the other model covariates, with the Wald
    p-value of the PC's coefficient; Bonferroni across the PCs. A PC with which the groups
    are (quasi-)completely separated has no finite estimate: it is reported with
    separated=True, coef and se NaN, p_value 0 and associated=True. Constant columns of
    other_covariates are dropped (the intercept is always added). Raises InputError if the
    other covariates alone separate the groups.

    Returns one row per PC: pc, coef, se, p_value, p_bonferroni, separated, associated.
    """
    y = _binary(group.loc[pcs.index])
    if other_covariates is None or other_covariates.shape[1] == 0:
        base = np.ones((len(y), 1))
    else:
        cov = other_covariates.loc[pcs.index].to_numpy(dtype=float)
        is_const = np.ptp(cov, axis=0) == 0
        base = np.column_stack([np.ones(len(y)), cov[:, ~is_const]])
    if _separated(base, y):
        raise InputError("the other covariates separate the groups perfectly; the logistic "
                         "test of PCs against group is undefined", column=group.name)
    rows = []
    for name in pcs.columns:
        x = np.column_stack([pcs[name].to_numpy(dtype=float), base])
        if _separated(x, y):
            rows.append((name, np.nan, np.nan, 0.0, True))
        else:
            coef, se = _logit_wald(x, y)
            rows.append((name, coef, se, 2 * stats.norm.sf(abs(coef / se)), False))
    table = pd.DataFrame(rows, columns=["pc", "coef", "se", "p_value", "separated"])
    table["p_bonferroni"] = np.minimum(table["p_value"] * len(table), 1.0)
    table["associated"] = table["separated"] | (table["p_bonferroni"] < alpha)
    return table[["pc", "coef", "se", "p_value", "p_bonferroni", "separated", "associated"]]


@dataclass(frozen=True)
class RnaPcResult:
    """The outcome of `rna_pc_covariates`.

    covariates: samples x kept PCs (the technical covariates to add to the DE design);
    association: the `group_associated_pcs` table for the first n_pcs PCs;
    explained: explained-variance share of the first n_max PCs; n_pcs: PCs chosen before
    dropping the group-associated ones.
    """

    covariates: pd.DataFrame
    association: pd.DataFrame
    explained: pd.Series
    n_pcs: int


def rna_pc_covariates(
    expr: pd.DataFrame, design_bio: pd.DataFrame, group: pd.Series,
    other_covariates: pd.DataFrame | None = None, n_pcs: int | None = None, n_max: int = 50,
    alpha: float = 0.05,
) -> RnaPcResult:
    """RNA-PC technical covariates by the reference study's modified SVA (module docstring).

    n_pcs=None chooses the number by kneedle; an integer fixes it.
    """
    resid = residualize(expr, design_bio)
    scores, explained = residual_pca(resid, n_max=n_max)
    k = choose_n_pcs(explained, method="kneedle" if n_pcs is None else "fixed", fixed=n_pcs)
    assoc = group_associated_pcs(scores.iloc[:, :k], group, other_covariates, alpha=alpha)
    kept = assoc.loc[~assoc["associated"], "pc"].tolist()
    log.info("RNA PCs: %d chosen, %d associated with group, keeping %s",
             k, k - len(kept), kept)
    return RnaPcResult(scores[kept], assoc, explained, k)
