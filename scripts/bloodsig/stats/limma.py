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

import numpy as np
import pandas as pd
from scipy import stats

from ..core.errors import InputError
from .limma_kernels import _count_bad, _ols_blocks, _voom_weights, _wls_batched, blas_single
from .limma_squeeze import squeeze_var
from .lowess import lowess
from .multitest import p_adjust_bh
from .normalize import _as_counts, _effective_lib, _log2, _log_cpm


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


@blas_single
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
    w = _voom_weights(np.ascontiguousarray(fit["coefficients"]), np.ascontiguousarray(x.T),
                      _log2(lib + 1) - _log2(1e6), ux, uy)
    if isinstance(counts, pd.DataFrame):
        e = pd.DataFrame(e, index=counts.index, columns=counts.columns)
        w = pd.DataFrame(w, index=counts.index, columns=counts.columns)
    samples = counts.columns if isinstance(counts, pd.DataFrame) else None
    return {"E": e, "weights": w, "design": pd.DataFrame(x, index=samples, columns=names),
            "lib_size": lib,
            "trend": (lx, ly), "voom_xy": (sx, sy)}


@blas_single
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
        ys = np.ascontiguousarray(y if sw is None else y * sw)
        effects, rss = _ols_blocks(ys, np.ascontiguousarray(q), np.ascontiguousarray(q.T))
        coef = np.linalg.solve(r, effects.T).T
        rinv = np.linalg.inv(r)
        su = np.broadcast_to(np.sqrt((rinv**2).sum(axis=1)), (ngenes, p)).copy()
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
