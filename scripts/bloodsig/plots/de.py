"""Differential-expression figures from limma-style top tables (logFC, AveExpr, P.Value,
adj.P.Val; gene_id as a column or the index; gene_name used for labels when present)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from . import DOWN, GREY, HIGHLIGHT, UP, category_colors, new_figure


def _indexed(tt: pd.DataFrame) -> pd.DataFrame:
    return tt.set_index("gene_id") if "gene_id" in tt.columns else tt


def _names(tt: pd.DataFrame) -> pd.Series:
    names = tt["gene_name"] if "gene_name" in tt.columns else pd.Series(np.nan, index=tt.index)
    return names.fillna(pd.Series(tt.index.astype(str), index=tt.index)).astype(str)


def de_classes(tt: pd.DataFrame, fdr: float = 0.05, lfc: float = 0.0) -> pd.Series:
    """'up', 'down' or 'ns' per gene: adj.P.Val < fdr and logFC > lfc (up) or < -lfc (down)."""
    sig = (tt["adj.P.Val"] < fdr).to_numpy()
    logfc = tt["logFC"].to_numpy()
    cls = np.where(sig & (logfc > lfc), "up", np.where(sig & (logfc < -lfc), "down", "ns"))
    return pd.Series(cls, index=tt.index, name="class")


def _scatter_classes(ax, x, y, cls) -> None:
    for name, color, size in (("ns", GREY, 4), ("down", DOWN, 8), ("up", UP, 8)):
        sel = cls == name
        ax.scatter(x[sel], y[sel], s=size, color=color, linewidth=0, rasterized=True,
                   label=f"{name} ({int(sel.sum())})", gid=name)


def _title(cls: pd.Series, fdr: float, lfc: float) -> str:
    cut = f"FDR < {fdr:g}" + (f", |logFC| > {lfc:g}" if lfc > 0 else "")
    return f"{int((cls == 'up').sum())} up, {int((cls == 'down').sum())} down ({cut})"


def volcano(tt: pd.DataFrame, fdr: float = 0.05, lfc: float = 0.0, n_labels: int = 10,
            title: str | None = None) -> Figure:
    """Volcano plot: logFC vs -log10 P.Value; DEGs coloured (gids "up"/"down"/"ns"), the
    FDR cut drawn at the largest P.Value that passes it, |logFC| cuts drawn when lfc > 0,
    and the `n_labels` DEGs with the smallest P.Value labelled by gene name."""
    tt = _indexed(tt)
    cls = de_classes(tt, fdr, lfc)
    x = tt["logFC"].to_numpy()
    y = -np.log10(np.clip(tt["P.Value"].to_numpy(dtype=float), 1e-300, None))
    fig = new_figure(5.5, 4.8)
    ax = fig.subplots()
    _scatter_classes(ax, x, y, cls.to_numpy())
    passing = tt["P.Value"][tt["adj.P.Val"] < fdr]
    if len(passing):
        ax.axhline(-np.log10(passing.max()), ls="--", lw=0.8, color="black")
    if lfc > 0:
        for v in (-lfc, lfc):
            ax.axvline(v, ls="--", lw=0.8, color="black")
    labelled = tt.index[cls != "ns"]
    top = tt.loc[labelled, "P.Value"].sort_values(kind="stable").index[:n_labels]
    names = _names(tt)
    for gene in top:
        ax.annotate(names[gene], (tt.at[gene, "logFC"], -np.log10(max(tt.at[gene, "P.Value"],
                    1e-300))), xytext=(3, 3), textcoords="offset points", fontsize=7)
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 P-value")
    ax.set_title((f"{title}\n" if title else "") + _title(cls, fdr, lfc), fontsize=10)
    ax.legend(fontsize=7, frameon=False, markerscale=2)
    return fig


def ma_plot(tt: pd.DataFrame, fdr: float = 0.05, lfc: float = 0.0,
            title: str | None = None) -> Figure:
    """MA plot: AveExpr vs logFC with DEGs coloured (gids "up"/"down"/"ns"), a line at 0
    and the |logFC| cuts when lfc > 0."""
    tt = _indexed(tt)
    cls = de_classes(tt, fdr, lfc)
    fig = new_figure(5.5, 4.2)
    ax = fig.subplots()
    _scatter_classes(ax, tt["AveExpr"].to_numpy(), tt["logFC"].to_numpy(), cls.to_numpy())
    ax.axhline(0, lw=0.8, color="black")
    if lfc > 0:
        for v in (-lfc, lfc):
            ax.axhline(v, ls="--", lw=0.8, color="black")
    ax.set_xlabel("average log2 expression (AveExpr)")
    ax.set_ylabel("log2 fold change")
    ax.set_title((f"{title}\n" if title else "") + _title(cls, fdr, lfc), fontsize=10)
    ax.legend(fontsize=7, frameon=False, markerscale=2)
    return fig


def pvalue_histogram(tt: pd.DataFrame, bins: int = 40, title: str | None = None) -> Figure:
    """Histogram of raw P-values with the flat level expected if every gene were null."""
    p = tt["P.Value"].dropna().to_numpy(dtype=float)
    fig = new_figure(5.0, 3.6)
    ax = fig.subplots()
    ax.hist(p, bins=np.linspace(0, 1, bins + 1), color="#7f7f7f", edgecolor="white",
            linewidth=0.4)
    ax.axhline(len(p) / bins, ls="--", lw=0.8, color=HIGHLIGHT, label="uniform (all null)")
    ax.set_xlim(0, 1)
    ax.set_xlabel("P-value")
    ax.set_ylabel("genes")
    ax.set_title((f"{title}\n" if title else "") + f"P-values of {len(p)} genes", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig


def top_deg_heatmap(logexpr: pd.DataFrame, tt: pd.DataFrame, groups: pd.Series,
                    n_up: int = 10, n_down: int = 10, fdr: float = 0.05,
                    lfc: float = 0.0) -> Figure:
    """Heatmap of the `n_up` up and `n_down` down DEGs with the smallest P.Value (fewer if
    there are fewer DEGs): rows z-scored across samples (clipped at +/-3), samples ordered
    by group (categorical order, else sorted) with a group colour bar above.

    logexpr: genes x samples log expression; groups: group per sample (index sample_id).
    """
    tt = _indexed(tt)
    cls = de_classes(tt, fdr, lfc)
    pv = tt["P.Value"]
    up = pv[cls == "up"].sort_values(kind="stable").index[:n_up]
    down = pv[cls == "down"].sort_values(kind="stable").index[:n_down]
    genes = up.append(down)
    if len(genes) == 0:
        fig = new_figure(5.0, 1.6)
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, f"no DEGs ({_title(cls, fdr, lfc)})", ha="center", va="center")
        return fig
    groups = groups.reindex(logexpr.columns)
    order = groups.sort_values(kind="stable").index
    x = logexpr.loc[genes, order].to_numpy(dtype=float)
    sd = x.std(axis=1, ddof=1, keepdims=True) if x.shape[1] > 1 else np.ones((len(x), 1))
    z = np.clip((x - x.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0), -3, 3)

    # Wide enough to read sample names in small cohorts; capped for cohorts of hundreds.
    fig = new_figure(min(max(5.0, 0.12 * len(order) + 3.0), 14.0),
                     0.28 * max(len(genes), 4) + 1.8)
    bar_ax, heat_ax = fig.subplots(2, 1, height_ratios=[1, max(len(genes), 1) * 1.5],
                                   sharex=True)
    labels = groups.loc[order].astype(str).to_numpy()
    colors = category_colors(pd.Series(labels))
    levels = list(colors)
    bar_ax.imshow(np.array([[levels.index(v) for v in labels]]), aspect="auto",
                  cmap=ListedColormap([colors[v] for v in levels]), vmin=-0.5,
                  vmax=len(levels) - 0.5, interpolation="nearest", gid="group_bar")
    bar_ax.set_yticks([])
    bar_ax.legend(handles=[Patch(color=colors[v], label=v) for v in levels], fontsize=7,
                  frameon=False, loc="lower left", bbox_to_anchor=(1.0, 0.0), title="group")
    image = heat_ax.imshow(z, aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3,
                           interpolation="nearest", gid="heatmap")
    names = _names(tt)
    heat_ax.set_yticks(np.arange(len(genes)), [names[g] for g in genes], fontsize=7)
    if len(order) <= 60:
        heat_ax.set_xticks(np.arange(len(order)), order.astype(str), rotation=90, fontsize=6)
    else:
        heat_ax.set_xticks([])
    heat_ax.set_xlabel(f"{len(order)} samples (ordered by group)")
    fig.colorbar(image, ax=heat_ax, label="z-score", shrink=0.6)
    bar_ax.set_title(f"Top {len(up)} up and {len(down)} down DEGs", fontsize=10)
    return fig


def sex_logfc_scatter(flags: pd.DataFrame, n_labels: int = 10,
                      title: str | None = None) -> Figure:
    """Male vs female logFC per gene from `bloodsig.de.sexdiff.sex_interaction_flags`: the
    identity line, genes with sex-different effects highlighted (gid "flagged", the rest
    gid "not_flagged") and the `n_labels` most significant of them labelled."""
    flagged = flags["flagged"].to_numpy(dtype=bool)
    x, y = flags["logFC_male"].to_numpy(), flags["logFC_female"].to_numpy()
    fig = new_figure(5.0, 4.8)
    ax = fig.subplots()
    ax.scatter(x[~flagged], y[~flagged], s=4, color=GREY, linewidth=0, rasterized=True,
               label=f"similar ({int((~flagged).sum())})", gid="not_flagged")
    ax.scatter(x[flagged], y[flagged], s=12, color=HIGHLIGHT, linewidth=0,
               label=f"differ by sex ({int(flagged.sum())})", gid="flagged")
    finite = np.concatenate([x[np.isfinite(x)], y[np.isfinite(y)], [0.0]])
    lim = np.abs(finite).max() * 1.05 + 1e-9
    ax.plot([-lim, lim], [-lim, lim], ls="--", lw=0.8, color="black", label="equal effect")
    ax.axhline(0, lw=0.5, color="black")
    ax.axvline(0, lw=0.5, color="black")
    top = flags["P.Value"][flags["flagged"]].sort_values(kind="stable").index[:n_labels]
    names = _names(flags)
    for gene in top:
        ax.annotate(names[gene], (flags.at[gene, "logFC_male"], flags.at[gene, "logFC_female"]),
                    xytext=(3, 3), textcoords="offset points", fontsize=7)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel("log2 fold change in males")
    ax.set_ylabel("log2 fold change in females")
    ax.set_title((f"{title}\n" if title else "")
                 + f"{int(flagged.sum())} of {len(flags)} genes differ by sex", fontsize=10)
    ax.legend(fontsize=7, frameon=False, markerscale=2)
    return fig
