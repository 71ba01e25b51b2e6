"""Surrogate variable analysis as Bioconductor sva 3.46 does it.

Follows Leek & Storey (2007, PLoS Genet 3:e161) and Leek (2012, Biostatistics 13:539):
`num_sv` is sva::num.sv(method="be"), the permutation test of Buja & Eyuboglu (1992);
`irw_sva` is sva::irwsva.build, the iteratively reweighted estimate of the surrogate
variables; `sva` is sva::sva(method="irw"), the two together; `edge_lfdr` and `f_pvalue`
are sva's helpers of the same names. Matrices are genes x samples (log-expression) and
samples x covariates (designs); everything is vectorised over genes.

Permutations use a seeded numpy Generator, so `num_sv` cannot reproduce R's random stream;
on data with real structure it gives the same number of factors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.interpolate import make_smoothing_spline
from scipy.linalg import eigh, eigvalsh

SV_SIG = 0.1  # sva::num.sv: a factor counts while its permutation p-value is <= 0.1


def _as_matrix(x) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    return arr[:, None] if arr.ndim == 1 else arr


def _basis(mod: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the column space of `mod` (samples x p).

    Projecting through it costs m n p where sva's hat matrix mod (mod'mod)^-1 mod' costs m n^2.
    """
    return np.linalg.qr(mod)[0]


def _residuals(dat: np.ndarray, mod: np.ndarray) -> np.ndarray:
    q = _basis(mod)
    return dat - (dat @ q) @ q.T


def _top_eigvecs(gram: np.ndarray, k: int) -> np.ndarray:
    """The k leading eigenvectors of a symmetric matrix, largest eigenvalue first."""
    n = gram.shape[0]
    return eigh(gram, subset_by_index=[n - k, n - 1])[1][:, ::-1]


def num_sv(expr, mod, method: str = "be", B: int = 20, seed: int = 0) -> int:
    """Number of surrogate variables by the permutation method of Buja & Eyuboglu (1992).

    As sva::num.sv(dat, mod, method="be", vfilter=NULL, B): residuals of every gene on `mod`;
    the share of variance of each of the first ndf = min(m, n) - rank(mod) singular values is
    compared with the same share after permuting every gene's residuals independently across
    samples and re-residualising, B times; p-values are made monotone (cumulative maximum)
    and the number with p <= 0.1 is returned.

    expr: genes x samples; mod: samples x p full model (with intercept); seed: numpy
    Generator seed for the permutations.
    """
    if method != "be":
        raise ValueError(f"num_sv: only method='be' is implemented, not {method!r}")
    dat = _as_matrix(expr)
    mod = _as_matrix(mod)
    m, n = dat.shape
    q = _basis(mod)
    proj = np.eye(n) - q @ q.T
    res = dat - (dat @ q) @ q.T
    ndf = min(m, n) - mod.shape[1]  # sva: ceiling(trace(hat)), the rank of a full-rank mod
    if ndf < 1:
        return 0

    def shares(resid: np.ndarray) -> np.ndarray:
        # Singular values of resid @ proj from a Gram matrix on the smaller dimension, so a
        # permutation costs one m x n x min(m, n) product; P (R'R) P avoids forming R P.
        if m >= n:
            gram = proj @ (resid.T @ resid) @ proj
        else:
            gram = (resid @ proj) @ resid.T
        d2 = np.clip(eigvalsh(gram)[::-1][:ndf], 0.0, None)
        return d2 / d2.sum()

    dstat = shares(res)
    rng = np.random.default_rng(seed)
    dstat0 = np.empty((B, ndf))
    for b in range(B):
        dstat0[b] = shares(rng.permuted(res, axis=1))
    psv = np.maximum.accumulate((dstat0 >= dstat).mean(axis=0))
    return int(np.sum(psv <= SV_SIG))


def f_pvalue(expr, mod, mod0) -> np.ndarray:
    """Per-gene F-test p-values of nested linear models, as sva::f.pvalue.

    Computed as 1 - F cdf like sva, so p-values below ~1e-16 are exactly 0 as in R.
    """
    dat = _as_matrix(expr)
    mod = _as_matrix(mod)
    mod0 = _as_matrix(mod0)
    n = dat.shape[1]
    df1, df0 = mod.shape[1], mod0.shape[1]
    rss1 = np.sum(_residuals(dat, mod) ** 2, axis=1)
    rss0 = np.sum(_residuals(dat, mod0) ** 2, axis=1)
    fstat = ((rss0 - rss1) / (df1 - df0)) / (rss1 / (n - df1))
    return 1.0 - stats.f.cdf(fstat, df1 - df0, n - df1)


def _bw_nrd0(x: np.ndarray) -> float:
    """Silverman's rule of thumb as R's bw.nrd0."""
    hi = np.std(x, ddof=1)
    q75, q25 = np.percentile(x, [75, 25])
    lo = min(hi, (q75 - q25) / 1.34)
    if not lo:
        lo = hi or abs(x[0]) or 1.0
    return 0.9 * lo * len(x) ** -0.2


def _r_density(x: np.ndarray, adjust: float, n: int = 512, cut: float = 3.0):
    """Gaussian kernel density on R's grid, as stats::density.default (R 4.2).

    Linear binning onto n points spanning the data +- (cut + 4) bandwidths, zero-padded to 2n,
    circular convolution with the kernel by FFT, then linear interpolation onto the n output
    points from min(x) - cut*bw to max(x) + cut*bw.
    """
    bw = adjust * _bw_nrd0(x)
    frm, to = x.min() - cut * bw, x.max() + cut * bw
    lo, up = frm - 4 * bw, to + 4 * bw
    delta = (up - lo) / (n - 1)
    pos = (x - lo) / delta
    ix = np.floor(pos).astype(int)
    fx = pos - ix
    w = 1.0 / len(x)
    binned = np.zeros(2 * n)
    np.add.at(binned, ix, w * (1 - fx))
    np.add.at(binned, ix + 1, w * fx)
    kords = np.linspace(0.0, 2 * (up - lo), 2 * n)
    kords[n + 1 :] = -kords[n - 1 : 0 : -1]
    kern = stats.norm.pdf(kords, scale=bw)
    conv = np.fft.ifft(np.fft.fft(binned) * np.conj(np.fft.fft(kern))).real[:n]
    dens = np.maximum(conv, 0.0)
    grid = np.linspace(frm, to, n)
    return grid, np.interp(grid, np.linspace(lo, up, n), dens)


def edge_lfdr(p, lambda_: float = 0.8, adj: float = 1.5, eps: float = 1e-8) -> np.ndarray:
    """Local false discovery rates of p-values, as sva::edge.lfdr (probit, trunc, monotone).

    Storey's pi0 at lambda; the density of probit(p) is a Gaussian KDE (bandwidth adj times
    R's bw.nrd0) smoothed by a cubic smoothing spline with GCV-chosen penalty;
    lfdr = pi0 * phi(x) / f(x), truncated at 1 and made non-decreasing in p. The spline is
    scipy's make_smoothing_spline (knots at all 512 density points) where R's smooth.spline
    uses about 119 knots; on a KDE grid both interpolate the density to ~1e-4.
    """
    p = np.asarray(p, dtype=float)
    pi0 = min(np.mean(p >= lambda_) / (1 - lambda_), 1.0)
    x = stats.norm.ppf(np.clip(p, eps, 1 - eps))
    grid, dens = _r_density(x, adjust=adj)
    fitted = make_smoothing_spline(grid, dens)(x)
    lfdr = np.minimum(pi0 * stats.norm.pdf(x) / fitted, 1.0)
    # sva's mono(): cumulative maximum along increasing p; ties share one value either way.
    order = np.argsort(p, kind="stable")
    out = np.empty_like(lfdr)
    out[order] = np.maximum.accumulate(lfdr[order])
    return out


def irw_sva(expr, mod, mod0, n_sv: int, B: int = 5) -> pd.DataFrame | np.ndarray:
    """Surrogate variables by iteratively reweighted SVA, as sva::irwsva.build.

    Start from the eigenvectors of the residual cross-product (residuals of `mod`); then B
    times: pprob.b = 1 - lfdr of the F-test of `mod` given `mod0` + current SVs (probability
    that a gene is associated with the biology), pprob.gam = 1 - lfdr of the F-test of the
    current SVs given `mod0` (probability that it carries the unwanted factor), gene weights
    pprob.gam * (1 - pprob.b), and new SVs from the weighted, row-centred data. The result is
    the first n_sv right singular vectors of the final weighted data.

    expr: genes x samples (DataFrame or array); mod: samples x p full model; mod0: null model,
    or None for the intercept (mod's first column), as sva. Returns samples x n_sv (a DataFrame with
    columns SV1.. indexed by sample when expr is a DataFrame), each column of unit norm.
    """
    dat = _as_matrix(expr)
    modm = _as_matrix(mod)
    mod0m = modm[:, :1] if mod0 is None else _as_matrix(mod0)
    if n_sv < 1:
        raise ValueError("irw_sva: n_sv must be at least 1")
    resid = _residuals(dat, modm)
    vecs = _top_eigvecs(resid.T @ resid, n_sv)
    del resid
    for _ in range(B):
        svs = vecs
        pprob_b = 1 - edge_lfdr(f_pvalue(dat, np.hstack([modm, svs]), np.hstack([mod0m, svs])))
        pprob_gam = 1 - edge_lfdr(f_pvalue(dat, np.hstack([mod0m, svs]), mod0m))
        dats = dat * (pprob_gam * (1 - pprob_b))[:, None]
        dats -= dats.mean(axis=1, keepdims=True)
        # right singular vectors of dats, as sva's svd(dats)$v, from the n x n cross-product
        vecs = _top_eigvecs(dats.T @ dats, n_sv)
    sv = vecs
    if isinstance(expr, pd.DataFrame):
        return pd.DataFrame(sv, index=expr.columns, columns=[f"SV{i + 1}" for i in range(n_sv)])
    return sv


def sva(expr, mod, mod0=None, n_sv: int | None = None, B: int = 5, num_sv_B: int = 20,
        seed: int = 0) -> pd.DataFrame | np.ndarray:
    """Surrogate variables as sva::sva(dat, mod, mod0, n.sv, method="irw", B).

    n_sv=None estimates the number by `num_sv` (method "be", num_sv_B permutations, seeded);
    zero surrogate variables give a samples x 0 result. Otherwise as `irw_sva`.
    """
    if n_sv is None:
        n_sv = num_sv(expr, mod, B=num_sv_B, seed=seed)
    if n_sv == 0:
        if isinstance(expr, pd.DataFrame):
            return pd.DataFrame(index=expr.columns)
        return np.empty((np.shape(expr)[1], 0))
    return irw_sva(expr, mod, mod0, n_sv, B=B)
