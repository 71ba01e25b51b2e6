"""Robust empirical Bayes in limma: eBayes(robust=TRUE) in numpy.

Reproduces limma 3.54's ``fitFDistRobustly`` (Phipson, Lee, Majewski, Alexander & Smyth
2016, Ann Appl Stat 10:946), ``squeezeVar(robust=TRUE)`` and the moderated statistics of
``eBayes(robust=TRUE)``, where the prior degrees of freedom differ between genes: genes
whose residual variance is an outlier against the scaled F distribution get a smaller
df_prior, so their variance is shrunk less.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..core.errors import InputError
from .limma import _tmixture_vector
from .limma_squeeze import fit_f_dist

_EPS = np.finfo(np.float64).eps


def _gauss_legendre_unit(n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """statmod ``gauss.quad.prob(n, "uniform")``: nodes on [0, 1], weights summing to 1."""
    x, w = np.polynomial.legendre.leggauss(n)
    return (x + 1) / 2, w / 2


_NODES, _WEIGHTS = _gauss_legendre_unit()


def _qf(p, df1, df2):
    if np.isinf(df2):
        return stats.chi2.ppf(p, df1) / df1
    return stats.f.ppf(p, df1, df2)


def _df(x, df1, df2):
    if np.isinf(df2):
        return df1 * stats.chi2.pdf(x * df1, df1)
    return stats.f.pdf(x, df1, df2)


def _winsorized_moments(df1: float, df2: float, tail_p) -> tuple[float, float]:
    """Mean and variance of log(F(df1, df2)) winsorized at the tail probabilities.

    limma's ``winsorizedMoments``: 128-point Gauss-Legendre quadrature in q = F/(1+F)
    between the two quantiles, plus the point masses of the winsorized tails.
    """
    fq = _qf(np.array([tail_p[0], 1 - tail_p[1]]), df1, df2)
    zq = np.log(fq)
    q = fq / (1 + fq)
    nodes = q[0] + (q[1] - q[0]) * _NODES
    fnodes = nodes / (1 - nodes)
    znodes = np.log(fnodes)
    f = _df(fnodes, df1, df2) / (1 - nodes) ** 2
    q21 = q[1] - q[0]
    m = q21 * np.sum(_WEIGHTS * f * znodes) + np.sum(zq * tail_p)
    v = q21 * np.sum(_WEIGHTS * f * (znodes - m) ** 2) + np.sum((zq - m) ** 2 * tail_p)
    return float(m), float(v)


def _zeroin(f, ax, bx, fa, fb, tol, maxit=1000) -> float:
    """R's ``uniroot`` (R_zeroin2, Brent 1973 as in netlib's zeroin), step for step."""
    a, b, c, fc = ax, bx, ax, fa
    if fa == 0:
        return a
    if fb == 0:
        return b
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def _rank_average(x: np.ndarray) -> np.ndarray:
    return stats.rankdata(x, method="average")


def _trimmed_mean(x: np.ndarray, trim: float) -> float:
    """R's mean(x, trim=)."""
    x = np.sort(x)
    n = x.shape[0]
    if trim >= 0.5:
        return float(np.median(x))
    lo = int(np.floor(n * trim))
    return float(x[lo:n - lo].mean())


def fit_f_dist_robustly(x, df1, winsor_tail_p=(0.05, 0.1)) -> dict:
    """Robust scaled-F prior with gene-wise prior df, limma 3.54 ``fitFDistRobustly``.

    Phipson et al. 2016: log variances are winsorized at the tail probabilities
    ``winsor_tail_p`` (after a trimmed-mean trend); df2 solves
    var(winsorized log s^2) = var of winsorized log F(df1, df2) (uniroot on
    df2/(1+df2), tol 1e-8), s0^2 follows from the winsorized mean. Each gene's
    probability of not being an outlier, min(1, tail p / empirical tail p), mixes df2
    with the outlier df (df2_outlier) into df2_shrunk, made monotone in the tail
    probability as limma does. Genes with df1 below the largest df1 are first mapped to it
    through their F tail probability. Returns dict(scale, df2, df2_shrunk, tail_p_value,
    prob_outlier). No covariate (robust limma-trend needs limma's loessFit, not ported).
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    df1 = np.broadcast_to(np.asarray(df1, dtype=np.float64), x.shape)
    tail = np.resize(np.asarray(winsor_tail_p, dtype=np.float64), 2)
    if n < 2:
        return {"scale": np.nan, "df2": np.nan, "df2_shrunk": np.full(n, np.nan)}
    if n == 2:
        scale, df2 = fit_f_dist(x, df1)
        return {"scale": scale, "df2": df2, "df2_shrunk": np.full(n, df2)}
    ok = ~np.isnan(x) & np.isfinite(df1) & (df1 > 1e-6)
    if not ok.all():
        fit = fit_f_dist_robustly(x[ok], df1[ok], tail)
        shrunk = x.copy()
        shrunk[ok] = fit["df2_shrunk"]
        shrunk[~ok] = fit["df2"]
        return {"scale": fit["scale"], "df2": fit["df2"], "df2_shrunk": shrunk}
    x = x.copy()
    m = np.median(x)
    if m <= 0:
        raise InputError("residual variances are mostly <= 0")
    x[x < m * 1e-12] = m * 1e-12
    s2_nonrobust, df2_nonrobust = fit_f_dist(x, df1)
    if (tail < 1 / n).all():
        return {"scale": s2_nonrobust, "df2": df2_nonrobust,
                "df2_shrunk": np.full(n, df2_nonrobust)}
    if np.ptp(df1) > 0:
        df1max = df1.max()
        low = df1 < df1max - 1e-14
        if low.any():
            f = x[low] / s2_nonrobust
            d1 = df1[low]
            pup = stats.f.logsf(f, d1, df2_nonrobust)
            plo = stats.f.logcdf(f, d1, df2_nonrobust)
            up = pup < plo
            f = np.where(up, stats.f.isf(np.exp(pup), df1max, df2_nonrobust),
                         stats.f.ppf(np.exp(plo), df1max, df2_nonrobust))
            x[low] = f * s2_nonrobust
        d1 = float(df1max)
    else:
        d1 = float(df1[0])
    z = np.log(x)
    ztrend = _trimmed_mean(z, tail[1])
    zresid = z - ztrend
    zrq = np.quantile(zresid, [tail[0], 1 - tail[1]])
    zwins = np.clip(zresid, zrq[0], zrq[1])
    zwmean = zwins.mean()
    zwvar = np.mean((zwins - zwmean) ** 2) * n / (n - 1)

    def fun(u):
        return np.log(zwvar / _winsorized_moments(d1, u / (1 - u), tail)[1])

    mom_mean, mom_var = _winsorized_moments(d1, np.inf, tail)
    funval_inf = np.log(zwvar / mom_var)
    if funval_inf <= 0:
        zcorr = ztrend + zwmean - mom_mean
        fstat = np.exp(z - zcorr)
        tailp = stats.chi2.sf(fstat * d1, d1)
        emp = (n - _rank_average(fstat) + 0.5) / n
        pno = np.minimum(tailp / emp, 1)
        shrunk = np.full(n, np.inf)
        out = pno < 1
        if out.any():
            shrunk[out] = pno[out] * n * d1
            o = np.argsort(tailp, kind="stable")
            shrunk[o] = np.maximum.accumulate(shrunk[o])
        return {"scale": float(np.exp(zcorr)), "df2": np.inf, "df2_shrunk": shrunk,
                "tail_p_value": tailp}
    if np.isinf(df2_nonrobust):
        return {"scale": s2_nonrobust, "df2": np.inf, "df2_shrunk": np.full(n, np.inf)}
    rbx = df2_nonrobust / (1 + df2_nonrobust)
    funval_low = fun(rbx)
    if funval_low >= 0:
        df2 = df2_nonrobust
    else:
        root = _zeroin(fun, rbx, 1.0, funval_low, funval_inf, 1e-8)
        df2 = root / (1 - root)
    mom_mean, _ = _winsorized_moments(d1, df2, tail)
    zcorr = ztrend + zwmean - mom_mean
    fstat = np.exp(z - zcorr)
    logtailp = stats.f.logsf(fstat, d1, df2)
    logemp = np.log(n - _rank_average(fstat) + 0.5) - np.log(n)
    logpno = np.minimum(logtailp - logemp, 0)
    pno = np.exp(logpno)
    pout = -np.expm1(logpno)
    if (logpno < 0).any():
        minlog = logtailp.min()
        if minlog == -np.inf:
            shrunk = pno * df2
        else:
            df2_out = np.log(0.5) / minlog * df2
            newlog = stats.f.logsf(fstat.max(), d1, df2_out)
            df2_out = np.log(0.5) / newlog * df2_out
            shrunk = pno * df2 + pout * df2_out
        o = np.argsort(logtailp, kind="stable")
        ordered = shrunk[o]
        cm = np.cumsum(ordered) / np.arange(1, n + 1)
        imin = int(np.argmin(cm))
        ordered[:imin + 1] = cm[imin]
        shrunk[o] = np.maximum.accumulate(ordered)
    else:
        shrunk = np.full(n, df2)
    return {"scale": float(np.exp(zcorr)), "df2": float(df2), "df2_shrunk": shrunk,
            "tail_p_value": np.exp(logtailp), "prob_outlier": pout}


def squeeze_var_robust(var, df, winsor_tail_p=(0.05, 0.1)) -> dict:
    """limma 3.54 ``squeezeVar(robust=TRUE)``: posterior variances with gene-wise df_prior.

    var_post = (d s^2 + d0_g s0^2) / (d + d0_g), and s0^2 where d0_g is infinite.
    """
    var = np.asarray(var, dtype=np.float64)
    n = var.shape[0]
    if n == 0:
        raise InputError("no variances to squeeze")
    dfa = np.asarray(df, dtype=np.float64)
    if n == 1:
        return {"df_prior": np.zeros(1), "var_prior": var[0], "var_post": var}
    if dfa.ndim > 0 and dfa.size > 1:
        var = np.where(dfa == 0, 0.0, var)
    df = np.broadcast_to(dfa, var.shape)
    fit = fit_f_dist_robustly(var, df, winsor_tail_p)
    d0 = fit["df2_shrunk"]
    if np.isnan(d0).any():
        raise InputError("could not estimate the prior df")
    s0 = fit["scale"]
    fin = np.isfinite(d0)
    with np.errstate(invalid="ignore"):
        post = np.where(fin, (df * var + np.where(fin, d0, 0) * s0) / (df + np.where(fin, d0, 0)),
                        s0)
    return {"df_prior": d0, "var_prior": s0, "var_post": post, "fit": fit}


def ebayes_robust(fit: dict, proportion: float = 0.01, stdev_coef_lim=(0.1, 4),
                  trend: bool = False, winsor_tail_p=(0.05, 0.1)) -> dict:
    """limma 3.54 ``eBayes(fit, robust=TRUE)``: moderated t and B with gene-wise df_prior.

    As ``bloodsig.stats.limma.ebayes`` (Smyth 2004) with (s0^2, d0_g) from
    ``squeeze_var_robust``: t = beta / (su sqrt(s2_post)), df_total = min(d + d0_g, sum(d)),
    p = 2 P(T_df_total > |t|), and B with the log-odds kernel t^2 (1 - 1/r) / 2 for genes
    with d0_g > 1e6. ``df_prior`` in the result is a vector (one per gene).
    """
    if trend:
        raise NotImplementedError("robust eBayes with trend=True (limma's loessFit) is not "
                                  "ported")
    coef, su = fit["coefficients"], fit["stdev_unscaled"]
    dfr = fit["df_residual"]
    if dfr.max() == 0:
        raise InputError("no residual degrees of freedom in the linear model fits")
    sq = squeeze_var_robust(fit["sigma"] ** 2, dfr, winsor_tail_p)
    s2_prior, d0, s2_post = sq["var_prior"], sq["df_prior"], sq["var_post"]
    t = coef / su / np.sqrt(s2_post)[:, None]
    df_total = np.minimum(dfr + d0, np.nansum(dfr))
    pval = 2 * stats.t.sf(np.abs(t), df_total[:, None])
    lim = np.asarray(stdev_coef_lim, dtype=np.float64) ** 2 / s2_prior
    var_prior = np.array([_tmixture_vector(t[:, j], su[:, j], df_total, proportion, lim)
                          for j in range(t.shape[1])])
    var_prior = np.where(np.isnan(var_prior), 1 / s2_prior, var_prior)
    r = (su**2 + var_prior) / su**2
    t2 = t**2
    dft = df_total[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = np.where((d0 > 1e6)[:, None], t2 * (1 - 1 / r) / 2,
                          (1 + dft) / 2 * np.log((t2 + dft) / (t2 / r + dft)))
    lods = np.log(proportion / (1 - proportion)) - np.log(r) / 2 + kernel
    out = dict(fit)
    out.update(s2_prior=s2_prior, df_prior=d0, s2_post=s2_post, t=t, df_total=df_total,
               p_value=pval, lods=lods, var_prior=var_prior, proportion=proportion)
    return out

