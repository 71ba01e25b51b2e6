"""Enrichment map (Merico et al. 2010, PLoS ONE 5:e13984; Cytoscape EnrichmentMap): significant
terms as nodes, linked when their gene sets overlap, clustered into themes.

Similarity of two sets A, B (members within the universe): Jaccard |A&B| / |A|B|, or the overlap
coefficient |A&B| / min(|A|, |B|), computed for all pairs at once from the sparse membership
matrix. Terms of one direction (up or down) are linked when the similarity reaches the cut-off;
themes are the connected components, each named after its most significant term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components

from ..core.configcheck import FromConfig
from .ora import membership


@dataclass(frozen=True)
class MapSettings(FromConfig):
    """`enrichment_map`'s settings: config `enrich.enrichment_map` as the schema fills it
    (`from_config`)."""
    fdr: float  # terms with FDR < fdr are nodes
    similarity: str  # "jaccard" or "overlap" (`set_similarity`)
    cutoff: float  # nodes are linked at a similarity >= cutoff


@dataclass(frozen=True)
class EnrichmentMap:
    nodes: pd.DataFrame  # node, term, direction, FDR, pvalue, Count, set_size, theme, theme_size
    edges: pd.DataFrame  # source, target, similarity, shared


def set_similarity(sets: dict[str, tuple[str, ...]], kind: str = "jaccard"
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(similarity, shared-gene counts) for every pair of sets, as dense square matrices."""
    genes = pd.Index(pd.unique(pd.Series([g for m in sets.values() for g in m], dtype=object)))
    member = membership(sets, genes).astype(np.int64)
    shared = (member @ member.T).toarray()
    size = np.diag(shared).astype(float)
    if kind == "jaccard":
        denom = size[:, None] + size[None, :] - shared
    elif kind == "overlap":
        denom = np.minimum(size[:, None], size[None, :])
    else:
        raise ValueError(f"similarity must be 'jaccard' or 'overlap', not '{kind}'")
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = np.where(denom > 0, shared / denom, 0.0)
    return sim, shared


def enrichment_map(ora_table: pd.DataFrame, sets: dict[str, tuple[str, ...]],
                   settings: MapSettings) -> EnrichmentMap:
    """Build the map from an ORA table (direction, term, FDR, pvalue, Count, set_size) and the
    collection's sets (restricted to the universe used by the ORA)."""
    sig = ora_table[ora_table["FDR"] < settings.fdr].sort_values(["pvalue", "direction", "term"])
    sig = sig.reset_index(drop=True)
    if sig.empty:
        return EnrichmentMap(
            nodes=pd.DataFrame(columns=["node", "term", "direction", "FDR", "pvalue", "Count",
                                        "set_size", "theme", "theme_leader", "theme_size"]),
            edges=pd.DataFrame(columns=["source", "target", "similarity", "shared"]))
    node_ids = (sig["term"] + " (" + sig["direction"] + ")").to_numpy()
    sim, shared = set_similarity({n: sets[t] for n, t in zip(node_ids, sig["term"], strict=True)},
                                 settings.similarity)
    same_dir = sig["direction"].to_numpy()[:, None] == sig["direction"].to_numpy()[None, :]
    linked = same_dir & (sim >= settings.cutoff) & ~np.eye(len(sig), dtype=bool)
    _, labels = connected_components(linked, directed=False)
    # Components are numbered by their most significant term (sig is sorted by pvalue).
    first = pd.Series(np.arange(len(sig))).groupby(labels).min()
    theme_rank = first.rank(method="first").astype(int).reindex(labels).to_numpy()
    leader = sig["term"].to_numpy()[first.reindex(labels).to_numpy()]
    nodes = pd.DataFrame({
        "node": node_ids, "term": sig["term"], "direction": sig["direction"],
        "FDR": sig["FDR"], "pvalue": sig["pvalue"], "Count": sig["Count"],
        "set_size": sig["set_size"], "theme": theme_rank, "theme_leader": leader,
    })
    nodes["theme_size"] = nodes.groupby("theme")["node"].transform("size")
    i, j = np.nonzero(np.triu(linked))
    edges = pd.DataFrame({"source": node_ids[i], "target": node_ids[j],
                          "similarity": sim[i, j], "shared": shared[i, j].astype(int)})
    return EnrichmentMap(nodes=nodes, edges=edges)


def to_graphml(emap: EnrichmentMap) -> str:
    """The map as GraphML (Cytoscape: File > Import > Network from File)."""
    import io

    import networkx as nx

    g = nx.Graph()
    for row in emap.nodes.itertuples(index=False):
        g.add_node(row.node, term=row.term, direction=row.direction, FDR=float(row.FDR),
                   pvalue=float(row.pvalue), Count=int(row.Count), set_size=int(row.set_size),
                   theme=int(row.theme), theme_leader=row.theme_leader)
    for row in emap.edges.itertuples(index=False):
        g.add_edge(row.source, row.target, similarity=float(row.similarity),
                   shared=int(row.shared))
    buf = io.BytesIO()
    nx.write_graphml(g, buf, encoding="utf-8")
    return buf.getvalue().decode("utf-8")
