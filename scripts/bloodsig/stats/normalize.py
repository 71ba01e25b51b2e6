"""Library-size normalisation: edgeR's TMM factors and counts per million.

Counts are genes x samples (numpy array or DataFrame), NA-free and non-negative. The
functions reproduce edgeR 3.40 (calcNormFactors, cpm) and limma 3.54 (voom's log2-CPM)
operation for operation, so that results agree with R to rounding error.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from ..core.errors import InputError

_LN2 = np.log(2.0)


def _log2(x):
    """log2 via natural log: numpy's log2 has no SIMD loop and is ~8x slower; agrees to ~1 ulp."""
    return np.log(x) / _LN2


@numba.njit(parallel=True, cache=True)
def _log_cpm(y, lib):
    """log2((y + 0.5) / (lib + 1) * 1e6) as ``_log2`` computes it, in one pass, no temporaries."""
    out = np.empty(y.shape)
    for g in numba.prange(y.shape[0]):
        for i in range(y.shape[1]):
            out[g, i] = np.log((y[g, i] + 0.5) / (lib[i] + 1) * 1e6) / _LN2
    return out


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


@numba.njit(cache=True)
def _select(a, lo, hi, k):
    """The k-th smallest of a[lo:hi + 1], placed at a[k] with smaller values before it and
    larger after (Hoare partition around a median of three; ties split evenly)."""
    while hi > lo:
        mid = (lo + hi) >> 1
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return a[k]


_NBINS = 4096  # histogram bins of ``_order_pair``


@numba.njit(cache=True)
def _bin_of(v, lo, scale, nb):
    return min(int((v - lo) * scale), nb - 1)


@numba.njit(cache=True)
def _range(a, m):
    """Smallest and largest of a[:m]."""
    lo = hi = a[0]
    for j in range(1, m):
        v = a[j]
        if v < lo:
            lo = v
        elif v > hi:
            hi = v
    return lo, hi


@numba.njit(cache=True)
def _kth(a, m, k, hist):
    """The k-th smallest (0-based) of a[:m], exactly; ``a`` is scratch (reordered). Values
    are counted into equal-width bins over their range and those outside the bin that holds
    rank k are dropped (compacting a in place), a few times, then ``_select`` finishes on
    the few left: a bin index is monotone in the value (rounding and floor are), so the
    order statistic lies in that bin, ties together."""
    for _ in range(8):
        if m <= 64:
            break
        lo, hi = _range(a, m)
        if lo == hi:
            return lo
        nb = min(hist.shape[0], max(16, m // 4))
        scale = nb / (hi - lo)
        if not (scale > 0 and scale < np.inf):  # a range too wide or too narrow to bin
            break
        hist[:nb] = 0
        for j in range(m):
            hist[_bin_of(a[j], lo, scale, nb)] += 1
        c = 0
        for b in range(nb):
            if c + hist[b] > k:
                break
            c += hist[b]
        kept = 0
        for j in range(m):
            v = a[j]
            if _bin_of(v, lo, scale, nb) == b:
                a[kept] = v
                kept += 1
        m, k = kept, k - c
    return _select(a, 0, m - 1, k)


@numba.njit(cache=True)
def _order_pair(src, n, k1, k2, buf, hist):
    """The k1-th and k2-th smallest (0-based, k1 <= k2 < n) of src[:n] (not modified;
    ``buf`` holds 2n values). One binning pass as in ``_kth`` serves both ranks: the values
    of their bins are copied out and ``_kth`` goes on within each. Quickselect alone costs
    ~10 ns per value on 20,000 values (unpredictable branches); this ~3 ns."""
    lo, hi = _range(src, n)
    if lo == hi:
        return lo, lo
    nb = min(hist.shape[0], max(16, n // 4))
    scale = nb / (hi - lo)
    if not (scale > 0 and scale < np.inf):  # a range too wide or too narrow to bin
        buf[:n] = src[:n]
        buf[n:2 * n] = src[:n]
        return _kth(buf[:n], n, k1, hist), _kth(buf[n:2 * n], n, k2, hist)
    hist[:nb] = 0
    for j in range(n):
        hist[_bin_of(src[j], lo, scale, nb)] += 1
    b1 = b2 = -1
    base1 = base2 = c = 0
    for b in range(nb):
        if b1 < 0 and c + hist[b] > k1:
            b1, base1 = b, c
        if c + hist[b] > k2:
            b2, base2 = b, c
            break
        c += hist[b]
    m1 = m2 = 0
    for j in range(n):  # bin b1's values go to buf[:n], bin b2's (if another) to buf[n:]
        v = src[j]
        b = _bin_of(v, lo, scale, nb)
        if b == b1:
            buf[m1] = v
            m1 += 1
        elif b == b2:
            buf[n + m2] = v
            m2 += 1
    if b1 == b2:
        buf[n:n + m1] = buf[:m1]
        m2 = m1
    return _kth(buf[:m1], m1, k1 - base1, hist), _kth(buf[n:n + m2], m2, k2 - base2, hist)


@numba.njit(cache=True)
def _rank_bounds(x, n, lo, hi, scratch, hist):
    """rank(x[:n], ties='average') in [lo, hi] (1-based, lo <= hi) as (vlo, vhi, take_lo,
    take_hi): x is kept if vlo < x < vhi, or x == vlo and take_lo, or x == vhi and take_hi.
    Rank is monotone in the value, so only values equal to the two boundary order statistics
    need their tie-averaged rank; selection finds those in O(n) instead of a full sort."""
    klo, khi = int(lo) - 1, min(int(np.ceil(hi)) - 1, n - 1)
    if klo > khi:
        return 0.0, 0.0, False, False, False
    vlo, vhi = _order_pair(x, n, klo, khi, scratch, hist)
    below_lo = eq_lo = below_hi = eq_hi = 0
    for k in range(n):
        v = x[k]
        below_lo += v < vlo
        eq_lo += v == vlo
        below_hi += v < vhi
        eq_hi += v == vhi
    rank_lo = below_lo + (eq_lo + 1) / 2
    rank_hi = below_hi + (eq_hi + 1) / 2
    return vlo, vhi, lo <= rank_lo <= hi, lo <= rank_hi <= hi, True


def _rank_within(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Mask of rank(x, ties='average') in [lo, hi] (1-based ranks, lo <= hi), by
    ``_rank_bounds`` as the TMM kernel applies it."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    vlo, vhi, take_lo, take_hi, some = _rank_bounds(x, x.shape[0], float(lo), float(hi),
                                                    np.empty(2 * x.shape[0]),
                                                    np.empty(_NBINS, dtype=np.int64))
    if not some:
        return np.zeros(x.shape[0], dtype=bool)
    return ((x > vlo) & (x < vhi)) | ((x == vlo) & take_lo) | ((x == vhi) & take_hi)


@numba.njit(cache=True)
def _kept(v, vlo, vhi, take_lo, take_hi):
    return (vlo < v < vhi) or (v == vlo and take_lo) or (v == vhi and take_hi)


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _upper_quartiles(y, rows):
    """Per sample, np.quantile(y[rows, i], 0.75) (numpy's linear method, its lerp formula)."""
    m, ns = rows.shape[0], y.shape[1]
    pos = (m - 1) * 0.75
    klo = int(np.floor(pos))
    khi = min(klo + 1, m - 1)
    gamma = pos - klo
    out = np.empty(ns)
    for i in numba.prange(ns):
        col, buf = np.empty(m), np.empty(2 * m)
        hist = np.empty(_NBINS, dtype=np.int64)
        for k in range(m):
            col[k] = y[rows[k], i]
        a, b = _order_pair(col, m, klo, khi, buf, hist)
        diff = b - a
        out[i] = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
    return out


@numba.njit(parallel=True, cache=True, error_model="numpy")
def _tmm_kernel(y, rows, ref_counts, lib, nr, log_ratio_trim, sum_trim, weighting, a_cutoff):
    """TMM factor of every sample against the reference counts (edgeR .calcFactorTMM), from
    the genes ``rows`` that the reference has; one sample per thread, no genes x samples
    temporaries. The log-ratios, abundances and variances are computed with the same
    operations as edgeR (and libm's log2, as R), so that their ties, which decide the trim,
    are exactly R's ties."""
    m, ns = rows.shape[0], y.shape[1]
    ref = np.empty(m)
    log2ref = np.empty(m)
    vref = np.empty(m)
    for k in range(m):
        ref[k] = ref_counts[k] / nr
        log2ref[k] = np.log2(ref[k])
        vref[k] = (nr - ref_counts[k]) / nr / ref_counts[k]
    f = np.empty(ns)
    for i in numba.prange(ns):
        logr, abse, var, scratch = np.empty(m), np.empty(m), np.empty(m), np.empty(2 * m)
        hist = np.empty(_NBINS, dtype=np.int64)
        log2obs = np.full(_NBINS, np.nan)  # log2(count / lib) of the small whole counts
        libi = lib[i]
        n = 0
        biggest = 0.0
        for k in range(m):
            yv = y[rows[k], i]
            if not yv > 0:  # a zero count: log-ratio -Inf in edgeR, not finite, left out
                continue
            obs = yv / libi
            lr = np.log2(obs / ref[k])
            if yv < _NBINS and yv == int(yv):  # the same value, computed once per count
                lo = log2obs[int(yv)]
                if np.isnan(lo):
                    lo = np.log2(obs)
                    log2obs[int(yv)] = lo
            else:
                lo = np.log2(obs)
            ae = (lo + log2ref[k]) / 2
            if np.isfinite(lr) and np.isfinite(ae) and ae > a_cutoff:
                logr[n], abse[n] = lr, ae
                var[n] = (libi - yv) / libi / yv + vref[k]
                biggest = max(biggest, abs(lr))
                n += 1
        if n == 0 or biggest < 1e-6:
            f[i] = 1.0
            continue
        lo_l = np.floor(n * log_ratio_trim) + 1
        lo_s = np.floor(n * sum_trim) + 1
        l_lo, l_hi, l_take_lo, l_take_hi, l_any = _rank_bounds(logr, n, lo_l, n + 1 - lo_l,
                                                               scratch, hist)
        s_lo, s_hi, s_take_lo, s_take_hi, s_any = _rank_bounds(abse, n, lo_s, n + 1 - lo_s,
                                                               scratch, hist)
        num = den = 0.0
        kept = 0
        if l_any and s_any:
            for k in range(n):
                if (_kept(logr[k], l_lo, l_hi, l_take_lo, l_take_hi)
                        and _kept(abse[k], s_lo, s_hi, s_take_lo, s_take_hi)):
                    kept += 1
                    if weighting:  # nansum: a NaN term is skipped in each sum on its own
                        term = logr[k] / var[k]
                        if not np.isnan(term):
                            num += term
                        term = 1 / var[k]
                        if not np.isnan(term):
                            den += term
                    else:
                        num += logr[k]
        if kept == 0:  # the trim removed everything (big ties): R's sum/sum is NaN -> 1
            f[i] = 1.0
            continue
        fi = num / den if weighting else num / kept
        f[i] = 2.0 ** (0.0 if np.isnan(fi) else fi)
    return f


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
    rows = np.flatnonzero((y > 0).any(axis=1))  # genes with a count (no copy of y)
    if method == "none" or rows.shape[0] == 0 or nsamples == 1:
        f = np.ones(nsamples)
    else:
        if ref_column is None:
            f75 = _upper_quartiles(y, rows) / lib
            if np.median(f75) < 1e-20:
                ref_column = int(np.argmax(np.sqrt(y[rows]).sum(axis=0)))
            else:
                ref_column = int(np.argmin(np.abs(f75 - f75.mean())))
        # Genes absent from the reference are never finite; only the others are visited.
        ref_counts = y[rows, ref_column]
        rows = rows[ref_counts > 0]
        f = _tmm_kernel(y, rows, ref_counts[ref_counts > 0], lib.astype(np.float64),
                        float(lib[ref_column]), float(log_ratio_trim), float(sum_trim),
                        bool(do_weighting), float(a_cutoff))
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
    return _like(counts, _log_cpm(y, lib))
