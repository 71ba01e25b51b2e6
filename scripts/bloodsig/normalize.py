"""Library-size normalisation: edgeR's TMM factors and counts per million.

Counts are genes x samples (numpy array or DataFrame), NA-free and non-negative. The
functions reproduce edgeR 3.40 (calcNormFactors, cpm) and limma 3.54 (voom's log2-CPM)
operation for operation, so that results agree with R to rounding error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError

_LN2 = np.log(2.0)


def _log2(x):
    """log2 via natural log: numpy's log2 has no SIMD loop and is ~8x slower; agrees to ~1 ulp."""
    return np.log(x) / _LN2


def _as_counts(counts) -> np.ndarray:
    y = np.asarray(counts, dtype=np.float64)
    if y.ndim != 2:
        raise InputError(f"counts must be a genes x samples matrix, got {y.ndim} dimension(s)")
    if not np.isfinite(y).all():
        raise InputError("counts contain NA or infinite values")
    if (y < 0).any():
        raise InputError("counts contain negative values")
    return y


def _lib_sizes(y: np.ndarray, lib_size) -> np.ndarray:
    if lib_size is None:
        return y.sum(axis=0)
    lib = np.asarray(lib_size, dtype=np.float64).ravel()
    if lib.shape[0] != y.shape[1]:
        raise InputError(f"lib_size has {lib.shape[0]} values for {y.shape[1]} samples")
    if not np.isfinite(lib).all() or (lib <= 0).any():
        raise InputError("library sizes must be finite and positive")
    return lib


def _tmm_factor(logr, abse, v, log_ratio_trim, sum_trim, weighting) -> float:
    """One sample's TMM factor from its finite log-ratios (edgeR .calcFactorTMM).

    R keeps genes whose average rank (ties averaged) lies in [loL, hiL] for logR and
    [loS, hiS] for absE. Rank is monotone in the value, so only values equal to the two
    boundary order statistics need their tie-averaged rank; np.partition finds those in O(n)
    instead of a full sort.
    """
    n = logr.shape[0]
    if n == 0 or np.max(np.abs(logr)) < 1e-6:
        return 1.0
    lo_l = np.floor(n * log_ratio_trim) + 1
    lo_s = np.floor(n * sum_trim) + 1
    keep = _rank_within(logr, lo_l, n + 1 - lo_l) & _rank_within(abse, lo_s, n + 1 - lo_s)
    if not keep.any():  # the trim removed everything (big ties): R's sum/sum is NaN -> 1
        return 1.0
    if weighting:
        f = np.nansum(logr[keep] / v[keep]) / np.nansum(1 / v[keep])
    else:
        f = np.mean(logr[keep])
    return float(2.0 ** (0.0 if np.isnan(f) else f))


def _rank_within(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Mask of rank(x, ties='average') in [lo, hi] (1-based ranks, lo <= hi)."""
    n = x.shape[0]
    klo, khi = int(lo) - 1, min(int(np.ceil(hi)) - 1, n - 1)
    if klo > khi:
        return np.zeros(n, dtype=bool)
    part = np.partition(x, (klo, khi))
    vlo, vhi = part[klo], part[khi]
    keep = (x > vlo) & (x < vhi)
    for bound in {vlo, vhi}:
        eq = x == bound
        rank = np.count_nonzero(x < bound) + (np.count_nonzero(eq) + 1) / 2
        if lo <= rank <= hi:
            keep |= eq
    return keep


def calc_norm_factors(counts, lib_size=None, method: str = "TMM", ref_column: int | None = None,
                      log_ratio_trim: float = 0.3, sum_trim: float = 0.05,
                      do_weighting: bool = True, a_cutoff: float = -1e10):
    """TMM normalisation factors (Robinson & Oshlack 2010, Genome Biol 11:R25).

    Follows edgeR 3.40 ``calcNormFactors(method="TMM")``: genes with zero counts in every
    sample are dropped; the reference is the sample whose upper-quartile/lib-size is closest
    to the mean of those (or, if most upper quartiles are zero, the one with the largest
    sum of sqrt counts); for each sample M = log2 ratio and A = mean log2 abundance against
    the reference, trimmed by ``log_ratio_trim`` on M and ``sum_trim`` on A, averaged with
    inverse asymptotic-variance weights (``do_weighting``); factors are scaled to geometric
    mean 1. ``method="none"`` gives ones. Returns an array (a Series for a DataFrame input).
    """
    y = _as_counts(counts)
    lib = _lib_sizes(y, lib_size)
    nsamples = y.shape[1]
    if method not in ("TMM", "none"):
        raise InputError(f"normalisation method '{method}' is not supported (TMM or none)")
    y = y[(y > 0).any(axis=1)]
    if method == "none" or y.shape[0] == 0 or nsamples == 1:
        f = np.ones(nsamples)
    else:
        if ref_column is None:
            f75 = np.quantile(y.T, 0.75, axis=1) / lib
            if np.median(f75) < 1e-20:
                ref_column = int(np.argmax(np.sqrt(y).sum(axis=0)))
            else:
                ref_column = int(np.argmin(np.abs(f75 - f75.mean())))
        # Genes absent from the reference are never finite; drop them before the matrix work.
        # Samples x genes, so each sample's values are contiguous for the per-sample trim.
        ref_counts = y[:, ref_column]
        yt = y[ref_counts > 0].T.copy()
        ref_counts = ref_counts[ref_counts > 0]
        nr = lib[ref_column]
        ref = ref_counts / nr
        libc = lib[:, None]
        # Same operations as edgeR, and libm's log2 as R uses (not the faster log/ln2), so that
        # ties among log-ratios, which decide the trim, are exactly R's ties.
        with np.errstate(divide="ignore", invalid="ignore"):
            obs = yt / libc
            logr = np.log2(obs / ref)
            abse = (np.log2(obs) + np.log2(ref)) / 2
            v = (libc - yt) / libc / yt + (nr - ref_counts) / nr / ref_counts
        fin = np.isfinite(logr) & np.isfinite(abse) & (abse > a_cutoff)
        f = np.empty(nsamples)
        for i in range(nsamples):
            if fin[i].all():
                f[i] = _tmm_factor(logr[i], abse[i], v[i], log_ratio_trim, sum_trim,
                                   do_weighting)
            else:
                k = fin[i]
                f[i] = _tmm_factor(logr[i, k], abse[i, k], v[i, k], log_ratio_trim, sum_trim,
                                   do_weighting)
    f = f / np.exp(np.mean(np.log(f)))
    if isinstance(counts, pd.DataFrame):
        return pd.Series(f, index=counts.columns, name="norm_factors")
    return f


def _effective_lib(y, lib_size, norm_factors) -> np.ndarray:
    lib = _lib_sizes(y, lib_size)
    if norm_factors is not None:
        nf = np.asarray(norm_factors, dtype=np.float64).ravel()
        if nf.shape[0] != y.shape[1]:
            raise InputError(f"norm_factors has {nf.shape[0]} values for {y.shape[1]} samples")
        lib = lib * nf
    return lib


def _like(counts, values: np.ndarray):
    if isinstance(counts, pd.DataFrame):
        return pd.DataFrame(values, index=counts.index, columns=counts.columns)
    return values


def cpm(counts, lib_size=None, norm_factors=None, log: bool = False, prior_count: float = 2):
    """Counts per million as edgeR 3.40 ``cpm`` (effective library = lib_size * norm_factors).

    With ``log=True``: log2((y + p_j) / (L_j + 2 p_j) * 1e6) where the prior count is scaled
    to each library, p_j = prior_count * L_j / mean(L) (edgeR's addPriorCount).
    """
    y = _as_counts(counts)
    lib = _effective_lib(y, lib_size, norm_factors)
    if log:
        prior = prior_count * lib / lib.mean()
        out = _log2((y + prior) / ((lib + 2 * prior) * 1e-6))
    else:
        out = y / (lib * 1e-6)
    return _like(counts, out)


def log2cpm_voom(counts, lib_size=None, norm_factors=None):
    """voom's log2-CPM (Law et al. 2014, Genome Biol 15:R29): log2((y + 0.5) / (L + 1) * 1e6).

    L is the effective library size, lib_size * norm_factors (lib_size defaults to column sums).
    """
    y = _as_counts(counts)
    lib = _effective_lib(y, lib_size, norm_factors)
    return _like(counts, _log2((y + 0.5) / (lib + 1) * 1e6))
