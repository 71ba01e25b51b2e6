"""Sample quality weights in limma: arrayWeights (gene-by-gene) and voomWithQualityWeights.

Reproduces limma 3.54. ``voomWithQualityWeights`` calls ``arrayWeights`` with
method="genebygene" by default, so that is the method ported here: the gene-by-gene
update algorithm of Ritchie et al. 2006 (BMC Bioinformatics 7:261), one Fisher-scoring
step of the log-linear variance model per gene, in gene order, starting from a prior
worth ``prior_n`` genes. The updates are sequential by definition (each gene starts from
the weights left by the one before), so this is a loop over genes of small fixed-size
numpy operations; the REML method (``method="reml"``) is not ported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.errors import InputError
from .limma import _design, _expr, voom


def _contr_sum(n: int) -> np.ndarray:
    """R's contr.sum(n): identity over the first n - 1 levels, -1 for the last."""
    return np.vstack([np.eye(n - 1), -np.ones((1, n - 1))])


def _var_design(var_design, var_group, n: int) -> np.ndarray:
    if var_group is not None:
        codes, levels = pd.factorize(np.asarray(var_group), sort=True)
        if codes.shape[0] != n:
            raise InputError(f"var_group has {codes.shape[0]} values for {n} samples")
        if (codes < 0).any():
            raise InputError("var_group contains missing values")
        if len(levels) < 2:
            raise InputError("var_group needs at least two variance groups")
        var_design = _contr_sum(len(levels))[codes]
    if var_design is None:
        return _contr_sum(n)
    z2 = np.asarray(var_design, dtype=np.float64)
    z2 = z2[:, None] if z2.ndim == 1 else z2
    if z2.shape[0] != n:
        raise InputError(f"var_design has {z2.shape[0]} rows for {n} samples")
    z2 = z2 - z2.mean(axis=0)
    rank = np.linalg.matrix_rank(z2)
    if rank < z2.shape[1]:  # keep a full-rank set of columns, as R's pivoted QR does
        keep = []
        for j in range(z2.shape[1]):
            if np.linalg.matrix_rank(z2[:, keep + [j]]) == len(keep) + 1:
                keep.append(j)
        z2 = z2[:, keep]
    return z2


def array_weights(E, design=None, weights=None, var_design=None, var_group=None,
                  prior_n: float = 10) -> np.ndarray:
    """Sample (array) quality weights, limma 3.54 ``arrayWeights(method="genebygene")``.

    Model var(y_gi) = sigma_g^2 / (w_gi aw_i) with log(aw) = -Z2 gamma, Z2 = contr.sum(n)
    (a weight per sample) or the centred ``var_design`` / ``var_group`` dummies. Starting
    from gamma = 0 and information prior_n Z2'Z2, each gene in turn adds its information
    Z2'H Z2 - (Z2'h)(h'Z2)/sum(h) (H = diag(1 - leverages) of its weighted fit) and takes
    the step gamma += info^-1 Z2'(d/s^2 - h), with d the weighted squared residuals and
    s^2 their mean square (Ritchie et al. 2006). Genes with fewer than 3 observed values,
    fewer than 2 residual df or s^2 < 1e-15 are skipped; zero weights mean missing.
    Returns the n sample weights aw.
    """
    y, _ = _expr(E)
    ngenes, n = y.shape
    if design is None:
        x = np.ones((n, 1))
    else:
        x, _ = _design(design, n, E.columns if isinstance(E, pd.DataFrame) else None)
    p = x.shape[1]
    aw = np.ones(n)
    if ngenes < 2 or n - p < 2:
        return aw
    y = y.copy()
    if weights is None:
        wmat = None
    else:
        wmat = np.asarray(weights, dtype=np.float64)
        if wmat.shape == (n,):
            wmat = np.broadcast_to(wmat, y.shape)
        if wmat.shape != y.shape:
            raise InputError(f"weights have shape {wmat.shape}; expected {y.shape}")
        if np.isnan(wmat).any() or (wmat < 0).any() or np.isinf(wmat).any():
            raise InputError("weights must be finite and non-negative")
        if (wmat == 0).any():
            y[wmat == 0] = np.nan
            wmat = np.where(wmat == 0, 1.0, wmat)
    y[np.isinf(y)] = np.nan
    z2 = _var_design(var_design, var_group, n)
    gam = np.zeros(z2.shape[1])
    info2 = prior_n * (z2.T @ z2)
    complete = ~np.isnan(y).any(axis=1)
    for i in range(ngenes):
        w = aw if wmat is None else aw * wmat[i]
        yi = y[i]
        if complete[i]:
            xi, zi, obs = x, z2, None
        else:
            obs = ~np.isnan(yi)
            if obs.sum() <= 2:
                continue
            xi, zi, yi, w = x[obs], z2[obs], yi[obs], w[obs]
            if xi.shape[0] - np.linalg.matrix_rank(xi) < 2:
                continue
        xw = xi * np.sqrt(w)[:, None]
        ginv = np.linalg.inv(xw.T @ xw)
        xg = xw @ ginv
        b = ginv @ (xi.T @ (w * yi))
        b += ginv @ (xi.T @ (w * (yi - xi @ b)))  # one refinement step of the normal equations
        r = yi - xi @ b
        d = w * r * r
        s2 = d.sum() / (xi.shape[0] - p)
        if s2 < 1e-15:
            continue
        h1 = 1 - (xg * xw).sum(axis=1)
        zh = zi.T * h1
        zsum = zh.sum(axis=1)
        info2 += zh @ zi
        info2 -= np.outer(zsum, zsum / h1.sum())
        gam += np.linalg.solve(info2, zi.T @ (d / s2 - h1))
        aw = np.exp(z2 @ -gam)
    return aw


def voom_with_quality_weights(counts, design, lib_size=None, norm_factors=None,
                              span: float = 0.5, var_design=None, var_group=None,
                              prior_n: float = 10, block=None, correlation=None) -> dict:
    """voom with sample quality weights, limma 3.54 ``voomWithQualityWeights``.

    Liu et al. 2015 (Nucleic Acids Res 43:e97): voom; aw = ``array_weights`` of its E
    and weights; voom again with aw as prior weights of the inner fit; aw recomputed from
    that voom; final weights = voom weights x aw (per sample). ``block`` and
    ``correlation`` go to both voom calls, as R's ``...``. Returns the voom dict with the
    combined ``weights`` and ``sample_weights`` (aw).
    """
    kw = {"lib_size": lib_size, "norm_factors": norm_factors, "span": span,
          "block": block, "correlation": correlation}
    aw_kw = {"var_design": var_design, "var_group": var_group, "prior_n": prior_n}
    v = voom(counts, design, **kw)
    aw = array_weights(v["E"], design, v["weights"], **aw_kw)
    v = voom(counts, design, weights=aw, **kw)
    aw = array_weights(v["E"], design, v["weights"], **aw_kw)
    w = v["weights"] * aw
    v["weights"] = w
    samples = counts.columns if isinstance(counts, pd.DataFrame) else None
    v["sample_weights"] = pd.Series(aw, index=samples, name="sample_weight") \
        if samples is not None else aw
    return v
