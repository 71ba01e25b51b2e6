"""Cell fractions as model covariates: variance inflation with the model's other covariates and
the drop of the worst type (the fractions sum to one), association with the RNA PCs, and the
effect of the adjustment on the DE results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..core.errors import InputError
from ..de.covariates import residual_pca
from ..stats.design import model_matrix
from ..stats.normalize import calc_norm_factors, log2cpm_voom
from .settings import CollinearitySettings

log = logging.getLogger(__name__)


# Fraction tables carry about 6 decimals: a residual sd below 1e-6 is exact collinearity.
_RSS_FLOOR_PER_SAMPLE = 1e-12


def variance_inflation(x: pd.DataFrame) -> pd.Series:
    """Variance inflation factor of every column: VIF_j = 1 / (1 - R_j^2), R_j^2 from the
    least-squares fit of column j on the other columns and an intercept (as car::vif for
    one-degree-of-freedom terms). The residual sum of squares is floored at n * 1e-12 (a
    residual sd of 1e-6, the precision of fraction tables), so exactly collinear columns
    get a large finite VIF proportional to their variance, as in the near-collinear limit.
    """
    a = x.to_numpy(dtype=float)
    n = len(a)
    out = np.empty(a.shape[1])
    for j in range(a.shape[1]):  # one regression per covariate (a handful)
        y = a[:, j]
        others = np.column_stack([np.ones(n), np.delete(a, j, axis=1)])
        resid = y - others @ np.linalg.lstsq(others, y, rcond=None)[0]
        tss = float(((y - y.mean()) ** 2).sum())
        out[j] = tss / max(float(resid @ resid), n * _RSS_FLOOR_PER_SAMPLE)
    return pd.Series(out, index=x.columns, name="vif")


@dataclass(frozen=True)
class Collinearity:
    """Cell types kept for the model and the VIF table of every step."""

    kept: list[str]
    dropped: list[str]
    table: pd.DataFrame  # step, column, cell_type (bool), vif, dropped (bool)


def drop_collinear(fractions: pd.DataFrame, samples: pd.DataFrame,
                   settings: CollinearitySettings, source=None) -> Collinearity:
    """Drop cell types for collinearity with each other and the model's other covariates.

    The design of the settings' `covariates` (sample-sheet columns, factors dummy-coded) plus
    the cell types is scored by `variance_inflation`. drop="auto": while the worst cell
    type's VIF exceeds `max_vif`, drop it and recompute (fractions summing to one always lose
    one type). drop=<cell type>: drop that type (the reference study's CD4T), then report.
    Every sample of `samples` needs fractions (`source` names their file in the message).
    """
    covariates, max_vif, drop = settings.covariates, settings.max_vif, settings.drop
    missing = samples.index.difference(fractions.index, sort=False)
    if len(missing):
        raise InputError(f"sample '{missing[0]}' of the expression has no cell fractions "
                         f"({len(missing)} such samples)", path=source)
    fractions = fractions.loc[samples.index]
    cells = list(fractions.columns)
    if drop != "auto" and drop not in cells:
        raise InputError(f"cells.collinearity.drop names '{drop}', which is not a cell type "
                         f"({', '.join(cells)})", column="cells.collinearity.drop")
    design = (model_matrix("~ " + " + ".join(covariates), samples).drop(columns="(Intercept)")
              if covariates else pd.DataFrame(index=samples.index))
    clash = [c for c in cells if c in design.columns]
    if clash:
        raise InputError(f"cell type '{clash[0]}' is also a covariate column",
                         column="cells.collinearity.covariates")
    rows, dropped, step = [], [], 0
    while True:
        step += 1
        vif = variance_inflation(design.join(fractions[cells]))
        cell_vif = vif[cells]
        if drop == "auto":
            worst = str(cell_vif.idxmax())
            remove = len(cells) > 1 and cell_vif[worst] > max_vif
        else:
            worst, remove = drop, not dropped
        rows += [(step, c, c in cells, float(v), remove and c == worst) for c, v in vif.items()]
        if not remove:
            break
        log.info("dropping cell type %s (VIF %.4g) for collinearity", worst, cell_vif[worst])
        dropped.append(worst)
        cells.remove(worst)
    table = pd.DataFrame(rows, columns=["step", "column", "cell_type", "vif", "dropped"])
    return Collinearity(cells, dropped, table)


def rna_pcs(counts: pd.DataFrame, n_pcs: int) -> pd.DataFrame:
    """Principal components of the expression (TMM log2-CPM, genes centred and scaled, as
    prcomp(t(E), scale.=TRUE)); samples x RNA_PC1..RNA_PCk."""
    expr = log2cpm_voom(counts, norm_factors=calc_norm_factors(counts.to_numpy()))
    return residual_pca(expr, n_max=n_pcs)[0]


def pc_association(fractions: pd.DataFrame, pcs: pd.DataFrame, min_abs_r: float,
                   alpha: float) -> pd.DataFrame:
    """Pearson r of every cell type with every RNA PC over their shared samples, its p-value
    (t test, n - 2 df), the Bonferroni-adjusted p over all pairs, and `flagged` for pairs
    with |r| > min_abs_r and adjusted p < alpha. Columns: cell_type, pc, n, r, p_value,
    p_bonferroni, flagged."""
    shared = pcs.index.intersection(fractions.index, sort=False)
    n = len(shared)
    if n < 4:
        raise InputError(f"cell fractions and expression share {n} samples (need at least 4)")
    x = fractions.loc[shared].to_numpy(dtype=float)
    y = pcs.loc[shared].to_numpy(dtype=float)
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    denom = np.sqrt(np.outer((xc**2).sum(axis=0), (yc**2).sum(axis=0)))
    r = np.clip((xc.T @ yc) / np.where(denom > 0, denom, np.nan), -1.0, 1.0)
    t = r * np.sqrt((n - 2) / np.clip(1 - r**2, 1e-300, None))
    p = 2 * stats.t.sf(np.abs(t), n - 2)
    out = pd.DataFrame({"cell_type": np.repeat(fractions.columns, pcs.shape[1]),
                        "pc": np.tile(pcs.columns, fractions.shape[1]), "n": n,
                        "r": r.ravel(), "p_value": p.ravel()})
    out["p_bonferroni"] = np.minimum(out["p_value"] * len(out), 1.0)
    out["flagged"] = (out["r"].abs() > min_abs_r) & (out["p_bonferroni"] < alpha)
    return out


def adjustment_effect(unadjusted: pd.DataFrame, adjusted: pd.DataFrame,
                      truth: pd.DataFrame | None, fdr: float, min_abs_logfc: float
                      ) -> pd.DataFrame:
    """How adjusting for cells changes the DEGs (adj.P.Val < fdr, |logFC| > min_abs_logfc).

    Rows (metric, item, value): DEGs in each analysis and, with a truth table (gene_id,
    mechanism), per mechanism the planted genes called without and with adjustment and
    `kept_share`, the share of those called without adjustment still called with it.
    """
    def degs(tt):
        sig = (tt["adj.P.Val"] < fdr) & (tt["logFC"].abs() > min_abs_logfc)
        return set(tt.loc[sig, "gene_id"])

    before, after = degs(unadjusted), degs(adjusted)
    rows = [("degs_unadjusted", "all", len(before)), ("degs_adjusted", "all", len(after)),
            ("degs_kept_share", "all", len(before & after) / max(len(before), 1))]
    if truth is not None:
        for mechanism, genes in truth.groupby("mechanism", sort=True)["gene_id"]:
            planted = set(genes)
            called = before & planted
            rows += [("planted_called_unadjusted", mechanism, len(called)),
                     ("planted_called_adjusted", mechanism, len(after & planted)),
                     ("kept_share", mechanism, len(called & after) / max(len(called), 1))]
    return pd.DataFrame(rows, columns=["metric", "item", "value"])
