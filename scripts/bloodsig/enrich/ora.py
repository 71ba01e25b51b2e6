"""Over-representation analysis (ORA) of DEG lists in gene-set collections.

The one-sided hypergeometric test of clusterProfiler's `enricher` (Yu et al. 2012, OMICS 16:284):
with N universe genes, a set of M of them, n query genes in the universe and k of those in the
set, p = P(X >= k) for X ~ Hypergeometric(N, M, n), which equals the one-sided Fisher exact
test. Sets are counted within the universe, sets outside [min_size, max_size] or without a
query gene are not tested, and the p-values of the tested sets are BH-adjusted, as enricher
does. GeneRatio = k/n, BgRatio = M/N. All sets are tested at once with a sparse
set x gene membership matrix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..core.configcheck import FromConfig
from ..core.gmt import check_overlap
from ..stats.multitest import p_adjust_bh

log = logging.getLogger(__name__)
ORA_COLUMNS = ["term", "description", "GeneRatio", "BgRatio", "Count", "set_size",
               "n_query", "n_universe", "fold_enrichment", "pvalue", "FDR", "geneID"]
_DTYPES = {"Count": np.int64, "set_size": np.int64, "n_query": np.int64,
           "n_universe": np.int64, "fold_enrichment": float, "pvalue": float, "FDR": float}


@dataclass(frozen=True)
class OraSettings(FromConfig):
    """`ora_up_down`'s settings: config `enrich` as the schema fills it (`from_config`)."""
    universe: str  # "tested" or "collection" (`universe_genes`)
    min_size: int  # sets of min_size..max_size universe genes are tested
    max_size: int


def membership(sets: dict[str, tuple[str, ...]], genes: pd.Index) -> sparse.csr_array:
    """Boolean sparse matrix (sets x genes): which of `genes` each set contains."""
    sizes = np.fromiter((len(m) for m in sets.values()), dtype=np.int64, count=len(sets))
    rows = np.repeat(np.arange(len(sets)), sizes)
    # One lookup for all members of all sets (not one per set).
    cols = genes.get_indexer(pd.Index([g for m in sets.values() for g in m], dtype=object))
    keep = cols >= 0
    matrix = sparse.csr_array((np.ones(int(keep.sum()), dtype=bool), (rows[keep], cols[keep])),
                              shape=(len(sets), len(genes)))
    matrix.sum_duplicates()
    return matrix


def universe_genes(tested: pd.Series, sets: dict[str, tuple[str, ...]], kind: str) -> pd.Index:
    """The ORA universe: "tested" = the genes of the DE table (with a name), or "collection" =
    every gene of the collection (clusterProfiler's default when no universe is given)."""
    if kind == "tested":
        genes = tested.dropna().astype(str)
    elif kind == "collection":
        genes = pd.Series([g for members in sets.values() for g in members])
    else:
        raise ValueError(f"universe must be 'tested' or 'collection', not '{kind}'")
    return pd.Index(genes.drop_duplicates().to_numpy(), dtype=object)


def hypergeometric_sf(k, set_size, n_query, n_universe) -> np.ndarray:
    """P(X >= k), X ~ Hypergeometric(N = n_universe, M = set_size, n = n_query), elementwise
    (R: phyper(k - 1, M, N - M, n, lower.tail = FALSE))."""
    k = np.asarray(k)
    return stats.hypergeom.sf(k - 1, n_universe, set_size, n_query)


def ora(query, sets: dict[str, tuple[str, ...]], universe: pd.Index, min_size: int = 10,
        max_size: int = 500, descriptions: dict[str, str] | None = None) -> pd.DataFrame:
    """Over-representation of `query` genes (ordered, e.g. by P.Value) in every set.

    Returns ORA_COLUMNS, one row per tested set, sorted by pvalue then term; geneID lists the
    query genes in the set in query order, joined by "/" (as clusterProfiler).
    """
    if min_size > max_size:
        raise ValueError(f"min_size {min_size} > max_size {max_size}")
    universe = pd.Index(universe)
    names = list(sets)
    member = membership(sets, universe)
    size = np.asarray(member.sum(axis=1)).ravel()
    q_idx = universe.get_indexer(pd.Index(pd.unique(pd.Series(list(query), dtype=object))))
    q_idx = q_idx[q_idx >= 0]
    in_query = np.zeros(len(universe), dtype=bool)
    in_query[q_idx] = True
    n, big_n = len(q_idx), len(universe)
    k = member @ in_query.astype(np.int64)
    tested = np.flatnonzero((size >= min_size) & (size <= max_size) & (k > 0))
    if n == 0 or len(tested) == 0:
        return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, object)) for c in ORA_COLUMNS})
    p = hypergeometric_sf(k[tested], size[tested], n, big_n)
    rank = np.full(len(universe), -1)
    rank[q_idx] = np.arange(n)
    sub = member[tested].tocsr()
    gene_names = universe.to_numpy()
    gene_ids = []
    for i in range(len(tested)):  # one string per tested set (not per gene)
        cols = sub.indices[sub.indptr[i]: sub.indptr[i + 1]]
        hit = cols[in_query[cols]]
        gene_ids.append("/".join(gene_names[hit[np.argsort(rank[hit])]]))
    descriptions = descriptions or {}
    kt, mt = k[tested], size[tested]
    table = pd.DataFrame({
        "term": [names[i] for i in tested],
        "description": [descriptions.get(names[i], "") for i in tested],
        "GeneRatio": [f"{a}/{n}" for a in kt],
        "BgRatio": [f"{m}/{big_n}" for m in mt],
        "Count": kt, "set_size": mt, "n_query": n, "n_universe": big_n,
        "fold_enrichment": (kt / n) / (mt / big_n),
        "pvalue": p, "FDR": p_adjust_bh(p), "geneID": gene_ids,
    })
    order = np.lexsort((table["term"].to_numpy(), table["pvalue"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def ora_up_down(toptable: pd.DataFrame, up: pd.DataFrame, down: pd.DataFrame,
                sets: dict[str, tuple[str, ...]], settings: OraSettings,
                descriptions: dict[str, str] | None = None, path=None) -> pd.DataFrame:
    """ORA of up and down DEGs (gene_name columns) separately, in one table with a
    `direction` column first. `settings.universe` as in `universe_genes`; a collection sharing
    no gene with the tested genes raises InputError naming `path`."""
    universe = settings.universe
    tested = toptable["gene_name"]
    check_overlap(sets, tested.dropna().astype(str), path=path,
                  what="the DE table's gene names")
    genes = universe_genes(tested, sets, universe)
    members = {g for m in sets.values() for g in m}
    log.info("%d sets with %d genes; universe (%s) %d genes, %d of them in a set", len(sets),
             len(members), universe, len(genes), int(genes.isin(list(members)).sum()))
    tables = []
    for direction, degs in (("up", up), ("down", down)):
        table = ora(degs["gene_name"].dropna().astype(str), sets, genes, settings.min_size,
                    settings.max_size, descriptions)
        table.insert(0, "direction", direction)
        tables.append(table)
    tables = [t for t in tables if len(t)] or tables[:1]
    return pd.concat(tables, ignore_index=True)


def compare_terms(before: pd.DataFrame, after: pd.DataFrame, fdr: float) -> pd.DataFrame:
    """Terms gained and lost between two ORA tables (e.g. primary -> cell-adjusted): per
    direction and term significant (FDR < fdr) in either, its FDR in each (1 when untested)
    and status "gained" (only after), "lost" (only before) or "kept"."""
    key = ["direction", "term"]
    merged = before[key + ["FDR"]].merge(after[key + ["FDR"]], on=key, how="outer",
                                         suffixes=("_before", "_after"))
    merged[["FDR_before", "FDR_after"]] = merged[["FDR_before", "FDR_after"]].fillna(1.0)
    merged = merged[(merged["FDR_before"] < fdr) | (merged["FDR_after"] < fdr)].copy()
    sig_b, sig_a = merged["FDR_before"] < fdr, merged["FDR_after"] < fdr
    merged["status"] = np.where(sig_b & sig_a, "kept", np.where(sig_a, "gained", "lost"))
    return merged.sort_values(["status", "direction", "term"]).reset_index(drop=True)

