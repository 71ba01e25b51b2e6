"""CMap/LINCS connectivity scoring, as the Connectivity Map computes it (Subramanian et al.,
Cell 2017, "A Next Generation Connectivity Map"; cmap/cmapM sig_tools).

- Enrichment: the weighted Kolmogorov-Smirnov running sum of GSEA (Subramanian et al., PNAS
  2005) over a signature's ranked genes; a hit adds |score| / sum(|score| of the hits), a miss
  subtracts 1 / (n_genes - n_hits); the ES is the running sum's value of largest magnitude,
  taken at a hit or just before it (cmapM Connectivity.fastESCore).
- WTCS = (ES_up - ES_down) / 2, and 0 when ES_up and ES_down have the same sign.
- NCS: WTCS divided by the mean positive (or the absolute mean negative) WTCS of the
  reference ("is_ncs_sig") signatures of the same perturbagen type and cell line, each mean
  floored at 0.01 (cmapM Gutc.normalizeQuery).
- FDR: GSEA's q-value of each NCS against the NCS of null signatures, one tail per sign, with
  the ECDFs interpolated by PCHIP, the linear adjustment beyond the null and monotone
  smoothing (cmapM Gutc.computeFDRGsea).
- tau: 100 x the signed share of reference queries whose |NCS| on the same signature is
  below the query's (Subramanian 2017, STAR Methods).
- Summaries: per perturbagen and cell line, then across cell lines, the maximum-quantile
  statistic: of the 33rd and 67th percentiles (MATLAB prctile), the one of larger magnitude.

The enrichment kernel runs over a gene-major store (bloodsig.connectivity.store) with numba, reading
only the query genes' rows, in parallel over blocks of signatures.
"""

from __future__ import annotations

import logging
import mmap
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd
from numba.cpython.unsafe.numbers import trailing_zeros
from scipy.interpolate import PchipInterpolator

from ..core.errors import InputError

log = logging.getLogger(__name__)
EPS = np.finfo(float).eps
BLOCK_BYTES = 384 * 2**20  # store values read per block of signatures (ranks + scores)
READ_THREADS = 8  # concurrent reads of a block's row segments ...
READ_ROWS = 32  # ... this many rows per task
MAX_BLOCK = 65536  # signatures per block at most
CHUNK = 256  # signatures per parallel work item within a block ...
GROUP_GENES = 600  # genes per kernel call within a block (an up + down query: 300)
BACKGROUND_CHUNK = 40  # reference queries scored per pass over the store
TILE_VALUES = 16384  # ... copied in tiles of at most this many (signature, gene) values


def set_threads(n: int) -> None:
    """Run the numba kernels on at most n threads (a rule's `threads:`)."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


@numba.njit(parallel=True, nogil=True, cache=True)
def _es_block(rk, sc, rows, set_ptr, set_memb, max_rank, weighted, out):
    """ES of every set on every signature of a block, in parallel over chunks of signatures.

    rk, sc: (n_rows, n_cols) ranks and scores of a block of signatures (gene-major); rows: the
    block rows of the sets' genes; set_ptr / set_memb: the sets as CSR lists of indices into
    rows; out (n_sets, n_cols). For each set and signature the hits are ordered by rank without
    a sort: each hit sets the bit of its rank (ranks are distinct within a signature) and
    leaves its gene in a rank-indexed slot; the set bits are read back word by word, advancing
    the running sum exactly as a walk over every gene would (cmapM fastESCore).

    The ES is the value of largest magnitude taken after a hit or just before it, the first
    one on ties. After a hit the sum is at a local maximum, just before one at a local
    minimum, so it is the larger of the highest post-hit value and the deepest pre-hit
    value (the earlier of the two on a tie, the post-hit value at the same hit)."""
    n_sets = set_ptr.shape[0] - 1
    n_cols = rk.shape[1]
    n_union = rows.shape[0]
    n_words = max_rank // 64 + 1
    miss = np.empty(n_sets)
    for s in range(n_sets):
        size = set_ptr[s + 1] - set_ptr[s]
        miss[s] = -1.0 / (max_rank - size) if size != max_rank else -1.0
    tile = max(4, min(CHUNK, TILE_VALUES // max(n_union, 1)))
    n_chunks = (n_cols + CHUNK - 1) // CHUNK
    for ch in numba.prange(n_chunks):
        bitmap = np.zeros(n_words, np.uint64)
        slot = np.empty(n_words * 64, np.int32)
        # The chunk's values are copied tile by tile into signature-major buffers, so that a
        # signature's genes are read from one short contiguous row (the block is gene-major).
        trk = np.empty((tile, n_union), np.int32)
        twt = np.ones((tile, n_union), np.float64)
        stop = min(n_cols, (ch + 1) * CHUNK)
        for t0 in range(ch * CHUNK, stop, tile):
            n_tile = min(tile, stop - t0)
            for v in range(n_union):
                g = rows[v]
                for c in range(n_tile):
                    trk[c, v] = rk[g, t0 + c]
                if weighted:
                    for c in range(n_tile):
                        twt[c, v] = abs(np.float64(sc[g, t0 + c]))
            for c in range(n_tile):
                rrow = trk[c]
                wrow = twt[c]
                for s in range(n_sets):
                    total = 0.0
                    lo, hi = n_words, 0
                    for m in range(set_ptr[s], set_ptr[s + 1]):
                        v = set_memb[m]
                        r = np.int64(rrow[v])
                        word = r >> 6
                        bitmap[word] |= np.uint64(1) << np.uint64(r & 63)
                        slot[r] = v
                        total += wrow[v]
                        lo = min(lo, word)
                        hi = max(hi, word)
                    inv = 1.0 / total if total > 0 else 0.0
                    ms = miss[s]
                    es, prev, k = 0.0, 0, 0
                    top, top_at, low, low_at = -np.inf, 0, np.inf, 0
                    for word_index in range(lo, hi + 1):
                        bits = bitmap[word_index]
                        if bits == 0:
                            continue
                        bitmap[word_index] = 0
                        base = word_index * 64
                        while bits != 0:
                            r = base + np.int64(trailing_zeros(bits))
                            bits &= bits - np.uint64(1)
                            hit = wrow[slot[r]] * inv
                            es += (r - prev - 1) * ms + hit  # cmapM's order of operations
                            pre = es - hit
                            if es > top:
                                top, top_at = es, k
                            if pre < low:
                                low, low_at = pre, k
                            prev = r
                            k += 1
                    if top > -low or (top == -low and top_at <= low_at):
                        out[s, t0 + c] = top
                    else:
                        out[s, t0 + c] = low


def enrichment_scores(ranks: np.ndarray, scores: np.ndarray, gene_sets: list[np.ndarray],
                      max_rank: int | None = None, weighted: bool = True,
                      columns: np.ndarray | None = None) -> np.ndarray:
    """ES of each gene set on each signature, (n_sets, n_signatures) float64.

    ranks, scores: gene-major (n_genes, n_signatures), e.g. a store's memory maps; rank 1 is
    the most up-regulated gene of a signature. gene_sets: arrays of row indices (genes absent
    from the store removed beforehand). max_rank: the number of ranked genes (default:
    n_genes). columns: score only these signatures (default all). An empty set scores 0.

    The store is read once per call, block by block of signatures: each block reads the rows
    of the union of all sets' genes (one contiguous run per gene), so a batch of queries costs
    one pass over its genes, and the next block is read while this one is scored. Within a
    block, sets are scored in groups of about GROUP_GENES genes, so that a signature's values
    of a group stay in the fastest cache.
    """
    n_genes, n_sig = ranks.shape
    cols = None if columns is None else np.asarray(columns, np.int64)
    n_cols = n_sig if cols is None else len(cols)
    sets = [np.asarray(s, dtype=np.int64) for s in gene_sets]
    flat = np.concatenate(sets) if sets else np.zeros(0, np.int64)
    if len(flat) and (flat.min() < 0 or flat.max() >= n_genes):
        raise ValueError("gene set index outside the store")
    if any(len(np.unique(s)) != len(s) for s in sets):
        raise ValueError("a gene set lists a gene twice")
    out = np.zeros((len(sets), n_cols))
    if not (n_cols and len(flat)):
        return out
    genes = np.unique(flat)  # block rows, in store order (sequential reads)
    groups, start, size = [], 0, 0
    for i, s in enumerate(sets):
        size += len(s)
        if size >= GROUP_GENES or i == len(sets) - 1:
            part = np.concatenate(sets[start:i + 1])
            g_rows, memb = np.unique(np.searchsorted(genes, part), return_inverse=True)
            ptr = np.concatenate([[0], np.cumsum([len(x) for x in sets[start:i + 1]])])
            groups.append((start, i + 1, g_rows.astype(np.int64), ptr.astype(np.int64),
                           memb.astype(np.int64)))
            start, size = i + 1, 0
    max_rank = int(max_rank or n_genes)
    item = ranks.dtype.itemsize + scores.dtype.itemsize
    step = int(min(MAX_BLOCK, max(CHUNK, BLOCK_BYTES // (item * len(genes)))))
    # Blocks of at most `step` signatures spanning at most `step` store columns (a sample of
    # columns is read as the span that holds it); a block's results go to the columns' places.
    order = np.arange(n_cols) if cols is None else np.argsort(cols, kind="stable")
    where = np.arange(n_sig) if cols is None else cols[order]
    blocks, b0 = [], 0
    while b0 < n_cols:
        b1 = min(b0 + step, int(np.searchsorted(where, where[b0] + step)))
        blocks.append((b0, b1))
        b0 = b1

    def read(block):
        b0, b1 = block
        c0, c1 = int(where[b0]), int(where[b1 - 1]) + 1
        rk = _read_rows(ranks, genes, c0, c1, readers)
        sc = _read_rows(scores, genes, c0, c1, readers)
        if c1 - c0 == b1 - b0:  # every column of the span
            return rk, sc
        pick = where[b0:b1] - c0
        return np.ascontiguousarray(rk[:, pick]), np.ascontiguousarray(sc[:, pick])

    with ThreadPoolExecutor(1) as pool, ThreadPoolExecutor(READ_THREADS) as readers:
        pending = pool.submit(read, blocks[0])
        for i, (b0, b1) in enumerate(blocks):
            rk, sc = pending.result()
            if i + 1 < len(blocks):
                pending = pool.submit(read, blocks[i + 1])
            for first, last, rows, ptr, memb in groups:
                block = np.zeros((last - first, b1 - b0))
                _es_block(rk, sc, rows, ptr, memb, max_rank, bool(weighted), block)
                out[first:last, order[b0:b1]] = block
    return out


def _whole_memmap(arr) -> bool:
    """Whether arr is an entire C-ordered memory-mapped file array (not a view into one), so
    that its rows can be read with pread at known file offsets."""
    if not (isinstance(arr, np.memmap) and arr.filename and arr.ndim == 2
            and arr.flags.c_contiguous and getattr(arr, "_mmap", None) is not None):
        return False
    start = np.frombuffer(arr._mmap, dtype=np.uint8).ctypes.data
    return arr.ctypes.data == start + arr.offset % mmap.ALLOCATIONGRANULARITY


def _read_rows(arr, rows: np.ndarray, c0: int, c1: int, readers) -> np.ndarray:
    """arr[rows, c0:c1] as a new C-ordered array. From a store's memory map, the segments are
    read with pread on a thread pool rather than through page faults: a fault reads the
    device's whole read-ahead window (often MBs) around each small segment, which multiplies
    the bytes read many times over once the store is larger than the page cache."""
    out = np.empty((len(rows), c1 - c0), dtype=arr.dtype)
    if not _whole_memmap(arr):
        out[:] = arr[rows, c0:c1]
        return out
    item, n_sig = arr.dtype.itemsize, arr.shape[1]
    fd = os.open(arr.filename, os.O_RDONLY)
    try:
        def part(lo):
            for i in range(lo, min(lo + READ_ROWS, len(rows))):
                view = memoryview(out[i]).cast("B")
                offset = arr.offset + (int(rows[i]) * n_sig + c0) * item
                if os.preadv(fd, [view], offset) != view.nbytes:
                    raise OSError(f"short read from {arr.filename}")
        list(readers.map(part, range(0, len(rows), READ_ROWS)))
    finally:
        os.close(fd)
    return out


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
    codes, names = pd.factorize(pd.Series(groups), sort=True)
    is_ref = np.asarray(is_ref, dtype=bool)
    out = np.zeros_like(cs2)
    n_groups = len(names)
    means = {}
    for sign in (1.0, -1.0):
        vals = np.where((np.sign(cs2) == sign) & is_ref, cs2, 0.0)
        cnt = (np.sign(cs2) == sign) & is_ref
        # Group sums by bincount per query (vectorised over signatures).
        sums = np.stack([np.bincount(codes, w, n_groups) for w in vals])
        nums = np.stack([np.bincount(codes, c, n_groups) for c in cnt.astype(float)])
        overall = np.abs(vals.sum(1)) / np.maximum(cnt.sum(1), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = np.where(nums > 0, np.abs(sums) / nums, overall[:, None])
        mu = np.maximum(mu, floor)
        means[sign] = mu
        sel = np.sign(cs2) == sign
        out[sel] = (cs2 / mu[:, codes])[sel]
    report = pd.DataFrame({"group": list(names), "pos_mean": means[1.0][0],
                           "neg_mean": -means[-1.0][0]})
    return (out[0] if one else out), report


def _ecdf_below(values: np.ndarray):
    """(v, f): sorted unique values and the share of `values` strictly below each (MATLAB
    cdfcalc's yCDF(1:end-1))."""
    v, counts = np.unique(values, return_counts=True)
    f = np.concatenate([[0.0], np.cumsum(counts)[:-1]]) / len(values)
    return v, f


def _interp(v: np.ndarray, f: np.ndarray, x: np.ndarray) -> np.ndarray:
    x = np.clip(x, v[0], v[-1])
    if len(v) < 2:
        return np.full_like(x, f[0], dtype=float)
    return PchipInterpolator(v, f)(x)


def _fdr_tail(x_trt, x_null, xq, right):
    trt_q = _interp(*_ecdf_below(x_trt), xq)
    null_q = _interp(*_ecdf_below(x_null), xq)
    if right:
        q = np.clip((1 - null_q) / (1 - trt_q + EPS), EPS, 1)
    else:
        q = np.clip(null_q / (trt_q + EPS), EPS, 1)
    # Beyond the most extreme null score every raw q is ~0: interpolate linearly from the
    # smallest q-value's score to eps at the most extreme score (cmapM null_adjust).
    sign = 1 if right else -1
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
    order = np.argsort(sign * xq, kind="stable")
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
            q[side] = _fdr_tail(x[trt], x[null], x[side], right)
    return q


@numba.njit(parallel=True, cache=True)
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


def group_max_quantile(values: np.ndarray, codes: np.ndarray, n_groups: int,
                       q_low: float = 33, q_high: float = 67) -> np.ndarray:
    """max_quantile of `values` within each group (codes 0..n_groups-1), vectorised: one sort
    of all values, then numpy's 'hazen' percentile (virtual index n q + 0.5 - 1, clipped to
    the ends, numpy's two-sided linear interpolation) at each group's offsets. Equal to
    max_quantile group by group, to the bit."""
    values = np.asarray(values, dtype=float)
    codes = np.asarray(codes, dtype=np.int64)
    order = np.lexsort((values, codes))
    v = values[order]
    n = np.bincount(codes, minlength=n_groups)
    start = np.concatenate([[0], np.cumsum(n)[:-1]])
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


@dataclass
class QueryResult:
    """One query scored against a store: a table per signature and the NCS means."""

    signatures: pd.DataFrame
    ncs_means: pd.DataFrame


def _groups(info: pd.DataFrame) -> np.ndarray:
    """CMap's normalisation groups: perturbagen type and cell line."""
    return (info["pert_type"].astype(str) + ":" + info["cell_id"].astype(str)).to_numpy()


def score_queries(store, queries: dict[str, tuple[np.ndarray, np.ndarray]], weighted: bool,
                  background: np.ndarray | None, floor: float = 0.01, null_queries: int = 10,
                  null_signatures: int = 5_000, seed: int = 0) -> dict[str, QueryResult]:
    """Score up/down queries (row indices into the store) against every signature: ES up and
    down, WTCS, NCS, FDR and tau, all queries in one pass over the store.

    store: a bloodsig.connectivity.store.Store. background: sorted reference |NCS| for tau
    (reference_background). FDR uses the store's null signatures (is_null_sig) as CMap does;
    when it flags none, the null scores are those of `null_queries` random gene sets of the
    query's sizes (GSEA's gene-set permutation; shared by queries of equal sizes) on a seeded
    sample of `null_signatures` signatures, normalised with the query's own group means.
    """
    info = store.signatures
    n_sig = len(info)
    names = list(queries)
    rng = np.random.default_rng(seed)
    use_null_sigs = bool(info["is_null_sig"].any())
    sets = [g for name in names for g in queries[name]]
    log.info("scoring %d queries on %d signatures", len(names), n_sig)
    es = enrichment_scores(store.ranks, store.scores, sets, weighted=weighted)
    # The null depends on a query only through its list sizes: queries of equal sizes in a
    # batch share one set of random queries.
    null_es = {}
    if not use_null_sigs and null_queries > 0:
        cols = np.sort(rng.choice(n_sig, min(null_signatures, n_sig), replace=False))
        sizes = list(dict.fromkeys((len(up), len(down)) for up, down in queries.values()))
        null_sets = []
        for n_up, n_down in sizes:
            for _ in range(null_queries):
                perm = rng.permutation(store.n_genes)
                null_sets += [perm[:n_up], perm[n_up:n_up + n_down]]
        scores = enrichment_scores(store.ranks, store.scores, null_sets, weighted=weighted,
                                   columns=cols)
        per = 2 * null_queries
        null_es = {size: scores[k * per:(k + 1) * per] for k, size in enumerate(sizes)}
    # Group labels are factorised once per batch; the NCS means report names them.
    codes, labels = pd.factorize(pd.Series(_groups(info)), sort=True)
    is_ref = info["is_ncs_sig"].to_numpy(bool)
    results = {}
    for i, name in enumerate(names):
        cs = wtcs(es[2 * i], es[2 * i + 1])
        nc, means = ncs(cs, codes, is_ref, floor)
        if use_null_sigs:
            q = fdr_gsea(nc, info["is_null_sig"].to_numpy(bool))
        elif null_es:
            block = null_es[tuple(len(g) for g in queries[name])]
            null_ncs = _normalise_like(wtcs(block[0::2], block[1::2]), means, codes[cols])
            pooled = np.concatenate([nc, null_ncs.ravel()])
            flags = np.concatenate([np.zeros(n_sig, bool), np.ones(null_ncs.size, bool)])
            q = fdr_gsea(pooled, flags)[:n_sig]
        else:
            q = np.ones(n_sig)
        means["group"] = np.asarray(labels)[means["group"].to_numpy(int)]
        table = info[["sig_id", "pert_id", "pert_name", "pert_type", "cell_id"]].copy()
        table["es_up"], table["es_down"] = es[2 * i], es[2 * i + 1]
        table["wtcs"], table["ncs"], table["fdr_q"] = cs, nc, q
        table["tau"] = tau(nc, background) if background is not None else np.nan
        results[name] = QueryResult(table, means)
    return results


def _normalise_like(cs_null: np.ndarray, means: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    """NCS of null WTCS (n_null, len(codes)) with a query's group means (from ncs, whose
    groups were the integer codes 0..n-1)."""
    pos = means["pos_mean"].to_numpy()[codes]
    neg = -means["neg_mean"].to_numpy()[codes]
    return np.where(cs_null > 0, cs_null / pos, np.where(cs_null < 0, cs_null / neg, 0.0))


def reference_queries(store, n_queries: int, n_genes: int, seed: int
                      ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Reference queries for tau: the top and bottom `n_genes` genes (by rank) of a seeded
    sample of reference (is_ncs_sig) signatures, as CMap's touchstone queries are built from
    its signatures' extremes."""
    info = store.signatures
    pool = np.flatnonzero(info["is_ncs_sig"].to_numpy(bool))
    if len(pool) == 0:
        raise InputError("no reference signatures (is_ncs_sig) in the store", path=store.path)
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(pool, min(n_queries, len(pool)), replace=False))
    n = min(n_genes, store.n_genes // 4)
    out = []
    for rank in signature_columns(store.ranks, picks):
        order = np.argsort(rank, kind="stable")
        out.append((order[:n], order[::-1][:n]))
    return out


def signature_columns(arr: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """arr[:, picks].T: whole signatures of a gene-major store, (len(picks), n_genes). A
    signature is a column, so the store is read once, row block by row block with pread
    (the pages of a column-wise walk through the memory map would be read many times)."""
    picks = np.asarray(picks, dtype=np.int64)
    out = np.empty((len(picks), arr.shape[0]), dtype=arr.dtype)
    rows_per_read = max(1, (64 * 2**20) // max(1, arr.shape[1] * arr.dtype.itemsize))
    with ThreadPoolExecutor(READ_THREADS) as readers:
        for g0 in range(0, arr.shape[0], rows_per_read):
            rows = np.arange(g0, min(g0 + rows_per_read, arr.shape[0]))
            out[:, rows] = _read_rows(arr, rows, 0, arr.shape[1], readers)[:, picks].T
    return out


def reference_background(store, queries, weighted: bool, floor: float = 0.01) -> np.ndarray:
    """|NCS| of the reference queries on every signature, sorted within each signature:
    (n_sig, n_queries) float32, the lookup of tau."""
    log.info("reference background: %d queries on %d signatures", len(queries),
             store.ranks.shape[1])
    info = store.signatures
    codes = pd.factorize(pd.Series(_groups(info)), sort=True)[0]
    is_ref = info["is_ncs_sig"].to_numpy(bool)
    out = np.empty((len(queries), store.ranks.shape[1]), dtype=np.float32)
    for start in range(0, len(queries), BACKGROUND_CHUNK):  # bounded memory
        part = queries[start:start + BACKGROUND_CHUNK]
        es = enrichment_scores(store.ranks, store.scores, [g for pair in part for g in pair],
                               weighted=weighted)
        nc, _ = ncs(wtcs(es[0::2], es[1::2]), codes, is_ref, floor)
        out[start:start + len(part)] = np.abs(nc)
    out.sort(axis=0)
    return np.ascontiguousarray(out.T)


class PerturbagenGroups:
    """The grouping of a signature table (pert_id, pert_name, cell_id) that the perturbagen
    summaries use, computed once and applied to the scores of any number of queries."""

    def __init__(self, table: pd.DataFrame):
        keys = table[["pert_id", "pert_name", "cell_id"]].reset_index(drop=True)
        self.n = len(keys)
        self.cell_codes = keys.groupby(["pert_id", "pert_name", "cell_id"], sort=True) \
            .ngroup().to_numpy()
        self.n_cells = int(self.cell_codes.max()) + 1 if self.n else 0
        first = np.full(self.n_cells, -1, dtype=np.int64)
        first[self.cell_codes[::-1]] = np.arange(self.n)[::-1]
        by_cell = keys.iloc[first].reset_index(drop=True)
        self.pert_codes = by_cell.groupby(["pert_id", "pert_name"], sort=True).ngroup() \
            .to_numpy()
        self.n_perts = int(self.pert_codes.max()) + 1 if self.n_cells else 0
        first_pert = np.full(self.n_perts, -1, dtype=np.int64)
        first_pert[self.pert_codes[::-1]] = np.arange(self.n_cells)[::-1]
        self.base = by_cell.iloc[first_pert][["pert_id", "pert_name"]].reset_index(drop=True)
        self.base["n_cell_lines"] = np.bincount(self.pert_codes, minlength=self.n_perts)
        # n_signatures and min FDR are per pert_id (a pert_id may carry two names)
        id_codes, ids = pd.factorize(keys["pert_id"])
        self.id_codes, self.n_ids = id_codes, len(ids)
        self.row_id = pd.Index(ids).get_indexer(self.base["pert_id"])
        self.base["n_signatures"] = np.bincount(id_codes, minlength=self.n_ids)[self.row_id]

    def summarise(self, ncs: np.ndarray, tau: np.ndarray, fdr: np.ndarray,
                  q_low: float = 33, q_high: float = 67) -> pd.DataFrame:
        out = self.base.copy()
        for name, values in (("ncs", ncs), ("tau", tau)):
            per_cell = group_max_quantile(values, self.cell_codes, self.n_cells, q_low, q_high)
            out[name] = group_max_quantile(per_cell, self.pert_codes, self.n_perts, q_low,
                                           q_high)
        min_fdr = np.full(self.n_ids, np.inf)
        np.minimum.at(min_fdr, self.id_codes, np.asarray(fdr, dtype=float))
        out["min_fdr_q"] = min_fdr[self.row_id]
        return out[["pert_id", "pert_name", "n_cell_lines", "ncs", "tau", "n_signatures",
                    "min_fdr_q"]]


def summarise_perturbagens(table: pd.DataFrame, q_low: float = 33, q_high: float = 67,
                           groups: PerturbagenGroups | None = None) -> pd.DataFrame:
    """Per perturbagen: max-quantile of NCS and tau per cell line, then across cell lines;
    the smallest FDR of its signatures and its number of cell lines. groups: the table's
    grouping, when the caller summarises several queries of the same signatures."""
    groups = groups or PerturbagenGroups(table)
    return groups.summarise(table["ncs"].to_numpy(float), table["tau"].to_numpy(float),
                            table["fdr_q"].to_numpy(float), q_low, q_high)


def candidates(summary: pd.DataFrame, compounds: pd.DataFrame, max_fdr: float,
               require_moa: bool, direction: str = "reversing", top: int | None = None
               ) -> pd.DataFrame:
    """Ranked drug candidates: perturbagens with min FDR below max_fdr whose summary NCS has the
    wanted sign (reversing: negative), annotated with mechanism of action and targets; with
    require_moa only those with a known mechanism. Ordered by summary tau (then NCS)."""
    merged = summary.merge(compounds[["pert_id", "moa", "target"]], on="pert_id", how="left")
    sign = -1 if direction == "reversing" else 1
    keep = (merged["min_fdr_q"] < max_fdr) & (np.sign(merged["ncs"]) == sign)
    if require_moa:
        keep &= merged["moa"].fillna("").astype(str).str.strip().ne("")
    out = merged[keep].copy()
    out["_t"] = sign * out["tau"].fillna(0)
    out["_n"] = sign * out["ncs"]
    out = out.sort_values(["_t", "_n", "pert_id"], ascending=[False, False, True])
    out = out.drop(columns=["_t", "_n"]).reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.head(top) if top else out


def query_sets(store, queries: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{query: (up rows, down rows)} of a queries table (query, direction, gene_id) in the
    store's row order; genes absent from the store are an error naming them."""
    row = pd.Series(np.arange(store.n_genes), index=store.genes["gene_id"].astype(str))
    ids = queries["gene_id"].astype(str)
    missing = ~ids.isin(row.index)
    if missing.any():
        raise InputError(f"gene id '{ids[missing].iloc[0]}' of query "
                         f"'{queries['query'][missing].iloc[0]}' is not in the store",
                         path=store.path)
    out = {}
    for name, q in queries.groupby("query", sort=False):
        out[str(name)] = tuple(row[ids[q.index][q["direction"] == d]].to_numpy()
                               for d in ("up", "down"))
    return out


def analyse_queries(store, queries: pd.DataFrame, background: np.ndarray | None,
                    settings: dict, seed: int) -> dict[str, dict[str, pd.DataFrame]]:
    """Score every query of a queries table in one batch and summarise it.

    settings (config connectivity): weighted, ncs_floor, null_queries, null_signatures,
    summary_quantiles,
    candidates {direction, max_fdr, require_moa, qc_pass, top}. Returns per query the
    tables "signatures" (per signature, by NCS), "perturbagens" (max-quantile summaries) and
    "candidates" (filtered and ranked).
    """
    results = score_queries(store, query_sets(store, queries), settings["weighted"],
                            background, settings["ncs_floor"], settings["null_queries"],
                            settings["null_signatures"], seed)
    q_low, q_high = settings["summary_quantiles"]
    filt = settings["candidates"]
    info = store.signatures
    keep = info["qc_pass"].to_numpy(bool) if filt["qc_pass"] else np.ones(len(info), bool)
    groups = PerturbagenGroups(info[keep])
    sig_order = np.argsort(np.argsort(info["sig_id"].to_numpy(str), kind="stable"))
    out = {}
    for name, res in results.items():
        sigs = res.signatures
        summary = groups.summarise(sigs["ncs"].to_numpy()[keep], sigs["tau"].to_numpy()[keep],
                                   sigs["fdr_q"].to_numpy()[keep], q_low, q_high)
        cands = candidates(summary, store.compounds, filt["max_fdr"], filt["require_moa"],
                           filt["direction"], filt["top"])
        order = np.lexsort((sig_order, sigs["ncs"].to_numpy()))
        out[name] = {"signatures": sigs.iloc[order].reset_index(drop=True),
                     "perturbagens": summary.sort_values(["ncs", "pert_id"], kind="stable")
                     .reset_index(drop=True),
                     "candidates": cands, "ncs_means": res.ncs_means}
    return out


def combined_table(results: dict[str, dict[str, pd.DataFrame]], compounds: pd.DataFrame
                   ) -> pd.DataFrame:
    """One table of every query's perturbagen summaries, ranked within each query (rank 1:
    the lowest summary NCS, the strongest reverser, as in perturbagens.tsv), with mechanism
    and targets; queries in batch order."""
    parts = []
    for name, tables in results.items():
        part = tables["perturbagens"].copy()
        part.insert(0, "rank", np.arange(1, len(part) + 1))
        part.insert(0, "query", name)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    return table.merge(compounds[["pert_id", "moa", "target"]], on="pert_id", how="left")
