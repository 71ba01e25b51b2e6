"""Repeated measures in limma: duplicateCorrelation and lmFit(block=, correlation=) in numpy.

Reproduces limma 3.54 (with statmod 1.5) for a blocking factor (patients measured several
times): ``duplicate_correlation`` estimates the consensus intra-block correlation and
``gls_fit`` fits every gene by generalised least squares with that correlation, as
``lmFit(..., block=, correlation=)``. ``voom_block`` runs the two-pass voom of the limma
user's guide (section "Multi-level experiments"). Both are vectorised over genes.

The per-gene REML of duplicateCorrelation is statmod's ``mixedModel2Fit``: y = Xb + Zu + e
with var(e) = s2_e, var(u) = s2_b, on weighted data sqrt(w)y, sqrt(w)X (Z unweighted).
Projected onto the residual space of X, the squared coordinates dy_k along the singular
vectors of Q2'Z are independent with E(dy_k) = s2_e + s2_b d_k (d_k the squared singular
values, 0 beyond the rank of Z), and (s2_e, s2_b) is the gamma GLM (identity link) fit of
dy on (1, d) by statmod's ``glmgam.fit``: Levenberg-damped Fisher scoring, tol 1e-6, at most
20 + 1 iterations in duplicateCorrelation. Here the nonzero d_k are the eigenvalues of
Z'MZ (M the residual projector, k <= number of blocks) and dy_k = (v_k'Z'My)^2 / d_k; the
coordinates with d = 0 enter the GLM as one row of multiplicity mq - K with their mean
(their sum is |My|^2 - sum_k dy_k). Rows with equal covariates enter the gamma score,
information and deviance differences only through their sum, so every iterate is R's
(tied singular values make R's own basis arbitrary in the same way).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.errors import InputError
from .limma import _design, _expr, voom
from .limma_kernels import _CHUNK


def _block_codes(block, n: int, samples=None) -> tuple[np.ndarray, int]:
    """Integer block codes 0..nb-1 (in order of first appearance) for the n samples."""
    if isinstance(block, pd.Series) and samples is not None and not isinstance(
            block.index, pd.RangeIndex):
        missing = [s for s in samples if s not in block.index]
        if missing:
            raise InputError(f"block has no value for sample '{missing[0]}'")
        block = block.loc[list(samples)]
    b = np.asarray(block)
    if b.ndim != 1 or b.shape[0] != n:
        raise InputError(f"block has {b.size} values for {n} samples")
    if pd.isna(b).any():
        raise InputError("block contains missing values")
    codes, uniques = pd.factorize(b)
    return codes.astype(np.intp), len(uniques)


def _weights(weights, shape) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1 and w.shape[0] == shape[1]:
        return np.broadcast_to(w, shape)
    if w.shape != shape:
        raise InputError(f"weights have shape {w.shape}; expected ({shape[1]},) or {shape}")
    return w


def _trimmed_mean(x: np.ndarray, trim: float) -> float:
    """R's mean(x, trim=, na.rm=TRUE)."""
    x = np.sort(x[~np.isnan(x)])
    n = x.shape[0]
    if n == 0:
        return np.nan
    if trim >= 0.5:
        return float(np.median(x))
    lo = int(np.floor(n * trim))
    return float(x[lo:n - lo].mean())


def duplicate_correlation(E, design, block, weights=None, trim: float = 0.15) -> dict:
    """Consensus intra-block correlation, limma 3.54 ``duplicateCorrelation(block=)``.

    For every gene with nobs > p + 2 and 1 < blocks < nobs - 1, rho_g = s2_b / (s2_e + s2_b)
    from the REML fit of the random-block model (statmod ``mixedModel2Fit``, see the module
    docstring; Smyth, Michaud & Scott 2005, Bioinformatics 21:2067). rho_g is limited to
    [1/(1 - max block size) + 0.01, 0.99], and the consensus is
    tanh(trimmed mean(atanh(rho_g), trim)). Weights <= 0 and non-finite values are
    missing. Returns dict(consensus_correlation, atanh_correlations) with NaN for genes
    that were not fitted; both are 0 when every block has one sample or the design
    already contains the blocks, as in limma.
    """
    y, index = _expr(E)
    ngenes, n = y.shape
    samples = E.columns if isinstance(E, pd.DataFrame) else None
    x, _ = _design(design, n, samples)
    codes, nb = _block_codes(block, n, samples)
    sizes = np.bincount(codes, minlength=nb)
    zeros = {"consensus_correlation": 0.0, "atanh_correlations": np.zeros(ngenes)}
    if sizes.max() == 1:
        return zeros
    q = np.linalg.qr(x, mode="complete")[0]
    dummies = (codes[:, None] == np.arange(1, nb)).astype(np.float64)
    if np.abs(q[:, x.shape[1]:].T @ dummies).max() < 1e-8:
        return zeros
    w = _weights(weights, y.shape)
    missing = ~np.isfinite(y)
    if w is not None:
        missing |= ~(w > 0)
    rho = np.full(ngenes, np.nan)
    full = np.flatnonzero(~missing.any(axis=1))
    for s in range(0, full.shape[0], _CHUNK):
        g = full[s:s + _CHUNK]
        rho[g] = _rho_batch(y[g], x, codes, nb, None if w is None else w[g])
    for g in np.flatnonzero(missing.any(axis=1)):
        o = ~missing[g]
        c, nbo = pd.factorize(codes[o])[0], len(np.unique(codes[o]))
        rho[g] = _rho_batch(y[g, o][None], x[o], c, nbo,
                            None if w is None else w[g, o][None])[0]
    rhomin = 1 / (1 - sizes.max()) + 0.01
    rho = np.clip(rho, rhomin, 0.99)
    arho = np.arctanh(rho)
    out = {"consensus_correlation": float(np.tanh(_trimmed_mean(arho, trim))),
           "atanh_correlations": arho}
    if index is not None:
        out["atanh_correlations"] = pd.Series(arho, index=index, name="atanh_correlation")
    return out


def _rho_batch(y, x, codes, nb, w, tol: float = 1e-6, maxit: int = 20) -> np.ndarray:
    """rho = s2_b / (s2_e + s2_b) for genes sharing one set of observed samples."""
    ngenes, n = y.shape
    p = x.shape[1]
    mq = n - p
    if not (n > p + 2 and 1 < nb < n - 1):
        return np.full(ngenes, np.nan)
    z = (codes[:, None] == np.arange(nb)).astype(np.float64)
    sw = np.ones((ngenes, n)) if w is None else np.sqrt(w)
    yw = sw * y
    xw = sw[:, :, None] * x  # G x n x p (Z is not weighted, as in mixedModel2Fit)
    xtx = np.einsum("gip,giq->gpq", xw, xw)
    xtz = np.einsum("gip,ik->gpk", xw, z)
    xty = np.einsum("gip,gi->gp", xw, yw)
    inv = np.linalg.inv(xtx)
    b = np.einsum("gpq,gq->gp", inv, xty)
    b += np.einsum("gpq,gq->gp", inv, xty - np.einsum("gpq,gq->gp", xtx, b))
    resid = yw - np.einsum("gip,gp->gi", xw, b)
    rss = (resid**2).sum(axis=1)
    zmz = z.T @ z - np.einsum("gpk,gpq,gql->gkl", xtz, inv, xtz)
    zmy = resid @ z  # Z'My
    lam, vec = np.linalg.eigh(zmz)
    lam = lam[:, ::-1][:, :min(nb, mq)]
    vec = vec[:, :, ::-1][:, :, :min(nb, mq)]
    # R's singular values of Q2'Z that are zero in exact arithmetic come out ~1e-16 relative,
    # so its d = s^2 ~ 1e-32: treat eigenvalues at rounding level as exact zeros.
    lam = np.where(lam > 1e-10 * lam[:, :1], lam, 0.0)
    nonzero = lam > 0
    proj = np.einsum("gkj,gk->gj", vec, zmy)
    with np.errstate(divide="ignore", invalid="ignore"):
        dy = np.where(nonzero, proj**2 / lam, 0.0)
    k = nonzero.sum(axis=1)
    m0 = mq - k
    rest = np.maximum(rss - dy.sum(axis=1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        y0 = np.where(m0 > 0, rest / m0, 0.0)
    # GLM rows: the K nonzero eigenvalues (multiplicity 1), then the d = 0 row (multiplicity m0)
    d = np.concatenate([lam, np.zeros((ngenes, 1))], axis=1)
    dyr = np.concatenate([np.where(nonzero, dy, 1.0), y0[:, None]], axis=1)
    wt = np.concatenate([nonzero.astype(np.float64), m0[:, None].astype(np.float64)], axis=1)
    varcomp = _mixed_model_varcomp(d, dyr, wt, mq, tol, maxit)
    with np.errstate(divide="ignore", invalid="ignore"):
        return varcomp[:, 1] / varcomp.sum(axis=1)


def _mixed_model_varcomp(d, dy, wt, mq, tol, maxit) -> np.ndarray:
    """statmod ``mixedModel2Fit(only.varcomp=TRUE)`` from the (d, dy) rows with multiplicities."""
    sw = wt.sum(axis=1)
    # lm.fit(dx, dy): least squares of dy on (1, d) over the expanded rows
    s1, sd, sdd = sw, (wt * d).sum(axis=1), (wt * d * d).sum(axis=1)
    sy, sdy = (wt * dy).sum(axis=1), (wt * d * dy).sum(axis=1)
    det = s1 * sdd - sd * sd
    with np.errstate(divide="ignore", invalid="ignore"):
        b1 = (s1 * sdy - sd * sy) / det
        b0 = (sy - b1 * sd) / s1
        vard = (sdd - sd * sd / sw) / (sw - 1)
    start = np.column_stack([b0, b1])
    count = (wt * (np.abs(d) > 1e-15) * (wt > 0)).sum(axis=1)
    glm = (mq > 2) & (count > 1) & (vard > 1e-15)
    out = np.where(glm[:, None] | ~(vard > 1e-15)[:, None], np.nan, start)
    if glm.any():
        fitted = start[glm, :1] + start[glm, 1:] * d[glm]
        ok = np.where(wt[glm] > 0, fitted >= 0, True).all(axis=1)
        st = np.where(ok[:, None], start[glm],
                      np.column_stack([sy[glm] / sw[glm], np.zeros(glm.sum())]))
        out[glm] = _glmgam(d[glm], dy[glm], wt[glm], st, tol, maxit)
    return out


def _gamma_deviance(y, mu, wt):
    real = wt > 0
    skip = (y < 1e-15) & (mu < 1e-15)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = (y - mu) / mu - np.log(y / mu)
    dev = 2 * np.where(real & ~skip, wt * term, 0.0).sum(axis=1)
    dev[(real & (mu < 0)).any(axis=1)] = np.inf
    return dev


def _glmgam(d, y, wt, beta, tol, maxit) -> np.ndarray:
    """statmod ``glmgam.fit`` (gamma GLM, identity link, Levenberg damping) for a batch.

    Columns are (1, d); wt are row multiplicities (0 for padding rows). Every gene follows
    R's iteration exactly: v = max(mu^2, max(mu^2)/1000), step (X'V^-1X + lambda I)^-1 dl
    by Cholesky, lambda doubled until the deviance does not increase, divided by 10 after
    a first-try step, stop when dl'dbeta < tol or after maxit + 1 iterations.
    """
    real = wt > 0
    beta = beta.copy()
    mu = beta[:, :1] + beta[:, 1:] * d
    dev = _gamma_deviance(y, mu, wt)
    lam = np.zeros(beta.shape[0])
    active = np.ones(beta.shape[0], dtype=bool)
    it = 0
    while active.any():
        it += 1
        a = np.flatnonzero(active)
        m, da, wa, ya = mu[a], d[a], wt[a], y[a]
        v = m * m
        v = np.maximum(v, np.where(real[a], v, -np.inf).max(axis=1)[:, None] / 1e3)
        iv = wa / v
        x11, x12, x22 = iv.sum(axis=1), (iv * da).sum(axis=1), (iv * da * da).sum(axis=1)
        maxinfo = np.maximum(x11, x22)
        if it == 1:
            lam[a] = np.abs((x11 + x22) / 2) / 2
        r = (ya - m) * iv
        dl1, dl2 = r.sum(axis=1), (r * da).sum(axis=1)
        bold, devold = beta[a].copy(), dev[a]
        lev = np.zeros(a.shape[0], dtype=int)
        fail = np.zeros(a.shape[0], dtype=bool)
        db = np.zeros((a.shape[0], 2))
        inner = np.ones(a.shape[0], dtype=bool)
        while inner.any():
            i = np.flatnonzero(inner)
            gi = a[i]
            lev[i] += 1
            lm_ = lam[gi]
            r11 = np.sqrt(x11[i] + lm_)
            r12 = x12[i] / r11
            r22 = np.sqrt(x22[i] + lm_ - r12 * r12)
            z1 = dl1[i] / r11
            z2 = (dl2[i] - r12 * z1) / r22
            s2 = z2 / r22
            s1 = (z1 - r12 * s2) / r11
            step = np.column_stack([s1, s2])
            bt = bold[i] + step
            mt = bt[:, :1] + bt[:, 1:] * d[gi]
            dt = _gamma_deviance(y[gi], mt, wt[gi])
            mumax = np.where(real[gi], mt, -np.inf).max(axis=1)
            accept = (dt <= devold[i]) | (dt / mumax < 1e-15)
            toomuch = ~accept & (lm_ / maxinfo[i] > 1e15)
            take = accept | toomuch
            beta[gi[take]] = np.where(toomuch[take, None], bold[i[take]], bt[take])
            mu[gi[take]] = mt[take]
            dev[gi[take]] = dt[take]
            db[i[take]] = step[take]
            fail[i[toomuch]] = True
            lam[gi[~take]] *= 2
            inner[i[take]] = False
        first = lev == 1
        lam[a[first & ~fail]] /= 10
        mumax = np.where(real[a], mu[a], -np.inf).max(axis=1)
        conv = ((dl1 * db[:, 0] + dl2 * db[:, 1]) < tol) | (dev[a] / mumax < 1e-15)
        active[a[fail | conv | (it > maxit)]] = False
    return beta


def gls_fit(E, design, block, correlation: float, weights=None) -> dict:
    """Gene-wise generalised least squares, limma 3.54 ``lmFit(block=, correlation=)``.

    limma's ``gls.series``: with C the intra-block correlation matrix (1 on the diagonal,
    rho within a block, 0 between blocks) and W_g = diag(weights), var(y_g) = sigma_g^2
    W_g^-1/2 C W_g^-1/2, so beta_g = (X'W^1/2 C^-1 W^1/2 X)^-1 X'W^1/2 C^-1 W^1/2 y_g,
    stdev_unscaled = sqrt(diag of that inverse), sigma_g^2 = r'C^-1 r / (n_g - p) with
    r = W^1/2 (y - X beta). C^-1 is block-wise (1/(1-rho)) (I - rho/(1 - rho + m rho) 11')
    for a block of m observed samples, which makes the fit a batch of p x p systems.
    Missing values (non-finite E or weight < 1e-15) drop out of that gene's fit, as limma's
    per-gene refit on the observed samples does. Amean is the row mean of E;
    cov_coefficients = (X'C^-1X)^-1. Returns the ``lm_fit`` dict plus block and correlation.
    """
    y, index = _expr(E)
    ngenes, n = y.shape
    samples = E.columns if isinstance(E, pd.DataFrame) else None
    x, names = _design(design, n, samples)
    p = x.shape[1]
    codes, nb = _block_codes(block, n, samples)
    rho = float(correlation)
    if not np.isfinite(rho) or abs(rho) >= 1:
        raise InputError("the intra-block correlation must lie strictly between -1 and 1")
    z = (codes[:, None] == np.arange(nb)).astype(np.float64)
    if weights is None:
        w = np.ones((1, n))
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim == 1:
            w = w[None]
        if w.shape not in ((1, n), (ngenes, n)):
            raise InputError(f"weights have shape {w.shape}; expected ({n},) or {y.shape}")
        if np.isnan(w).any() or (w < 0).any() or np.isinf(w).any():
            raise InputError("weights must be finite and non-negative")
    observed = np.isfinite(y) & (w >= 1e-15)
    nobs = observed.sum(axis=1)
    with np.errstate(invalid="ignore"):
        amean = np.where(np.isfinite(y), y, 0).sum(axis=1) / np.isfinite(y).sum(axis=1)
    coef = np.full((ngenes, p), np.nan)
    su = np.full((ngenes, p), np.nan)
    rss = np.full(ngenes, np.nan)
    iu, ju = np.triu_indices(p)
    pairs = x[:, iu] * x[:, ju]
    xz = (z[:, :, None] * x[:, None, :]).reshape(n, nb * p)
    for s in range(0, ngenes, _CHUNK):
        sl = slice(s, min(s + _CHUNK, ngenes))
        ob = observed[sl]
        g = ob.shape[0]
        sw = np.where(ob, np.sqrt(np.broadcast_to(w, y.shape)[sl]), 0.0)
        yc = np.where(ob, y[sl], 0.0)
        m = ob @ z  # observed samples per block
        c = rho / (1 - rho + m * rho)
        u = (sw @ xz).reshape(g, nb, p)  # sum over a block of sqrt(w) x
        a = np.empty((g, p, p))
        upper = (sw * sw) @ pairs
        a[:, iu, ju] = upper
        a[:, ju, iu] = upper
        a -= np.einsum("gb,gbj,gbk->gjk", c, u, u)
        rhs = (sw * sw * yc) @ x - np.einsum("gb,gbj,gb->gj", c, u, (sw * yc) @ z)
        fitted = nobs[sl] >= p
        a[~fitted] = np.eye(p)
        try:
            inv = np.linalg.inv(a)
        except np.linalg.LinAlgError:
            raise InputError("a gene's observed samples do not identify every design "
                             "coefficient (singular weighted design)") from None
        b = np.einsum("gij,gj->gi", inv, rhs)
        b += np.einsum("gij,gj->gi", inv, rhs - np.einsum("gij,gj->gi", a, b))
        r = sw * (yc - b @ x.T)
        rs = (r * r).sum(axis=1) - (c * (r @ z) ** 2).sum(axis=1)
        coef[sl] = np.where(fitted[:, None], b, np.nan)
        su[sl] = np.where(fitted[:, None],
                          np.sqrt(np.diagonal(inv, axis1=1, axis2=2) * (1 - rho)), np.nan)
        rss[sl] = rs / (1 - rho)
    df = (nobs - p).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.where(df > 0, np.sqrt(np.maximum(rss, 0) / df), np.nan)
    df = np.maximum(df, 0)
    cinv = z @ np.diag(rho / (1 - rho + z.sum(axis=0) * rho)) @ z.T
    cinv = (np.eye(n) - cinv) / (1 - rho)
    return {
        "coefficients": coef,
        "stdev_unscaled": su,
        "sigma": sigma,
        "df_residual": df,
        "Amean": amean,
        "cov_coefficients": np.linalg.inv(x.T @ cinv @ x),
        "design": x,
        "coef_names": names,
        "genes": index,
        "block": codes,
        "correlation": rho,
    }


def voom_block(counts, design, block, lib_size=None, norm_factors=None, span: float = 0.5,
               weights=None, trim: float = 0.15) -> dict:
    """The limma user's guide's two-pass voom for repeated measures (Law et al. 2014).

    voom -> duplicateCorrelation -> voom(block=, correlation=) -> duplicateCorrelation.
    Returns the second voom dict with ``correlation`` (the second consensus, to pass to
    ``lm_fit(v["E"], design, v["weights"], block=block, correlation=...)``) and
    ``correlations`` (both passes). ``weights`` are prior (e.g. sample) weights for the
    inner fits, as voom's own ``weights`` argument.
    """
    v = voom(counts, design, lib_size=lib_size, norm_factors=norm_factors, span=span,
             weights=weights)
    first = duplicate_correlation(v["E"], design, block, v["weights"], trim=trim)
    cor1 = first["consensus_correlation"]
    v = voom(counts, design, lib_size=lib_size, norm_factors=norm_factors, span=span,
             weights=weights, block=block, correlation=cor1)
    second = duplicate_correlation(v["E"], design, block, v["weights"], trim=trim)
    v["correlation"] = second["consensus_correlation"]
    v["correlations"] = (cor1, second["consensus_correlation"])
    v["atanh_correlations"] = second["atanh_correlations"]
    return v

