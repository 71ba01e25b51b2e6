"""limma's linear-model DE pipeline (voom, lmFit, contrasts.fit, eBayes, topTable) in numpy.

Each function reproduces limma 3.54 / edgeR 3.40 (R 4.2) and is vectorised over genes:
weighted fits form every gene's X'WX with one matrix product and solve them as a batch.
Counts must be NA-free. Missing (non-finite) expression values are allowed in ``lm_fit``:
they get weight 0, which drops them from that gene's fit exactly as limma's per-gene refit
does, and that gene's df_residual is reduced accordingly. Designs must have full column rank
(also over each gene's observed samples).

A fit is a plain dict with limma's component names (coefficients, stdev_unscaled, sigma,
df_residual, Amean, cov_coefficients, and after ``ebayes`` s2_prior, df_prior, s2_post, t,
df_total, p_value, lods); matrices are genes x coefficients.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
from scipy import special, stats

from ..core.errors import InputError
from .lowess import lowess
from .normalize import _as_counts, _effective_lib, _log2, _log_cpm

_CHUNK = 2048  # genes per batch of weighted fits: bounds the temporary genes x samples arrays
_NO_WEIGHTS = np.empty((0, 0))


def _design(design, n: int, samples=None) -> tuple[np.ndarray, list[str]]:
    """Design as a float array; a DataFrame design is aligned to the data's sample names."""
    names = None
    if isinstance(design, pd.DataFrame):
        names = [str(c) for c in design.columns]
        if samples is not None and not isinstance(design.index, pd.RangeIndex):
            missing = [s for s in samples if s not in design.index]
            if missing:
                raise InputError(f"design has no row for sample '{missing[0]}'")
            design = design.loc[list(samples)]
    x = np.asarray(design, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] != n:
        raise InputError(f"design has {x.shape[0]} rows for {n} samples")
    if not np.isfinite(x).all():
        raise InputError("design contains NA or infinite values")
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise InputError("design is not of full column rank "
                         "(see bloodsig.stats.design.model_matrix)")
    return x, names or [f"x{j + 1}" for j in range(x.shape[1])]


def _expr(E) -> tuple[np.ndarray, pd.Index | None]:
    index = E.index if isinstance(E, pd.DataFrame) else None
    y = np.asarray(E, dtype=np.float64)
    if y.ndim != 2:
        raise InputError(f"expression must be a genes x samples matrix, got {y.ndim} dimension(s)")
    return y, index


def voom(counts, design, lib_size=None, norm_factors=None, span: float = 0.5, weights=None,
         block=None, correlation=None) -> dict:
    """voom precision weights (Law, Chen, Shi & Smyth 2014, Genome Biol 15:R29).

    As limma 3.54 ``voom``: E = log2((y + 0.5) / (L + 1) * 1e6) with L = lib_size *
    norm_factors; an unweighted ``lm_fit`` of E; lowess (R's clowess, f = span) of
    sqrt(sigma) against the mean log2 count Amean + mean(log2(L + 1)) - log2(1e6), genes
    with zero total count left out; the trend is interpolated linearly (approxfun, rule=2,
    tied x averaged) at each fitted log2 count log2(2^fitted * (L + 1) / 1e6), and
    weights = trend^-4. ``weights``, ``block`` and ``correlation`` go to the inner ``lm_fit``,
    as in limma (3.54 does not multiply the prior weights into the result). Returns dict(E,
    weights, design, lib_size, trend=(x, y) of the lowess line, voom_xy=(sx, sy)); E and
    weights are DataFrames when counts is one.
    """
    y = _as_counts(counts)
    if y.shape[0] < 2:
        raise InputError("voom needs at least two genes to fit a mean-variance trend")
    lib = _effective_lib(y, lib_size, norm_factors)
    x, names = _design(design, y.shape[1],
                       counts.columns if isinstance(counts, pd.DataFrame) else None)
    e = _log_cpm(y, lib)
    fit = lm_fit(e, x, weights, block=block, correlation=correlation)
    if not (fit["df_residual"] > 0).any():
        raise InputError("design leaves no residual degrees of freedom for voom")
    sx = fit["Amean"] + np.mean(np.log2(lib + 1)) - np.log2(1e6)
    sy = np.sqrt(fit["sigma"])
    nonzero = y.sum(axis=1) != 0
    lx, ly, knots = lowess(sx[nonzero], sy[nonzero], f=span, return_knots=True)
    # R interpolates (approxfun, rule=2) through every lowess point, averaging tied x; the
    # line is linear between the fitted points, and tied x share one fitted value, so the
    # fitted points alone give the same values to rounding with a much cheaper search.
    ux, uy = lx[knots], ly[knots]
    # log2(1e-6 * 2^fitted * (L + 1)) simplified: equal to rounding, without 2 passes of exp/log
    w = fit["coefficients"] @ x.T
    _voom_weights(w, _log2(lib + 1) - _log2(1e6), ux, uy)
    if isinstance(counts, pd.DataFrame):
        e = pd.DataFrame(e, index=counts.index, columns=counts.columns)
        w = pd.DataFrame(w, index=counts.index, columns=counts.columns)
    samples = counts.columns if isinstance(counts, pd.DataFrame) else None
    return {"E": e, "weights": w, "design": pd.DataFrame(x, index=samples, columns=names),
            "lib_size": lib,
            "trend": (lx, ly), "voom_xy": (sx, sy)}


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


def lm_fit(E, design, weights=None, block=None, correlation=None) -> dict:
    """Gene-wise (weighted) least squares as limma 3.54 ``lmFit`` / ``lm.series``.

    For each gene g: beta_g = (X'W_gX)^-1 X'W_g y_g, stdev_unscaled = sqrt(diag((X'W_gX)^-1)),
    sigma_g^2 = sum(w (y - X beta)^2) / (n - p), df_residual = n - p; Amean is the unweighted
    row mean and cov_coefficients = (X'X)^-1 of the unweighted design, as in limma.
    ``weights`` may be None (one QR for all genes), a length-n vector of sample weights (one
    QR of sqrt(w)X) or a genes x samples matrix (batched normal equations on a column-scaled
    design, refined by one step of iterative refinement). Weights must be positive and
    finite. Non-finite values of E are missing: they get weight 0 and reduce that gene's
    df_residual, as limma's per-gene refit does. A DataFrame design is matched to a
    DataFrame E's columns by its index. With ``block`` it is limma's GLS fit with the
    intra-block ``correlation`` (bloodsig.stats.limma_block.gls_fit).
    """
    if block is not None:
        if correlation is None:
            raise InputError("lm_fit with block needs the correlation (duplicate_correlation)")
        from .limma_block import gls_fit
        return gls_fit(E, design, block, correlation, weights)
    y, index = _expr(E)
    ngenes, n = y.shape
    x, names = _design(design, n, E.columns if isinstance(E, pd.DataFrame) else None)
    p = x.shape[1]
    if weights is None:
        w = None
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape not in ((n,), (ngenes, n)):
            raise InputError(f"weights have shape {w.shape}; expected ({n},) or {y.shape}")
        if _count_bad(w.reshape(-1, n), True):
            raise InputError("weights must be finite and positive")
    nobs = np.full(ngenes, n)
    if _count_bad(y, False) == 0:
        amean = y.mean(axis=1)
    else:
        observed = np.isfinite(y)
        w = (np.ones(n) if w is None else w) * observed
        y = np.where(observed, y, 0.0)
        nobs = observed.sum(axis=1)
        with np.errstate(invalid="ignore"):
            amean = y.sum(axis=1) / nobs
    if w is None or w.ndim == 1:
        sw = None if w is None else np.sqrt(w)
        q, r = np.linalg.qr(x if sw is None else x * sw[:, None])
        ys = y if sw is None else y * sw
        effects = ys @ q
        coef = np.linalg.solve(r, effects.T).T
        rinv = np.linalg.inv(r)
        su = np.broadcast_to(np.sqrt((rinv**2).sum(axis=1)), (ngenes, p)).copy()
        # Residuals directly: |y|^2 - |Q'y|^2 would lose digits for genes with tiny sigma.
        rss = _weighted_rss(ys, effects @ q.T, _NO_WEIGHTS)
    else:
        coef, su, rss = _wls_batched(y, x, w)
    df = (nobs - p).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.where(df > 0, np.sqrt(rss / df), np.nan)
    fit = {
        "coefficients": coef,
        "stdev_unscaled": su,
        "sigma": sigma,
        "df_residual": df,
        "Amean": amean,
        "cov_coefficients": np.linalg.inv(x.T @ x),
        "design": x,
        "coef_names": names,
        "genes": index,
    }
    return fit


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


def contrasts_fit(fit: dict, contrasts) -> dict:
    """Re-express a fit in terms of contrasts, as limma 3.54 ``contrasts.fit``.

    ``contrasts`` is a p-vector or p x k matrix (bloodsig.stats.design.contrast_vector builds one).
    coefficients = B C; stdev_unscaled follows limma: if the unweighted coefficient
    correlation is zero (orthogonal design) sqrt(S^2 C^2), otherwise for each gene
    sqrt(colSums((R diag(s_g) C)^2)) with R = chol(cor(cov_coefficients)) — limma's
    approximation for weighted fits, kept to match R. Any eBayes results are dropped (run
    ``ebayes`` again).
    """
    c = np.asarray(contrasts, dtype=np.float64)
    if c.ndim == 1:
        c = c[:, None]
    p = fit["coefficients"].shape[1]
    if c.shape[0] != p:
        raise InputError(f"contrast has {c.shape[0]} rows for {p} coefficients")
    cov = fit["cov_coefficients"]
    d = np.sqrt(np.diag(cov))
    cor = cov / np.outer(d, d)
    orthog = p < 2 or bool((np.abs(cor[np.tril_indices(p, -1)]) < 1e-14).all())
    s = fit["stdev_unscaled"]
    if orthog:
        su = np.sqrt(s**2 @ c**2)
    else:
        r = np.linalg.cholesky(cor).T
        # R diag(s_g) C = (R * s_g) @ C for every gene at once.
        ruc = np.einsum("ab,gb,bk->gak", r, s, c)
        su = np.sqrt((ruc**2).sum(axis=1))
    names = fit["coef_names"]
    cnames = [_contrast_name(col, names) for col in c.T]
    keep = ("sigma", "df_residual", "Amean", "design", "genes")
    out = {k: fit[k] for k in keep}
    out.update(coefficients=fit["coefficients"] @ c, stdev_unscaled=su,
               cov_coefficients=c.T @ cov @ c, coef_names=cnames, contrasts=c)
    return out


def _contrast_name(col, names) -> str:
    terms = [(v, nm) for v, nm in zip(col, names, strict=True) if v != 0]
    if len(terms) == 1 and terms[0][0] == 1:
        return terms[0][1]
    return " ".join(f"{'+' if v > 0 else '-'} {abs(v):g}*{nm}" for v, nm in terms).lstrip("+ ")


def trigamma_inverse(x) -> np.ndarray:
    """Solve trigamma(y) = x by Newton's method, as limma's ``trigammaInverse`` (Smyth 2004)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    out = np.where(x > 1e7, 1 / np.sqrt(x), 1 / x)
    mid = (x >= 1e-6) & (x <= 1e7)
    if mid.any():
        xm = x[mid]
        y = 0.5 + 1.0 / xm
        for _ in range(51):
            tri = special.polygamma(1, y)
            dif = tri * (1 - tri / xm) / special.polygamma(2, y)
            y = y + dif
            if np.max(-dif / y) < 1e-8:
                break
        out[mid] = y
    return out


def _ns_basis(covariate, knots_from) -> np.ndarray:
    """A basis of natural cubic splines with splines::ns(df=4, intercept=TRUE)'s knots.

    fitFDist only uses the spline fit's fitted values and residual variance, which do not
    depend on the basis chosen for the same function space, so the truncated-power form
    (Hastie, Tibshirani & Friedman, ESL eq. 5.4-5.5) stands in for R's B-spline form.
    """
    lo, hi = knots_from.min(), knots_from.max()
    inner = np.quantile(knots_from, [1 / 3, 2 / 3])
    knots = (np.concatenate([[lo], inner, [hi]]) - lo) / (hi - lo)
    u = (covariate - lo) / (hi - lo)

    def d(k):
        return (np.maximum(u - knots[k], 0) ** 3 - np.maximum(u - knots[-1], 0) ** 3) / (
            knots[-1] - knots[k])

    return np.column_stack([np.ones_like(u), u] + [d(k) - d(len(knots) - 2)
                                                     for k in range(len(knots) - 2)])


def fit_f_dist(x, df1, covariate=None) -> tuple[np.ndarray | float, float]:
    """Moment estimation of the scaled F prior (Smyth 2004, SAGMB 3:3), limma ``fitFDist``.

    e = log(s^2) - digamma(d/2) + log(d/2); mean(e) (or a natural-spline trend in
    ``covariate``) and var(e) - mean(trigamma(d/2)) = trigamma(d0/2) give
    d0 = 2 trigammaInverse(.) and s0^2 = exp(emean + digamma(d0/2) - log(d0/2)).
    Returns (scale s0^2, df2 d0); d0 is inf when the excess variance is not positive.
    """
    x = np.asarray(x, dtype=np.float64)
    df1 = np.broadcast_to(np.asarray(df1, dtype=np.float64), x.shape)
    n = x.shape[0]
    ok = np.isfinite(df1) & (df1 > 1e-15) & np.isfinite(x) & (x > -1e-15)
    nok = int(ok.sum())
    if covariate is not None:
        splinedf = min(1 + (nok >= 3) + (nok >= 6) + (nok >= 30),
                       np.unique(covariate[ok]).shape[0])
        if splinedf < 2:
            scale, df2 = fit_f_dist(x, df1)
            return np.full(n, scale), df2
        if splinedf != 4:
            raise NotImplementedError("trend with fewer than 30 genes is not supported")
    xo = np.maximum(x[ok], 0)
    d = df1[ok]
    m = np.median(xo)
    xo = np.maximum(xo, 1e-5 * (1.0 if m == 0 else m))
    e = np.log(xo) - special.digamma(d / 2) + np.log(d / 2)
    if covariate is None:
        emean = e.mean()
        evar = ((e - emean) ** 2).sum() / (nok - 1)
    else:
        cov_ok = covariate[ok]
        basis = _ns_basis(cov_ok, cov_ok)
        q, r = np.linalg.qr(basis)
        coef = np.linalg.solve(r, q.T @ e)
        resid = e - basis @ coef
        evar = (resid**2).sum() / (nok - basis.shape[1])
        emean = _ns_basis(covariate, cov_ok) @ coef
    evar = evar - np.mean(special.polygamma(1, d / 2))
    if evar > 0:
        df2 = 2 * float(trigamma_inverse(evar)[0])
        s20 = np.exp(emean + special.digamma(df2 / 2) - np.log(df2 / 2))
    else:
        df2 = np.inf
        s20 = np.exp(emean) if covariate is not None else xo.mean()
    return s20, df2


def squeeze_var(var, df, covariate=None) -> dict:
    """Empirical Bayes posterior variances, limma ``squeezeVar`` (robust=FALSE).

    s2_post = (d s^2 + d0 s0^2) / (d + d0) with (s0^2, d0) from ``fit_f_dist``; s0^2 when
    d0 is infinite.
    """
    var = np.asarray(var, dtype=np.float64)
    df = np.broadcast_to(np.asarray(df, dtype=np.float64), var.shape)
    var = np.where(df == 0, 0.0, var)
    s20, d0 = fit_f_dist(var, df, covariate)
    if np.isinf(d0):
        post = np.broadcast_to(s20, var.shape).astype(np.float64)
    else:
        post = (df * var + d0 * s20) / (df + d0)
    return {"df_prior": d0, "var_prior": s20, "var_post": post}


def _tmixture_vector(tstat, su, df, proportion, v0_lim) -> float:
    """limma ``tmixture.vector``: prior variance of non-null log-fold-changes."""
    ngenes = tstat.shape[0]
    ntarget = int(np.ceil(proportion / 2 * ngenes))
    if ntarget < 1:
        return np.nan
    p = max(ntarget / ngenes, proportion)
    tstat = np.abs(tstat)
    maxdf = df.max()
    lower = df < maxdf
    if lower.any():
        # Put every t on the largest df's scale through its tail probability.
        tstat = tstat.copy()
        tstat[lower] = stats.t.isf(np.exp(stats.t.logsf(tstat[lower], df[lower])), maxdf)
    o = np.argsort(-tstat, kind="stable")[:ntarget]
    tstat = tstat[o]
    v1 = su[o] ** 2
    r = np.arange(1, ntarget + 1)
    p0 = 2 * stats.t.sf(tstat, maxdf)
    ptarget = ((r - 0.5) / ngenes - (1 - p) * p0) / p
    v0 = np.zeros(ntarget)
    pos = ptarget > p0
    if pos.any():
        qtarget = stats.t.isf(ptarget[pos] / 2, maxdf)
        v0[pos] = v1[pos] * ((tstat[pos] / qtarget) ** 2 - 1)
    v0 = np.clip(v0, v0_lim[0], v0_lim[1])
    return float(v0.mean())


def ebayes(fit: dict, proportion: float = 0.01, stdev_coef_lim=(0.1, 4), trend: bool = False,
           robust: bool = False) -> dict:
    """Moderated t-statistics and B-statistics (Smyth 2004, SAGMB 3:3), limma 3.54 ``eBayes``.

    t = beta / (stdev_unscaled * sqrt(s2_post)) on df_total = min(df + d0, sum(df));
    p = 2 P(T > |t|); B = log(p/(1-p)) - log(r)/2 + (1 + df_total)/2 log((t^2 + df_total) /
    (t^2/r + df_total)) with r = (su^2 + v0)/su^2 and v0 from limma's tmixture estimate,
    limited to stdev_coef_lim^2 / median(s2_prior). ``trend=True`` lets the prior variance
    follow Amean (limma-trend). ``robust=True`` is bloodsig.stats.limma_robust.ebayes_robust.
    Returns a new dict.
    """
    if robust:
        from .limma_robust import ebayes_robust
        return ebayes_robust(fit, proportion, stdev_coef_lim, trend)
    coef, su = fit["coefficients"], fit["stdev_unscaled"]
    dfr = fit["df_residual"]
    if dfr.max() == 0:
        raise InputError("no residual degrees of freedom in the linear model fits")
    covariate = fit["Amean"] if trend else None
    sq = squeeze_var(fit["sigma"] ** 2, dfr, covariate)
    s2_prior, d0, s2_post = sq["var_prior"], sq["df_prior"], sq["var_post"]
    t = coef / su / np.sqrt(s2_post)[:, None]
    df_total = np.minimum(dfr + d0, dfr.sum())
    pval = 2 * stats.t.sf(np.abs(t), df_total[:, None])
    lim = np.asarray(stdev_coef_lim, dtype=np.float64) ** 2 / np.median(s2_prior)
    var_prior = np.array([_tmixture_vector(t[:, j], su[:, j], df_total, proportion, lim)
                          for j in range(t.shape[1])])
    s2p = np.broadcast_to(s2_prior, dfr.shape)
    var_prior = np.where(np.isnan(var_prior), 1 / np.median(s2p), var_prior)
    r = (su**2 + var_prior) / su**2
    t2 = t**2
    dft = df_total[:, None]
    if d0 > 1e6:
        kernel = t2 * (1 - 1 / r) / 2
    else:
        kernel = (1 + dft) / 2 * np.log((t2 + dft) / (t2 / r + dft))
    lods = np.log(proportion / (1 - proportion)) - np.log(r) / 2 + kernel
    out = dict(fit)
    out.update(s2_prior=s2_prior, df_prior=d0, s2_post=s2_post, t=t, df_total=df_total,
               p_value=pval, lods=lods, var_prior=var_prior, proportion=proportion)
    return out


def p_adjust_bh(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values, as R ``p.adjust(method="BH")``."""
    p = np.asarray(p, dtype=np.float64)
    n = p.shape[0]
    o = np.argsort(-p, kind="stable")
    adj = np.minimum.accumulate(n / np.arange(n, 0, -1) * p[o])
    out = np.empty(n)
    out[o] = np.minimum(adj, 1.0)
    return out


def top_table(fit: dict, coef=0, n: float = np.inf, adjust: str = "BH",
              sort_by: str = "B") -> pd.DataFrame:
    """One coefficient's table as limma ``topTable``: logFC, AveExpr, t, P.Value, adj.P.Val, B.

    ``coef`` is a coefficient name or position; ``adjust`` is "BH" or "none"; ``sort_by``
    is "B" (limma's default), "p", "t" (by |t|), "logFC" (by |logFC|) or "none" (input
    order). Ties keep input order, as R's order(). The index holds the gene ids.
    """
    if "t" not in fit:
        raise InputError("top_table needs a fit processed by ebayes")
    names = fit["coef_names"]
    if isinstance(coef, str):
        if coef not in names:
            raise InputError(f"coefficient '{coef}' is not in the fit ({', '.join(names)})")
        j = names.index(coef)
    else:
        j = int(coef)
    pv = fit["p_value"][:, j]
    if adjust == "BH":
        adj = p_adjust_bh(pv)
    elif adjust == "none":
        adj = pv
    else:
        raise InputError(f"adjust method '{adjust}' is not supported (BH or none)")
    table = pd.DataFrame({
        "logFC": fit["coefficients"][:, j], "AveExpr": fit["Amean"], "t": fit["t"][:, j],
        "P.Value": pv, "adj.P.Val": adj, "B": fit["lods"][:, j],
    }, index=fit["genes"])
    keys = {"B": -table["B"], "p": table["P.Value"], "t": -table["t"].abs(),
            "logFC": -table["logFC"].abs()}
    if sort_by in keys:
        table = table.iloc[np.argsort(keys[sort_by].to_numpy(), kind="stable")]
    elif sort_by != "none":
        raise InputError(f"sort_by '{sort_by}' is not one of B, p, t, logFC, none")
    return table.iloc[: int(min(n, len(table)))]


def remove_batch_effect(E, design_keep, covariates_remove, weights=None):
    """Expression with technical covariates regressed out, as limma ``removeBatchEffect``.

    Fits E ~ [design_keep, covariates_remove] gene-wise (weighted if ``weights`` given) and
    returns E - beta_remove covariates_remove', protecting the biology in design_keep. For
    R's ``batch=`` argument pass the factor sum-coded (contr.sum), as limma codes it.
    """
    y, _ = _expr(E)
    keep = np.asarray(design_keep, dtype=np.float64)
    rem = np.asarray(covariates_remove, dtype=np.float64)
    keep = keep[:, None] if keep.ndim == 1 else keep
    rem = rem[:, None] if rem.ndim == 1 else rem
    if keep.shape[0] != y.shape[1] or rem.shape[0] != y.shape[1]:
        raise InputError(f"design_keep and covariates_remove need {y.shape[1]} rows (samples)")
    fit = lm_fit(y, np.hstack([keep, rem]), weights)
    out = y - fit["coefficients"][:, keep.shape[1]:] @ rem.T
    if isinstance(E, pd.DataFrame):
        return pd.DataFrame(out, index=E.index, columns=E.columns)
    return out
