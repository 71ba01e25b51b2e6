"""Immune-subtype figures: signature heatmap with dendrogram, sample-correlation heatmap with
repeat samples marked, and per-sample marker-gene panels by cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from scipy.cluster import hierarchy

from . import category_colors, new_figure


def _dendrogram(ax, linkage: np.ndarray) -> np.ndarray:
    """Draw the dendrogram on `ax` (black, no labels) and return the leaf order."""
    tree = hierarchy.dendrogram(linkage, ax=ax, no_labels=True, color_threshold=0,
                                above_threshold_color="black")
    ax.set_axis_off()
    return np.asarray(tree["leaves"])


def _cluster_bar(ax, labels: np.ndarray, colors: dict) -> None:
    ax.imshow(np.array([[colors[v] for v in labels]]), aspect="auto", interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([0], ["cluster"])


def heatmap_rows(z: pd.DataFrame, labels: pd.Series, max_rows: int = 40) -> pd.Index:
    """The signatures a heatmap shows: all of them (in their order) up to `max_rows`, else the
    `max_rows` whose cluster means differ most (max - min), ordered by the cluster where each
    is highest, then by that difference, so each cluster's signatures form a block."""
    if z.shape[1] <= max_rows:
        return z.columns
    means = z.groupby(labels.reindex(z.index).to_numpy()).mean()
    spread = (means.max() - means.min()).fillna(0)
    keep = spread.sort_values(ascending=False, kind="stable").index[:max_rows]
    top = means[keep].idxmax()
    order = pd.DataFrame({"top": top.astype(str), "spread": -spread[keep]})
    return order.sort_values(["top", "spread"], kind="stable").index


def cluster_legend_labels(z: pd.DataFrame, labels: pd.Series, top: int = 3) -> dict:
    """Each cluster's legend label: its size and its `top` signatures by mean z (not a list of
    every signature above a cut)."""
    means = z.groupby(labels.reindex(z.index).to_numpy()).mean()
    out = {}
    for k in means.index:
        best = means.loc[k].sort_values(ascending=False).head(top)
        best = best[best > 0]
        high = ", ".join(best.index) if len(best) else "none above the mean"
        out[k] = f"{k} (n={int((labels == k).sum())}): {high}"
    return out


def signature_heatmap(z: pd.DataFrame, linkage: np.ndarray, labels: pd.Series,
                      max_rows: int = 40) -> Figure:
    """Signature z-scores (rows) x samples (columns, in dendrogram order), the dendrogram
    above and a cluster colour bar between them. At most `max_rows` signatures are drawn (those
    that differ most between clusters, see `heatmap_rows`), so the figure stays readable and
    under 4,000 pixels however many signatures were scored; the legend names each cluster's
    top signatures."""
    rows = heatmap_rows(z, labels, max_rows)
    shown = z[rows]
    n = shown.shape[1]
    fig = new_figure(11, 1.6 + 0.28 * n + 1.6)
    axes = fig.subplots(3, 2, height_ratios=[1.6, 0.25, 0.28 * n], width_ratios=[1, 0.02])
    order = _dendrogram(axes[0, 0], linkage)
    colors = category_colors(labels)
    _cluster_bar(axes[1, 0], labels.to_numpy()[order], colors)
    lim = float(np.nanmax(np.abs(shown.to_numpy()))) or 1.0
    img = axes[2, 0].imshow(shown.to_numpy()[order].T, aspect="auto", cmap="RdBu_r",
                            vmin=-lim, vmax=lim, interpolation="nearest", gid="zscores")
    axes[2, 0].set_yticks(range(n), [str(c)[:40] for c in shown.columns], fontsize=8)
    axes[2, 0].set_xticks([])
    note = (f"; the {n} of {z.shape[1]} signatures that differ most between clusters"
            if n < z.shape[1] else "")
    axes[2, 0].set_xlabel(f"{len(z)} samples (hierarchical clustering, correlation "
                          f"distance){note}")
    fig.colorbar(img, cax=axes[2, 1], label="z-score")
    axes[0, 1].set_axis_off()
    names = cluster_legend_labels(z, labels)
    axes[0, 0].legend(handles=[Patch(color=c, label=names.get(k, k)) for k, c in colors.items()],
                      loc="lower left", bbox_to_anchor=(0, 1.02), frameon=False, fontsize=8,
                      title="cluster (top signatures by mean z)", title_fontsize=8,
                      ncol=1)
    axes[1, 1].set_axis_off()
    return fig


def correlation_heatmap(corr: pd.DataFrame, linkage: np.ndarray, patients: pd.Series,
                        repeat: pd.Series) -> Figure:
    """Sample x sample correlation in dendrogram order, with a strip above it that marks
    repeat samples in their patient's colour (white for samples of single-sample patients)."""
    fig = new_figure(8, 8.8)
    axes = fig.subplots(3, 2, height_ratios=[1.2, 0.25, 7], width_ratios=[7, 0.2])
    order = _dendrogram(axes[0, 0], linkage)
    axes[0, 1].set_axis_off()
    ids = corr.index.to_numpy()[order]
    rep = repeat.reindex(ids).fillna(False).to_numpy(dtype=bool)
    pats = patients.reindex(ids).astype(str).to_numpy()
    colors = category_colors(pd.Series(pats[rep]))
    strip = np.array([[colors[p] if r else (1.0, 1.0, 1.0, 1.0) for p, r in zip(
        pats, rep, strict=True)]])
    axes[1, 0].imshow(strip, aspect="auto", interpolation="nearest", gid="repeat")
    axes[1, 0].set_xticks([])
    axes[1, 0].set_yticks([0], ["repeats"])
    axes[1, 1].legend(handles=[Patch(color=c, label=p) for p, c in colors.items()][:12],
                      loc="center left", frameon=False, fontsize=7, title="patient",
                      title_fontsize=7)
    axes[1, 1].set_axis_off()
    r = corr.to_numpy()[np.ix_(order, order)]
    off = r[~np.eye(len(r), dtype=bool)]
    lo, hi = np.quantile(off, [0.01, 0.99]) if len(off) else (0, 1)
    img = axes[2, 0].imshow(r, cmap="viridis", vmin=lo, vmax=hi, interpolation="nearest")
    fig.colorbar(img, cax=axes[2, 1], label="Pearson r")
    axes[2, 0].set_xticks([])
    axes[2, 0].set_yticks([])
    axes[2, 0].set_xlabel(f"{len(ids)} samples ({int(rep.sum())} repeat samples of "
                          f"{len(colors)} patients)")
    return fig


def marker_panels(expr: pd.DataFrame, gene_names: list[str], labels: pd.Series) -> Figure:
    """One panel per marker gene: log10 normalised count of each sample by cluster (box and
    points; points offset deterministically within a cluster)."""
    n = max(len(gene_names), 1)
    ncol = min(4, n)
    nrow = int(np.ceil(n / ncol))
    fig = new_figure(2.6 * ncol, 2.4 * nrow)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False).ravel())
    clusters = sorted(labels.unique(), key=lambda c: int(str(c)[1:]) if str(c)[1:].isdigit()
                      else 0)
    colors = category_colors(labels)
    for ax, (gene_id, name) in zip(axes, zip(expr.index, gene_names, strict=True),
                                   strict=False):
        values = expr.loc[gene_id, labels.index]
        groups = [values[labels == c].to_numpy() for c in clusters]
        ax.boxplot(groups, positions=range(len(clusters)), widths=0.6, showfliers=False)
        for i, (c, v) in enumerate(zip(clusters, groups, strict=True)):
            offset = ((np.argsort(np.argsort(v, kind="stable")) % 9) - 4) * 0.05
            ax.scatter(i + offset, v, s=6, color=colors[c], alpha=0.7, linewidth=0, gid=c)
        ax.set_xticks(range(len(clusters)), clusters)
        ax.set_title(name, fontsize=10)
    for ax in axes[:n]:
        ax.set_ylabel("log10(normalised count + 1)", fontsize=8)
    for ax in axes[len(gene_names):]:
        ax.set_axis_off()
    if not gene_names:
        axes[0].text(0.5, 0.5, "none of the marker genes was measured", ha="center",
                     va="center", transform=axes[0].transAxes)
    return fig
