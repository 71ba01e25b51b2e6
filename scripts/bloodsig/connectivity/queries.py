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
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from ..core.errors import InputError
from .enrichment import READ_THREADS, _read_rows, _take, enrichment_scores
from .scores import fdr_gsea, group_max_quantile, group_order, ncs, tau, wtcs

log = logging.getLogger(__name__)


BACKGROUND_CHUNK = 40  # reference queries scored per pass over the store


SCORE_COLUMNS = ("es_up", "es_down", "wtcs", "ncs", "fdr_q", "tau")
LABEL_COLUMNS = ("sig_id", "pert_id", "pert_name", "pert_type", "cell_id")


@dataclass
class QueryResult:
    """One query scored against a store: its per-signature scores as arrays in the store's
    column order (SCORE_COLUMNS; no 473k-row frame is built unless asked for) and the NCS
    means."""

    scores: dict[str, np.ndarray]
    ncs_means: pd.DataFrame

    def table(self, info: pd.DataFrame, order: np.ndarray | None = None) -> pd.DataFrame:
        """The per-signature table: info's labels and the scores, in store order or in
        `order` (e.g. ncs_order)."""
        take = (lambda a: a) if order is None else (lambda a: a.take(order))
        labels = {k: take(info[k].to_numpy()) for k in LABEL_COLUMNS}
        scores = {k: take(self.scores[k]) for k in SCORE_COLUMNS}
        index = info.index if order is None else pd.RangeIndex(len(order))
        return pd.DataFrame({**labels, **scores}, index=index)


@dataclass(frozen=True)
class ScoringSettings:
    """How queries are scored and summarised (config `connectivity`: weighted, ncs_floor,
    null_queries, null_signatures, summary_quantiles, candidates)."""

    weighted: bool
    ncs_floor: float
    null_queries: int
    null_signatures: int
    q_low: float
    q_high: float
    direction: str  # candidates: reversing or mimicking
    max_fdr: float
    require_moa: bool
    qc_pass: bool
    top: int | None

    @classmethod
    def from_config(cls, connectivity: Mapping) -> ScoringSettings:
        """From the rule's params: config `connectivity` as the schema fills it."""
        cand = connectivity["candidates"]
        q_low, q_high = connectivity["summary_quantiles"]
        return cls(weighted=bool(connectivity["weighted"]),
                   ncs_floor=float(connectivity["ncs_floor"]),
                   null_queries=int(connectivity["null_queries"]),
                   null_signatures=int(connectivity["null_signatures"]),
                   q_low=float(q_low), q_high=float(q_high), direction=cand["direction"],
                   max_fdr=float(cand["max_fdr"]), require_moa=bool(cand["require_moa"]),
                   qc_pass=bool(cand["qc_pass"]), top=cand["top"])


def _cached(store, key, make):
    """make(), kept on the store for the next query of the same process: what a query derives
    from the signatures' labels (sig_id order, normalisation groups, perturbagen grouping)
    costs ~1.5 CPU s at 473k signatures, more than scoring a query after its scan. The key
    names what it reads; a new signatures table clears it (edit the table by replacing it)."""
    cache = store.__dict__.setdefault("_query_cache", {})
    hit = cache.get(key)
    if hit is None or hit[0] is not store.signatures:
        hit = cache[key] = (store.signatures, make())
    return hit[1]


def _group_codes(store) -> tuple[np.ndarray, np.ndarray]:
    """CMap's normalisation groups, "pert_type:cell_id", factorised (codes, sorted labels),
    once per store; only the distinct pairs are joined as strings."""
    def make():
        (pt, pt_names), (cell, cell_names) = (pd.factorize(store.signatures[c])
                                              for c in ("pert_type", "cell_id"))
        pairs, inverse = np.unique(pt * len(cell_names) + cell, return_inverse=True)
        names = (pd.Index(pt_names).astype(str)[pairs // len(cell_names)] + ":"
                 + pd.Index(cell_names).astype(str)[pairs % len(cell_names)])
        codes, labels = pd.factorize(names, sort=True)
        return codes[inverse], labels
    return _cached(store, "groups", make)


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
    codes, labels = _group_codes(store)
    is_ref = info["is_ncs_sig"].to_numpy(bool)
    is_null = info["is_null_sig"].to_numpy(bool)
    labels = np.asarray(labels)

    def one(i: int) -> QueryResult:
        name = names[i]
        cs = wtcs(es[2 * i], es[2 * i + 1])
        nc, means = ncs(cs, codes, is_ref, floor)
        if use_null_sigs:
            q = fdr_gsea(nc, is_null)
        elif null_es:
            block = null_es[tuple(len(g) for g in queries[name])]
            null_ncs = _normalise_like(wtcs(block[0::2], block[1::2]), means, codes[cols])
            pooled = np.concatenate([nc, null_ncs.ravel()])
            flags = np.concatenate([np.zeros(n_sig, bool), np.ones(null_ncs.size, bool)])
            q = fdr_gsea(pooled, flags)[:n_sig]
        else:
            q = np.ones(n_sig)
        means["group"] = labels[means["group"].to_numpy(int)]
        t = tau(nc, background) if background is not None else np.full(n_sig, np.nan)
        return QueryResult({"es_up": es[2 * i], "es_down": es[2 * i + 1], "wtcs": cs,
                            "ncs": nc, "fdr_q": q, "tau": t}, means)

    # The queries' scoring after the scan runs on the rule's threads (the sorts, ufuncs and
    # numba kernels it spends its time in release the GIL).
    return dict(zip(names, _map(one, range(len(names))), strict=True))


def _map(f, items) -> list:
    """[f(x) for x in items] on numba's thread count (the rule's threads). The numba kernels
    that f calls run on one thread in each worker: numba's thread count is per thread, and a
    new thread starts at NUMBA_NUM_THREADS (every core of the node unless set), so each
    worker would otherwise start an OpenMP team of that size beside the rule's threads."""
    items = list(items)
    n = min(numba.get_num_threads(), len(items))
    if n <= 1:
        return [f(x) for x in items]
    with ThreadPoolExecutor(n, initializer=numba.set_num_threads, initargs=(1,)) as pool:
        return list(pool.map(f, items))


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
            out[:, rows] = _take(*_read_rows(arr, rows, 0, arr.shape[1], readers), picks).T
    return out


def reference_background(store, queries, weighted: bool, floor: float = 0.01) -> np.ndarray:
    """|NCS| of the reference queries on every signature, sorted within each signature:
    (n_sig, n_queries) float32, the lookup of tau."""
    log.info("reference background: %d queries on %d signatures", len(queries),
             store.ranks.shape[1])
    info = store.signatures
    codes = _group_codes(store)[0]
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
        # Each key column coded in sorted order, so that integer keys sort as the strings do
        # (groups numbered as a sorted groupby would; 2x faster than one at 473k signatures).
        (pid, ids), (pname, names), (cell, cells) = (
            pd.factorize(table[c], sort=True) for c in ("pert_id", "pert_name", "cell_id"))
        self.n = len(table)
        pert_keys, self.cell_codes = np.unique(
            (pid.astype(np.int64) * len(names) + pname) * len(cells) + cell, return_inverse=True)
        self.n_cells = len(pert_keys)
        perts, self.pert_codes = np.unique(pert_keys // len(cells), return_inverse=True)
        self.n_perts = len(perts)
        # n_signatures and min FDR are per pert_id (a pert_id may carry two names)
        self.id_codes, self.n_ids = pid, len(ids)
        self.row_id = perts // len(names)
        self.base = pd.DataFrame({"pert_id": ids[self.row_id],
                                  "pert_name": names[perts % len(names)]})
        self.base["n_cell_lines"] = np.bincount(self.pert_codes, minlength=self.n_perts)
        self.base["n_signatures"] = np.bincount(pid, minlength=self.n_ids)[self.row_id]
        # Reused by every query: the groups' members and the summaries' order by pert_id.
        self.cell_order = group_order(self.cell_codes, self.n_cells)
        self.pert_order = group_order(self.pert_codes, self.n_perts)

    def summarise(self, ncs: np.ndarray, tau: np.ndarray, fdr: np.ndarray,
                  q_low: float = 33, q_high: float = 67) -> pd.DataFrame:
        out = self.base.copy()
        for name, values in (("ncs", ncs), ("tau", tau)):
            per_cell = group_max_quantile(values, self.cell_codes, self.n_cells, q_low, q_high,
                                          self.cell_order)
            out[name] = group_max_quantile(per_cell, self.pert_codes, self.n_perts, q_low,
                                           q_high, self.pert_order)
        min_fdr = np.full(self.n_ids, np.inf)
        np.minimum.at(min_fdr, self.id_codes, np.asarray(fdr, dtype=float))
        out["min_fdr_q"] = min_fdr[self.row_id]
        return out[["pert_id", "pert_name", "n_cell_lines", "ncs", "tau", "n_signatures",
                    "min_fdr_q"]]

    def by_ncs(self, summary: pd.DataFrame) -> pd.DataFrame:
        """A summary of these groups sorted by NCS, then pert_id (stable)."""
        order = np.lexsort((self.row_id, summary["ncs"].to_numpy()))
        return summary.iloc[order].reset_index(drop=True)


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
    sign = -1 if direction == "reversing" else 1
    # Filtered before the annotation is joined: a summary has a row per perturbagen.
    passed = summary[(summary["min_fdr_q"] < max_fdr) & (np.sign(summary["ncs"]) == sign)]
    merged = passed.merge(compounds[["pert_id", "moa", "target"]], on="pert_id", how="left")
    if require_moa:
        merged = merged[merged["moa"].fillna("").astype(str).str.strip().ne("")]
    out = merged.copy()
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
                    settings: ScoringSettings, seed: int) -> dict[str, dict]:
    """Score every query of a queries table in one batch and summarise it.

    Returns per query: "scores" (the QueryResult: per-signature arrays in store order),
    "order" (the signatures by NCS, ties by sig_id; signature_table builds the sorted table
    from both), "perturbagens" (max-quantile summaries, by NCS), "candidates" (filtered and
    ranked) and "ncs_means".
    """
    s = settings
    results = score_queries(store, query_sets(store, queries), s.weighted, background,
                            s.ncs_floor, s.null_queries, s.null_signatures, seed)
    info = store.signatures
    keep = info["qc_pass"].to_numpy(bool) if s.qc_pass else np.ones(len(info), bool)
    every = bool(keep.all())
    groups = _cached(store, ("perturbagens", np.packbits(keep).tobytes()),
                     lambda: PerturbagenGroups(info[keep] if not every else info))
    by_id = _cached(store, "sig_id order",
                    lambda: np.argsort(info["sig_id"].to_numpy(str), kind="stable"))

    def one(res: QueryResult) -> dict:
        sc = res.scores
        pick = (lambda a: a) if every else (lambda a: a[keep])
        summary = groups.summarise(pick(sc["ncs"]), pick(sc["tau"]), pick(sc["fdr_q"]),
                                   s.q_low, s.q_high)
        cands = candidates(summary, store.compounds, s.max_fdr, s.require_moa, s.direction,
                           s.top)
        # By NCS, ties by sig_id: one stable sort of the scores taken in sig_id order.
        order = by_id[np.argsort(sc["ncs"][by_id], kind="stable")]
        return {"scores": res, "order": order, "perturbagens": groups.by_ncs(summary),
                "candidates": cands, "ncs_means": res.ncs_means}

    return dict(zip(results, _map(one, results.values()), strict=True))
