"""The compiled kernels behind voom and lmFit (bloodsig.stats.limma): voom's lowess-trend
weights, least squares through one QR, batched weighted least squares by Cholesky of every
gene's X'WX with one step of iterative refinement, and the count of unusable values. The
kernels run blocks of genes in parallel and call BLAS within a block (single-threaded: see
``blas_single``), so that matrix products, solves and residuals of a block stay in cache.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from ..core.errors import InputError

_CHUNK = 2048  # genes per batch of limma_block's fits: bounds its genes x samples temporaries
_BLOCK = 256  # genes per block of the parallel kernels: one block per thread at a time


@numba.njit(parallel=True, cache=True)
def _voom_weights(coef, xt, offset, ux, uy):
    """voom's weights: the fitted log2 counts (coef @ xt + offset, one matrix product per
    block of genes) through voom's trend, linearly interpolated as np.interp (its formula,
    constant beyond the ends), to the power -4. The knot below each value is found from a
    table of equal-width buckets over the knots' range (the knot at or below each bucket's
    start) and a short walk right: the same knot as a binary search, in a few steps."""
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
    ngenes, n = coef.shape[0], xt.shape[1]
    out = np.empty((ngenes, n))
    for blk in numba.prange((ngenes + _BLOCK - 1) // _BLOCK):
        s, e = blk * _BLOCK, min((blk + 1) * _BLOCK, ngenes)
        fitted = np.dot(coef[s:e], xt)
        for g in range(e - s):
            for i in range(n):
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
                out[s + g, i] = 1.0 / (v * v)
    return out


@numba.njit(parallel=True, cache=True)
def _ols_blocks(ys, q, qt):
    """Least squares through one thin QR of the design (q, qt = q'): per block of genes the
    effects Q'y (one matrix product) and the residual sum of squares of y - Q Q'y (formed
    directly: |y|^2 - |Q'y|^2 would lose digits for genes with tiny sigma)."""
    ngenes, n = ys.shape
    effects = np.empty((ngenes, q.shape[1]))
    rss = np.empty(ngenes)
    for blk in numba.prange((ngenes + _BLOCK - 1) // _BLOCK):
        s, e = blk * _BLOCK, min((blk + 1) * _BLOCK, ngenes)
        yc = ys[s:e]
        eff = np.dot(yc, q)
        fitted = np.dot(eff, qt)
        for g in range(e - s):
            acc = 0.0
            for i in range(n):
                d = yc[g, i] - fitted[g, i]
                acc += d * d
            rss[s + g] = acc
        effects[s:e] = eff
    return effects, rss


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


def blas_single(fn):
    """Run ``fn`` with single-threaded BLAS. The kernels below parallelise over blocks of
    genes and call BLAS inside each block; idle OpenBLAS workers spin for a while after each
    call, and on 2 cores they took the CPUs from numba's threads (voom + lmFit at 22,332 x
    694 used 1.8x the CPU time and more wall time with 2 BLAS threads than with 1)."""
    @functools.wraps(fn)
    def inner(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)
    return inner


@numba.njit(cache=True)
def _chol_solve(a, low, linv, b, r, z, rhs, coef, inv_diag):
    """One gene: A b = rhs by Cholesky (A = L L', symmetric, filled), one step of iterative
    refinement, and diag(A^-1) from the inverse Cholesky factor; the results go to ``coef``
    and ``inv_diag``. False if A is not positive definite (a singular weighted design)."""
    p = a.shape[0]
    for j in range(p):  # Cholesky: a = L L'
        s = a[j, j]
        for k in range(j):
            s -= low[j, k] * low[j, k]
        if not s > 0:
            return False
        d = np.sqrt(s)
        low[j, j] = d
        for i in range(j + 1, p):
            s = a[i, j]
            for k in range(j):
                s -= low[i, k] * low[j, k]
            low[i, j] = s / d
    for i in range(p):
        b[i] = 0.0
        r[i] = rhs[i]
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
            s = rhs[i]
            for k in range(p):
                s -= a[i, k] * b[k]
            r[i] = s
    for i in range(p):
        coef[i] = b[i]
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
        inv_diag[j] = s
    return True


@numba.njit(parallel=True, cache=True)
def _wls_blocks(y, w, xs, xst, pairs, inverse, iu, ju, coef, inv_diag, rss):
    """Per gene weighted least squares on the column-scaled design ``xs`` (``xst`` its
    transpose, contiguous): X'W_gX's upper triangle is one matrix product of a block's
    weights with the design's column-pair products ``pairs`` (column ``inverse[k]`` holds
    pair k = (iu[k], ju[k])), X'W_gy one more; each gene's system is solved by
    ``_chol_solve`` and its weighted residual sum of squares formed from one product of the
    coefficients with the design. Blocks of genes run in parallel, each with its own scratch.
    Returns the number of genes whose X'WX is not positive definite."""
    ngenes, n = y.shape
    p = xs.shape[1]
    nblocks = (ngenes + _BLOCK - 1) // _BLOCK
    singular = 0
    for blk in numba.prange(nblocks):
        s, e = blk * _BLOCK, min((blk + 1) * _BLOCK, ngenes)
        a = np.empty((p, p))
        low = np.zeros((p, p))
        linv = np.zeros((p, p))
        b, r, z = np.empty(p), np.empty(p), np.empty(p)
        wc, yc = w[s:e], y[s:e]
        upper = np.dot(wc, pairs)
        xtwy = np.dot(wc * yc, xs)
        for g in range(e - s):
            for k in range(iu.shape[0]):
                v = upper[g, inverse[k]]
                a[iu[k], ju[k]] = v
                a[ju[k], iu[k]] = v
            if not _chol_solve(a, low, linv, b, r, z, xtwy[g], coef[s + g], inv_diag[s + g]):
                singular += 1
                for j in range(p):
                    coef[s + g, j] = 0.0
        fitted = np.dot(coef[s:e], xst)
        for g in range(e - s):
            acc = 0.0
            for i in range(n):
                d = yc[g, i] - fitted[g, i]
                acc += wc[g, i] * d * d
            rss[s + g] = acc
    return singular


def _wls_batched(y, x, w):
    """Per-gene weighted least squares for a genes x samples weight matrix (``_wls_blocks``).

    X'W_gX for every gene of a block is one matrix product of the weights with the products
    of design column pairs (identical pair columns, such as those of 0/1 factor dummies with
    themselves, are formed once); each gene's system is then solved by Cholesky with one
    step of iterative refinement. Columns are scaled to unit norm first, for the
    conditioning of X'WX.
    """
    ngenes, n = y.shape
    p = x.shape[1]
    scale = np.sqrt((x**2).sum(axis=0))
    xs = x / scale
    iu, ju = np.triu_indices(p)
    pairs, inverse = np.unique(xs[:, iu] * xs[:, ju], axis=1, return_inverse=True)
    coef = np.empty((ngenes, p))
    inv_diag = np.empty((ngenes, p))
    rss = np.empty(ngenes)
    singular = _wls_blocks(np.ascontiguousarray(y), np.ascontiguousarray(w),
                           np.ascontiguousarray(xs), np.ascontiguousarray(xs.T),
                           np.ascontiguousarray(pairs), inverse.ravel(), iu, ju, coef,
                           inv_diag, rss)
    if singular:
        raise InputError("a gene's observed samples do not identify every design "
                         "coefficient (singular weighted design)")
    return coef / scale, np.sqrt(inv_diag) / scale, rss
