"""Enrichment figures: ORA dot plot, enrichment-map network, GSEA running-score plots and the
logFC scatter of DEGs shared with a published list."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from . import DOWN, GREY, UP, new_figure

DIRECTION_COLORS = {"up": UP, "down": DOWN}


def _empty(message: str) -> Figure:
    fig = new_figure(5.0, 1.6)
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return fig


def _short(term: str, width: int = 45) -> str:
    return term if len(term) <= width else term[: width - 3] + "..."


def ora_dotplot(table: pd.DataFrame, n: int = 10, fdr: float = 0.05,
                title: str | None = None) -> Figure:
    """clusterProfiler-style dot plot, one panel per direction: the `n` terms with the smallest
    p-value, x = GeneRatio, dot size = Count, colour = -log10 FDR; terms with FDR >= `fdr` are
    drawn hollow. Scatter gids are "up" and "down"."""
    if table.empty:
        return _empty("no gene set tested (no DEG in any set)")
    dirs = [d for d in ("up", "down") if (table["direction"] == d).any()]
    top = {d: table[table["direction"] == d].nsmallest(n, ["pvalue"]) for d in dirs}
    rows = max(len(t) for t in top.values())
    fig = new_figure(5.2 * len(dirs), 0.32 * rows + 1.6)
    axes = np.atleast_1d(fig.subplots(1, len(dirs)))
    vmax = max(-np.log10(np.clip(table["FDR"].min(), 1e-300, 1)), 2.0)
    mappable = ScalarMappable(Normalize(0, vmax), "viridis")
    for ax, d in zip(axes, dirs, strict=True):
        t = top[d].iloc[::-1]
        ratio = t["Count"] / t["n_query"]
        y = np.arange(len(t))
        sig = (t["FDR"] < fdr).to_numpy()
        color = mappable.to_rgba(-np.log10(np.clip(t["FDR"].to_numpy(dtype=float), 1e-300, 1)))
        color[~sig] = (1, 1, 1, 1)
        ax.scatter(ratio, y, s=20 + 8 * np.sqrt(t["Count"]), color=color, edgecolors="black",
                   linewidths=0.5, gid=d)
        ax.set_yticks(y, [_short(s) for s in t["term"]], fontsize=7)
        ax.set_xlabel("GeneRatio (DEGs in set / DEGs)")
        ax.set_title(f"{d} DEGs (n = {int(t['n_query'].iloc[0])})", fontsize=9,
                     color=DIRECTION_COLORS[d])
        ax.margins(x=0.2, y=0.05)
    fig.colorbar(mappable, ax=list(axes), label="-log10 FDR", shrink=0.6)
    counts = pd.concat([t["Count"] for t in top.values()])
    fig.legend(handles=_size_handles(counts, fdr), loc="outside lower center",
               ncol=5, fontsize=7, frameon=False, title="dot size = Count (DEGs in the set)",
               title_fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _size_handles(counts: pd.Series, fdr: float) -> list:
    """Legend entries of the dot plot: dot sizes for 3 counts spanning the plotted ones, and
    the hollow dot of a term that does not pass the FDR cut-off."""
    from matplotlib.lines import Line2D

    lo, hi = int(counts.min()), int(counts.max())
    levels = sorted({lo, int(round((lo + hi) / 2)), hi})
    handles = [Line2D([], [], marker="o", linestyle="", markerfacecolor="#888",
                      markeredgecolor="black", markeredgewidth=0.5,
                      markersize=np.sqrt(20 + 8 * np.sqrt(c)), label=str(c)) for c in levels]
    handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                          markeredgecolor="black", markeredgewidth=0.5, markersize=6,
                          label=f"hollow: FDR >= {fdr:g}"))
    return handles


def _layout(nodes: pd.DataFrame, edges: pd.DataFrame, seed: int) -> dict:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(nodes["node"])
    g.add_weighted_edges_from(edges[["source", "target", "similarity"]].itertuples(index=False))
    return nx.spring_layout(g, seed=seed, k=1.5 / np.sqrt(max(len(nodes), 1)))


def enrichment_map_figure(nodes: pd.DataFrame, edges: pd.DataFrame, seed: int = 0,
                          title: str | None = None) -> Figure:
    """Network of significant terms: node size = Count, colour = direction, edge width =
    similarity; each theme is labelled once, by its leading term. Node gids are "up"/"down"."""
    if nodes.empty:
        return _empty("no term passes the enrichment-map FDR cut-off")
    pos = _layout(nodes, edges, seed)
    fig = new_figure(8.0, 7.0)
    ax = fig.subplots()
    for row in edges.itertuples(index=False):
        (x0, y0), (x1, y1) = pos[row.source], pos[row.target]
        ax.plot([x0, x1], [y0, y1], color=GREY, lw=0.5 + 3 * row.similarity, zorder=1)
    for d, color in DIRECTION_COLORS.items():
        sel = nodes[nodes["direction"] == d]
        if sel.empty:
            continue
        xy = np.array([pos[n] for n in sel["node"]])
        ax.scatter(xy[:, 0], xy[:, 1], s=30 + 10 * np.sqrt(sel["Count"]), color=color,
                   edgecolors="black", linewidths=0.5, zorder=2, gid=d,
                   label=f"{d} ({len(sel)} terms)")
    leaders = nodes.drop_duplicates("theme")
    for row in leaders.itertuples(index=False):
        x, y = pos[row.node]
        label = _short(row.term, 35) + (f" (+{row.theme_size - 1})" if row.theme_size > 1
                                        else "")
        ax.annotate(label, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=6.5)
    ax.axis("off")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    n_themes = nodes["theme"].nunique()
    ax.set_title((f"{title}\n" if title else "") + f"{len(nodes)} terms in {n_themes} themes",
                 fontsize=10)
    return fig


def fdr_label(fdr: float, permutations: int | None = None) -> str:
    """An FDR for a figure: a permutation FDR of 0 means below 1 / permutations, shown as
    "FDR < 1e-3" (never "FDR 0")."""
    if fdr > 0 and (not permutations or fdr >= 1 / permutations):
        return f"FDR {fdr:.2g}"
    floor = 1 / permutations if permutations else 1e-300
    return f"FDR < {floor:.0e}".replace("e-0", "e-")


def gsea_plots(table: pd.DataFrame, ranking: pd.Series, running_es: dict, hits: dict,
               n: int = 5, title: str | None = None, permutations: int | None = None
               ) -> Figure:
    """Enrichment plots of the `n` sets with the smallest FDR: running enrichment score, the
    positions of the set's genes in the ranking, and the ranked statistic below. An FDR of 0
    from `permutations` permutations reads "FDR < 1/permutations"."""
    top = table.head(n)
    if top.empty:
        return _empty("no gene set tested")
    fig = new_figure(4.0 * len(top), 4.6)
    grid = fig.add_gridspec(3, len(top), height_ratios=[3, 0.6, 1.4])
    x = np.arange(len(ranking))
    for i, row in enumerate(top.itertuples(index=False)):
        ax_es = fig.add_subplot(grid[0, i])
        res = running_es[row.term]
        ax_es.plot(np.arange(len(res)), res, color="#2ca02c", lw=1.2, gid="running_es")
        ax_es.axhline(0, color="black", lw=0.6)
        ax_es.set_title(f"{_short(row.term, 32)}\nNES {row.NES:.2f}, "
                        f"{fdr_label(row.FDR, permutations)}", fontsize=8)
        ax_es.set_xticks([])
        if i == 0:
            ax_es.set_ylabel("enrichment score")
        ax_hit = fig.add_subplot(grid[1, i], sharex=ax_es)
        ax_hit.vlines(hits[row.term], 0, 1, color="black", lw=0.4)
        ax_hit.set_yticks([])
        ax_hit.set_xticks([])
        ax_rank = fig.add_subplot(grid[2, i], sharex=ax_es)
        values = ranking.to_numpy()
        ax_rank.fill_between(x, values, 0, where=values >= 0, color=UP, lw=0)
        ax_rank.fill_between(x, values, 0, where=values < 0, color=DOWN, lw=0)
        ax_rank.set_xlabel("rank")
        if i == 0:
            ax_rank.set_ylabel("-log10 p x sign")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def shared_logfc_scatter(shared: pd.DataFrame, name: str, stats: dict) -> Figure:
    """logFC of the DEGs shared with a published list: ours (x) vs published (y); gids
    "concordant" and "discordant"."""
    if shared.empty:
        return _empty(f"no DEG shared with {name}")
    fig = new_figure(4.8, 4.4)
    ax = fig.subplots()
    for label, sel, color in (("concordant", shared["concordant"], "#333333"),
                              ("discordant", ~shared["concordant"], "#e31a1c")):
        ax.scatter(shared.loc[sel, "logFC"], shared.loc[sel, "logFC_published"], s=10,
                   color=color, linewidth=0, gid=label, label=f"{label} ({int(sel.sum())})")
    ax.axhline(0, color="black", lw=0.6)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("log2 fold change (this cohort)")
    ax.set_ylabel(f"log2 fold change ({name})")
    r = stats.get("pearson_r", np.nan)
    ax.set_title(f"{stats['n_shared_degs']} shared DEGs, Pearson r = {r:.2f}", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig
