"""CMap's statistics on enrichment scores: WTCS, NCS, the GSEA FDR against null signatures, tau
against reference queries and the maximum-quantile summaries (Subramanian et al. 2017; cmapM).
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

EPS = np.finfo(float).eps


def wtcs(es_up: np.ndarray, es_down: np.ndarray) -> np.ndarray:
    """Weighted connectivity score: (ES_up - ES_down) / 2, zero when both have the same sign
    (cmapM getCombinedES without rescaling)."""
    es_up, es_down = np.asarray(es_up, float), np.asarray(es_down, float)
    return np.where(np.sign(es_up) == np.sign(es_down), 0.0, 0.5 * (es_up - es_down))


def ncs(cs: np.ndarray, groups: np.ndarray, is_ref: np.ndarray, floor: float = 0.01
        ) -> tuple[np.ndarray, pd.DataFrame]:
    """Normalised connectivity scores of one or more queries.

    cs: (n_sig,) or (n_queries, n_sig) WTCS; groups: (n_sig,) group label of each signature
    (CMap: "pert_type:cell_id"); is_ref: signatures whose scores define the means (CMap's
    is_ncs_sig). Positive scores are divided by the mean positive reference score of their
    group, negative ones by the absolute mean negative score, each mean floored at `floor`.
    A group without reference scores of a sign falls back to all groups' reference scores.
    Returns the NCS (same shape as cs) and the means used, per group (of the first query).
    """
    cs = np.asarray(cs, dtype=float)
    one = cs.ndim == 1
    cs2 = np.atleast_2d(cs)
    codes, names = _factorize(groups)
    is_ref = np.asarray(is_ref, dtype=bool)
    out = np.zeros_like(cs2)
    n_groups = len(names)
    means = {}
    sgn = np.sign(cs2)
    for sign in (1.0, -1.0):
        sel = sgn == sign
        cnt = sel & is_ref
        vals = np.where(cnt, cs2, 0.0)
        # Group sums by bincount per query (vectorised over signatures).
        sums = np.stack([np.bincount(codes, w, n_groups) for w in vals])
        nums = np.stack([np.bincount(codes, c, n_groups) for c in cnt.astype(float)])
        overall = np.abs(vals.sum(1)) / np.maximum(cnt.sum(1), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = np.where(nums > 0, np.abs(sums) / nums, overall[:, None])
        mu = np.maximum(mu, floor)
        means[sign] = mu
        np.divide(cs2, mu[:, codes], out=out, where=sel)
    report = pd.DataFrame({"group": list(names), "pos_mean": means[1.0][0],
                           "neg_mean": -means[-1.0][0]})
    return (out[0] if one else out), report


def _factorize(groups) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize(groups, sort=True); for integer codes (a batch factorises its labels
    once) without a hash table: the present values in order and each one's position."""
    g = np.asarray(groups)
    if g.dtype.kind in "iu" and g.ndim == 1 and len(g) and g.min() >= 0:
        present = np.bincount(g) > 0
        return (np.cumsum(present) - 1)[g], np.flatnonzero(present)
    codes, names = pd.factorize(pd.Series(groups), sort=True)
    return codes, np.asarray(names)


def _ecdf_below(values: np.ndarray):
    """(v, f): the unique values of ascending `values` and the share of them strictly below
    each (MATLAB cdfcalc's yCDF(1:end-1)): a value's first position."""
    first = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    return values[first], first / len(values)


def _interp(v: np.ndarray, f: np.ndarray, x: np.ndarray) -> np.ndarray:
    x = np.clip(x, v[0], v[-1])
    if len(v) < 2:
        return np.full_like(x, f[0], dtype=float)
    return PchipInterpolator(v, f)(x)


def _fdr_tail(xq, null, right):
    """q-values of one sign's scores xq (null: which are null scores)."""
    sign = 1 if right else -1
    order = np.argsort(sign * xq, kind="stable")
    # The interpolants are evaluated at sorted points (the same values, 5x faster: the
    # interval search then steps from the last interval instead of bisecting), and the
    # ECDFs read off the same sort.
    xs, ns = xq[order], null[order]
    up = slice(None) if right else slice(None, None, -1)
    trt_q, null_q = np.empty(len(xq)), np.empty(len(xq))
    trt_q[order] = _interp(*_ecdf_below(xs[~ns][up]), xs)
    null_q[order] = _interp(*_ecdf_below(xs[ns][up]), xs)
    if right:
        q = np.clip((1 - null_q) / (1 - trt_q + EPS), EPS, 1)
    else:
        q = np.clip(null_q / (trt_q + EPS), EPS, 1)
    # Beyond the most extreme null score every raw q is ~0: interpolate linearly from the
    # smallest q-value's score to eps at the most extreme score (cmapM null_adjust).
    edge = sign * xq > sign * xq[np.argmin(q)]
    if edge.any():
        idx = np.flatnonzero(edge)
        k = idx[np.argmin(sign * xq[idx])]
        x0, y0 = xq[k], q[k]
        x1 = xq.max() if right else xq.min()
        m = (EPS - y0) / (EPS + (x1 - x0))
        fix = sign * xq >= sign * x0
        q[fix] = np.maximum(m * (xq[fix] - x1), 0.0)  # max: no -0.0 at x1
    # Monotone in the score: running minimum from the centre outwards (stable order).
    q[order] = np.minimum.accumulate(q[order])
    return q


def fdr_gsea(ncs_all: np.ndarray, is_null: np.ndarray) -> np.ndarray:
    """GSEA-style FDR q-value of every score in ncs_all against the scores flagged is_null
    (cmapM Gutc.computeFDRGsea with null adjustment and smoothing); q = 1 for zero scores and
    for a sign with at most two treatment or null scores."""
    x = np.asarray(ncs_all, dtype=float)
    is_null = np.asarray(is_null, dtype=bool)
    q = np.ones_like(x)
    for right in (True, False):
        side = x > 0 if right else x < 0
        trt, null = side & ~is_null, side & is_null
        if trt.sum() > 2 and null.sum() > 2:
            q[side] = _fdr_tail(x[side], is_null[side], right)
    return q


@numba.njit(parallel=True, nogil=True, cache=True)
def _count_below(ref_sorted, x, out):
    for j in numba.prange(x.shape[0]):
        out[j] = np.searchsorted(ref_sorted[j], abs(x[j]), side="left")


def tau(ncs_query: np.ndarray, ref_sorted: np.ndarray) -> np.ndarray:
    """tau of each signature: sign(ncs) x 100 x share of reference queries whose |NCS| on that
    signature is below |ncs| (Subramanian 2017). ref_sorted: (n_sig, n_ref) |NCS| of the
    reference queries, sorted within each signature (reference_background): signature-major,
    so each lookup is a binary search in one contiguous row."""
    q = np.asarray(ncs_query, dtype=np.float64)
    n_ref = ref_sorted.shape[1]
    if n_ref == 0:
        return np.full_like(q, np.nan)
    if ref_sorted.shape[0] != len(q):
        raise ValueError(f"background has {ref_sorted.shape[0]} signatures, the query {len(q)}")
    below = np.zeros(len(q), dtype=np.int64)
    _count_below(ref_sorted, q, below)
    return np.sign(q) * 100.0 * below / n_ref


def max_quantile(values, q_low: float = 33, q_high: float = 67) -> float:
    """The q_low or q_high percentile (MATLAB prctile, i.e. numpy 'hazen'), whichever has the
    larger magnitude (the low one on ties), as cmapM max_quantile."""
    lo, hi = np.percentile(np.asarray(values, dtype=float), [q_low, q_high], method="hazen")
    return float(hi if abs(lo) < abs(hi) else lo)


@numba.njit(cache=True)
def _less(a, b):
    """a sorts before b: numpy's order, NaN last."""
    return a < b or (b != b and a == a)


@numba.njit(parallel=True, nogil=True, cache=True)
def _sort_segments(values, perm, start, size, out):
    """out[start[g]:start[g] + size[g]] = values[perm[...]] of each group, sorted stably
    (insertion sort for small groups, merge sort above)."""
    for g in numba.prange(start.shape[0]):
        lo, n = start[g], size[g]
        seg = out[lo:lo + n]
        for i in range(n):
            seg[i] = values[perm[lo + i]]
        run = 16
        for r0 in range(0, n, run):
            for i in range(r0 + 1, min(r0 + run, n)):
                x, j = seg[i], i
                while j > r0 and _less(x, seg[j - 1]):
                    seg[j] = seg[j - 1]
                    j -= 1
                seg[j] = x
        if n <= run:
            continue
        src, dst = seg, np.empty(n)
        while run < n:
            for a in range(0, n, 2 * run):
                i, mid, end = a, min(a + run, n), min(a + 2 * run, n)
                j = mid
                for k in range(a, end):
                    if j < end and (i >= mid or _less(src[j], src[i])):
                        dst[k] = src[j]
                        j += 1
                    else:
                        dst[k] = src[i]
                        i += 1
            src, dst = dst, src
            run *= 2
        seg[:] = src


def group_order(codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(members in group order, each group's start, size) of codes 0..n_groups-1: the grouping
    that group_max_quantile reuses across the queries of a batch."""
    codes = np.asarray(codes, dtype=np.int64)
    size = np.bincount(codes, minlength=n_groups)
    start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    return np.argsort(codes, kind="stable"), start, size


def group_max_quantile(values: np.ndarray, codes: np.ndarray, n_groups: int,
                       q_low: float = 33, q_high: float = 67,
                       order: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                       ) -> np.ndarray:
    """max_quantile of `values` within each group (codes 0..n_groups-1), vectorised: the
    values sorted within each group (as one lexsort by group, then value, would order them),
    then numpy's 'hazen' percentile (virtual index n q + 0.5 - 1, clipped to the ends,
    numpy's two-sided linear interpolation) at each group's offsets. Equal to max_quantile
    group by group, to the bit. order: group_order(codes, n_groups), when already known."""
    values = np.asarray(values, dtype=float)
    perm, start, n = order or group_order(codes, n_groups)
    v = np.empty_like(values)
    _sort_segments(values, perm, start, n, v)
    pick = []
    for q in (q_low, q_high):
        vi = n * (np.float64(q) / 100) + 0.5 - 1
        prev = np.floor(vi)
        nxt = prev + 1
        above = vi >= n - 1
        below = vi < 0
        prev = np.where(above, n - 1, np.where(below, 0, prev)).astype(np.int64)
        nxt = np.where(above, n - 1, np.where(below, 0, nxt)).astype(np.int64)
        gamma = vi - np.where(above, -1, np.floor(vi))
        a, b = v[np.minimum(start + prev, len(v) - 1)], v[np.minimum(start + nxt, len(v) - 1)]
        diff = b - a
        lerp = a + diff * gamma
        lerp = np.where(gamma >= 0.5, b - diff * (1 - gamma), lerp)
        pick.append(lerp)
    lo, hi = pick
    return np.where(np.abs(lo) < np.abs(hi), hi, lo)


def summarise(table: pd.DataFrame, columns: list[str], by: list[str],
              q_low: float = 33, q_high: float = 67) -> pd.DataFrame:
    """Max-quantile of `columns` per group of `by` (sorted groups), with the group sizes."""
    keys = table[by].reset_index(drop=True)
    codes = keys.groupby(by, sort=True).ngroup().to_numpy()
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(n_groups, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    out = keys.iloc[first].reset_index(drop=True)
    out.insert(len(by), "n_signatures", np.bincount(codes, minlength=n_groups))
    for col in columns:
        out[col] = group_max_quantile(table[col].to_numpy(float), codes, n_groups, q_low,
                                      q_high)
    return out
