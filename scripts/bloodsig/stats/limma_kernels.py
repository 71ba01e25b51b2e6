"""The compiled kernels behind voom and lmFit (bloodsig.stats.limma): voom's lowess-trend
weights, batched weighted least squares by Cholesky of every gene's X'WX with one step of
iterative refinement, residual sums of squares and the count of unusable values.
"""

from __future__ import annotations

import numba
import numpy as np

from ..core.errors import InputError

_CHUNK = 2048  # genes per batch of weighted fits: bounds the temporary genes x samples arrays


_NO_WEIGHTS = np.empty((0, 0))


@numba.njit(parallel=True, cache=True)
def _voom_weights(fitted, offset, ux, uy):
    """In place: the fitted log2 counts (fitted + offset) through voom's trend, linearly
    interpolated as np.interp (its formula, constant beyond the ends), to the power -4.
    The knot below each value is found from a table of equal-width buckets over the knots'
    range (the knot at or below each bucket's start) and a short walk right: the same knot as
    a binary search, in a few steps."""
    k = ux.shape[0]
    slope = np.empty(max(k - 1, 0))
    for j in range(k - 1):
        slope[j] = (uy[j + 1] - uy[j]) / (ux[j + 1] - ux[j])
    nb = 16 * k
    width = (ux[k - 1] - ux[0]) / nb
    start = np.zeros(nb + 1, dtype=np.int64)
    j = 0
    for b in range(nb + 1):
        edge = ux[0] + b * width
        while j + 1 < k - 1 and ux[j + 1] <= edge:
            j += 1
        start[b] = j
    for g in numba.prange(fitted.shape[0]):
        for i in range(fitted.shape[1]):
            xv = fitted[g, i] + offset[i]
            if xv <= ux[0]:
                v = uy[0]
            elif xv >= ux[k - 1]:
                v = uy[k - 1]
            elif np.isnan(xv):
                v = xv
            else:
                lo = start[min(int((xv - ux[0]) / width), nb)]
                while lo > 0 and ux[lo] > xv:  # a bucket edge rounded past xv
                    lo -= 1
                while ux[lo + 1] <= xv:  # ux[lo] <= xv < ux[lo + 1]
                    lo += 1
                if ux[lo] == xv:
                    v = uy[lo]
                else:
                    v = slope[lo] * (xv - ux[lo]) + uy[lo]
            v *= v
            fitted[g, i] = 1.0 / (v * v)


@numba.njit(parallel=True, cache=True)
def _weighted_rss(y, fitted, w):
    """sum_i w_gi (y_gi - fitted_gi)^2 per gene (w of shape (0, 0): unweighted)."""
    out = np.empty(y.shape[0])
    weighted = w.shape[0] > 0
    for g in numba.prange(y.shape[0]):
        s = 0.0
        for i in range(y.shape[1]):
            r = y[g, i] - fitted[g, i]
            s += (w[g, i] * r * r) if weighted else r * r
        out[g] = s
    return out


@numba.njit(parallel=True, cache=True)
def _count_bad(w, positive):
    """How many values are not finite (or, with ``positive``, not > 0): one pass, no
    temporaries."""
    bad = 0
    for g in numba.prange(w.shape[0]):
        for i in range(w.shape[1]):
            v = w[g, i]
            bad += not (np.isfinite(v) and (v > 0 or not positive))
    return bad


@numba.njit(parallel=True, cache=True)
def _solve_normal(upper, iu, ju, xtwy, coef, inv_diag):
    """Per gene, X'WX b = X'Wy by Cholesky (X'WX from its upper triangle ``upper``), one
    step of iterative refinement, and diag((X'WX)^-1) from the inverse Cholesky factor.
    Genes go in blocks, one block per thread with its own scratch matrices. Returns False
    if some X'WX is not positive definite (a singular weighted design)."""
    ngenes, p = xtwy.shape
    block = 64
    singular = 0
    for blk in numba.prange((ngenes + block - 1) // block):
        a = np.empty((p, p))
        low = np.zeros((p, p))
        linv = np.zeros((p, p))
        b, r, z = np.empty(p), np.empty(p), np.empty(p)
        for g in range(blk * block, min((blk + 1) * block, ngenes)):
            for k in range(iu.shape[0]):
                a[iu[k], ju[k]] = upper[g, k]
                a[ju[k], iu[k]] = upper[g, k]
            good = True
            for j in range(p):  # Cholesky: a = L L'
                s = a[j, j]
                for k in range(j):
                    s -= low[j, k] * low[j, k]
                if not s > 0:
                    good = False
                    break
                d = np.sqrt(s)
                low[j, j] = d
                for i in range(j + 1, p):
                    s = a[i, j]
                    for k in range(j):
                        s -= low[i, k] * low[j, k]
                    low[i, j] = s / d
            if not good:
                singular += 1
                continue
            for i in range(p):
                b[i] = 0.0
                r[i] = xtwy[g, i]
            for step in range(2):  # solve, then one step of refinement on the residual
                for i in range(p):  # L z = r
                    s = r[i]
                    for k in range(i):
                        s -= low[i, k] * z[k]
                    z[i] = s / low[i, i]
                for i in range(p - 1, -1, -1):  # L' db = z
                    s = z[i]
                    for k in range(i + 1, p):
                        s -= low[k, i] * z[k]
                    z[i] = s / low[i, i]
                for i in range(p):
                    b[i] += z[i]
                if step == 1:
                    break
                for i in range(p):
                    s = xtwy[g, i]
                    for k in range(p):
                        s -= a[i, k] * b[k]
                    r[i] = s
            for i in range(p):
                coef[g, i] = b[i]
            # diag(A^-1) = column sums of squares of L^-1 (lower triangular, column by column)
            for j in range(p):
                linv[j, j] = 1.0 / low[j, j]
                for i in range(j + 1, p):
                    s = 0.0
                    for k in range(j, i):
                        s -= low[i, k] * linv[k, j]
                    linv[i, j] = s / low[i, i]
            for j in range(p):
                s = 0.0
                for i in range(j, p):
                    s += linv[i, j] * linv[i, j]
                inv_diag[g, j] = s
    return singular == 0


def _wls_batched(y, x, w):
    """Per-gene weighted least squares for a genes x samples weight matrix.

    X'W_gX for every gene of a batch is one matrix product of the weights with the products of
    design column pairs (identical pair columns, such as those of 0/1 factor dummies with the
    intercept or with themselves, are formed once); each gene's system is then solved by
    Cholesky with one step of iterative refinement (``_solve_normal``). Columns are scaled to
    unit norm first, for the conditioning of X'WX.
    """
    ngenes, n = y.shape
    p = x.shape[1]
    scale = np.sqrt((x**2).sum(axis=0))
    xs = x / scale
    iu, ju = np.triu_indices(p)
    pairs, inverse = np.unique(xs[:, iu] * xs[:, ju], axis=1, return_inverse=True)
    pairs = np.ascontiguousarray(pairs)
    inverse = inverse.ravel()
    coef = np.empty((ngenes, p))
    su = np.empty((ngenes, p))
    rss = np.empty(ngenes)
    for s in range(0, ngenes, _CHUNK):
        wc, yc = w[s:s + _CHUNK], y[s:s + _CHUNK]
        upper = (wc @ pairs)[:, inverse]
        xtwy = (wc * yc) @ xs
        b = np.empty_like(xtwy)
        inv_diag = np.empty_like(xtwy)
        if not _solve_normal(upper, iu, ju, xtwy, b, inv_diag):
            raise InputError("a gene's observed samples do not identify every design "
                             "coefficient (singular weighted design)")
        rss[s:s + _CHUNK] = _weighted_rss(yc, b @ xs.T, wc)
        coef[s:s + _CHUNK] = b / scale
        su[s:s + _CHUNK] = np.sqrt(inv_diag) / scale
    return coef, su, rss
