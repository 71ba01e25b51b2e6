"""Preranked gene-set enrichment analysis (GSEA; Subramanian et al. 2005, PNAS 102:15545) of a
DE contrast, through gseapy's prerank (its Rust port of the Broad algorithm: weighted
Kolmogorov-Smirnov running sum with weight 1, gene-set permutations, NES = ES / mean of the
null ES of the same sign, FDR from the NES null).

The ranking is the signed significance -log10(P.Value) * sign(logFC), as the reference study
ranked the lowest- vs highest-ALSFRS-R-quartile contrast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.configcheck import FromConfig
from ..core.errors import InputError

GSEA_COLUMNS = ["term", "size", "ES", "NES", "pvalue", "FDR", "FWER", "leading_edge_size",
                "leading_edge"]


@dataclass(frozen=True)
class GseaSettings(FromConfig):
    """`prerank`'s settings: config `enrich.gsea` as the schema fills it (`from_config`)."""
    permutations: int  # gene-set permutations
    min_size: int  # sets with min_size..max_size genes of the ranking are tested
    max_size: int
    plots: int  # enrichment plots drawn (the sets of smallest FDR)


@dataclass(frozen=True)
class GseaResult:
    table: pd.DataFrame  # GSEA_COLUMNS, sorted by FDR, then -|NES|, then term
    ranking: pd.Series  # the ranked statistic, decreasing, indexed by gene name
    running_es: dict[str, np.ndarray]  # term -> running enrichment score along the ranking
    hits: dict[str, np.ndarray]  # term -> 0-based positions of the set's genes in the ranking


def rank_statistic(toptable: pd.DataFrame, path=None) -> pd.Series:
    """-log10(P.Value) * sign(logFC) per gene name, sorted decreasing (ties by name).

    Genes without a name or statistic are left out; a name carried by several genes keeps the
    one with the largest |statistic|. P-values of 0 are floored at the smallest positive
    double, so the statistic stays finite.
    """
    tt = toptable[["gene_name", "logFC", "P.Value"]].dropna()
    if tt.empty:
        raise InputError("DE table has no gene with a name, logFC and P.Value", path=path)
    p = np.clip(tt["P.Value"].to_numpy(dtype=float), np.finfo(float).tiny, 1.0)
    stat = pd.DataFrame({"gene_name": tt["gene_name"].astype(str).to_numpy(),
                         "stat": -np.log10(p) * np.sign(tt["logFC"].to_numpy(dtype=float))})
    stat["abs"] = stat["stat"].abs()
    stat = stat.sort_values(["abs", "gene_name"], ascending=[False, True])
    stat = stat.drop_duplicates("gene_name").sort_values(["stat", "gene_name"],
                                                         ascending=[False, True])
    return pd.Series(stat["stat"].to_numpy(), index=pd.Index(stat["gene_name"].to_numpy(),
                                                              name="gene_name"), name="stat")


def prerank(ranking: pd.Series, sets: dict[str, tuple[str, ...]], settings: GseaSettings,
            seed: int, threads: int = 1) -> GseaResult:
    """Run gseapy prerank (weight 1, gene-set permutations) on a decreasing ranking."""
    import gseapy

    min_size, max_size = settings.min_size, settings.max_size

    matched = {name: genes for name, genes in sets.items()
               if min_size <= len(ranking.index.intersection(list(genes))) <= max_size}
    if not matched:
        raise InputError(f"no gene set has between {min_size} and {max_size} genes of the "
                         "ranking; check the collection's identifiers and the size limits")
    res = gseapy.prerank(rnk=ranking, gene_sets={k: list(v) for k, v in matched.items()},
                         min_size=min_size, max_size=max_size,
                         permutation_num=settings.permutations, weight=1.0, seed=seed,
                         threads=threads, outdir=None, no_plot=True, verbose=False)
    r = res.res2d
    lead = r["Lead_genes"].fillna("").astype(str).str.split(";")
    table = pd.DataFrame({
        "term": r["Term"].astype(str).to_numpy(),
        "size": [len(res.results[t]["hits"]) for t in r["Term"]],
        "ES": r["ES"].astype(float).to_numpy(), "NES": r["NES"].astype(float).to_numpy(),
        "pvalue": r["NOM p-val"].astype(float).to_numpy(),
        "FDR": r["FDR q-val"].astype(float).to_numpy(),
        "FWER": r["FWER p-val"].astype(float).to_numpy(),
        "leading_edge_size": [len([g for g in genes if g]) for genes in lead],
        "leading_edge": ["/".join(g for g in genes if g) for genes in lead],
    })
    order = np.lexsort((table["term"].to_numpy(), -table["NES"].abs().to_numpy(),
                        table["FDR"].to_numpy()))
    table = table.iloc[order].reset_index(drop=True)
    return GseaResult(
        table=table, ranking=ranking,
        running_es={t: np.asarray(res.results[t]["RES"], dtype=float) for t in table["term"]},
        hits={t: np.asarray(res.results[t]["hits"], dtype=int) for t in table["term"]})
