"""Classifier figures: ROC curves, RFE curves with the knee, panel importance and overlap."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import GREY, PALETTE, new_figure


def roc_curves(roc: pd.DataFrame, aucs: pd.Series, by: str = "model",
               title: str = "") -> Figure:
    """ROC curves (columns `by`, fpr, tpr), one line per model labelled with its AUC.

    Curves that coincide (several models at AUC 1.0 on a small test set) stay visible: each
    model has its own dash pattern, and the earlier ones are drawn wider beneath the later."""
    fig = new_figure(5.2, 4.8)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1)
    groups = list(roc.groupby(by, sort=False))
    styles = ["-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)), (0, (3, 3)),
              (0, (8, 2, 1, 2, 1, 2))]
    for i, (name, grp) in enumerate(groups):
        ax.step(grp["fpr"], grp["tpr"], where="post", color=PALETTE[i % len(PALETTE)],
                linewidth=1.2 + 2.4 * (len(groups) - 1 - i) / max(len(groups) - 1, 1),
                linestyle=styles[i % len(styles)], label=f"{name} (AUC {aucs[name]:.3f})",
                gid=str(name), zorder=2 + i)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01),
           title=title)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return fig


def rfe_curves(curves: pd.DataFrame, knees: dict[str, int], max_genes: int | None = None
               ) -> Figure:
    """Mean CV AUC (± sd) against the number of genes per DEG filter, the knee marked.

    curves: filter, n_genes, mean_auc, sd_auc. Left: every measured size (log x); right: up to
    max_genes (the region the knee is searched in)."""
    fig = new_figure(10, 4.2)
    axes = fig.subplots(1, 2)
    for ax, limit in zip(axes, (None, max_genes), strict=True):
        for i, (name, grp) in enumerate(curves.groupby("filter", sort=False)):
            g = grp.sort_values("n_genes")
            if limit is not None:
                g = g[g["n_genes"] <= limit]
            color = PALETTE[i % len(PALETTE)]
            ax.plot(g["n_genes"], g["mean_auc"], color=color, linewidth=1.3,
                    label=f"{name} (knee {knees[name]})", gid=str(name))
            ax.fill_between(g["n_genes"], (g["mean_auc"] - g["sd_auc"]).clip(0, 1),
                            (g["mean_auc"] + g["sd_auc"]).clip(0, 1), color=color, alpha=0.15,
                            linewidth=0)
            k = g[g["n_genes"] == knees[name]]
            ax.scatter(k["n_genes"], k["mean_auc"], color=color, s=40, zorder=3,
                       edgecolor="black", gid=f"knee_{name}")
            ax.axvline(knees[name], color=color, linestyle=":", linewidth=1)
        ax.set(xlabel="number of genes", ylabel="mean CV AUC")
    axes[0].set_xscale("log")
    axes[0].set_title("recursive feature elimination")
    axes[1].set_title(f"up to {max_genes} genes" if max_genes else "all sizes")
    axes[1].legend(loc="lower right", fontsize=8, frameon=False)
    return fig


def panel_importance(panels: pd.DataFrame) -> Figure:
    """Normalised gain of each panel gene in its panel's final model (columns panel,
    gene_name, importance), one bar chart per panel."""
    names = list(dict.fromkeys(panels["panel"]))
    height = max(3.0, 0.16 * panels.groupby("panel").size().max() + 1)
    fig = new_figure(3.4 * len(names), height)
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for i, (ax, name) in enumerate(zip(axes, names, strict=True)):
        g = panels[panels["panel"] == name].sort_values("importance")
        ax.barh(np.arange(len(g)), g["importance"], color=PALETTE[i % len(PALETTE)])
        ax.set_yticks(np.arange(len(g)), g["gene_name"], fontsize=6)
        ax.set(xlabel="gain (share)", title=f"{name} ({len(g)} genes)")
    return fig


def panel_overlap(panels: dict[str, list], names: pd.Series) -> Figure:
    """Gene membership of the panels (a dot per gene and panel) with pairwise overlaps."""
    genes = list(dict.fromkeys(g for v in panels.values() for g in v))
    member = np.array([[g in set(v) for g in genes] for v in panels.values()])
    order = np.lexsort((np.arange(len(genes)), -member.sum(axis=0)))
    member, genes = member[:, order], [genes[i] for i in order]
    fig = new_figure(max(5.0, 0.13 * len(genes) + 2.5), 2.2 + 0.35 * len(panels))
    ax = fig.add_subplot()
    rows, cols = np.nonzero(member)
    ax.scatter(cols, rows, s=18, color=PALETTE[0], gid="member")
    ax.set_yticks(np.arange(len(panels)),
                  [f"{k} ({len(v)})" for k, v in panels.items()], fontsize=8)
    ax.set_xticks(np.arange(len(genes)), [names.get(g, g) for g in genes], rotation=90,
                  fontsize=5)
    ax.set_ylim(len(panels) - 0.5, -0.5)
    keys = list(panels)
    shared = ", ".join(f"{a}∩{b} {len(set(panels[a]) & set(panels[b]))}"
                       for i, a in enumerate(keys) for b in keys[i + 1:])
    ax.set_title(f"panel overlap: {shared}", fontsize=8)
    return fig
