"""limma's moderation of the gene variances (Smyth 2004, SAGMB 3:3): fitFDist, the scaled F fit
of the sample variances by moments of log F (with a natural-spline trend on a covariate, as
eBayes(trend=TRUE)), and squeezeVar, the posterior variances.
"""

from __future__ import annotations

import numpy as np
from scipy import special


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
