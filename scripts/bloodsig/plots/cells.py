"""Cell-proportion figures: estimates against flow cytometry, cell types against RNA PCs."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import PALETTE, new_figure


def validation_scatter(estimates: Mapping[str, pd.DataFrame], reference: pd.DataFrame,
                       validation: pd.DataFrame, reference_name: str = "flow cytometry"
                       ) -> Figure:
    """One row per estimate, one panel per cell type (and group) of `validation`: estimate
    against the reference over their shared samples, identity line, Pearson r in the title.

    estimates and reference: samples x columns, with any group columns already summed
    (`bloodsig.cells.proportions.with_groups`); validation:
    `bloodsig.cells.proportions.compare`'s table. Each scatter collection has
    gid "<estimate>:<cell type>".
    """
    names = list(pd.unique(validation["estimate"]))
    columns = list(pd.unique(validation["cell_type"]))
    fig = new_figure(2.4 * len(columns) + 0.6, 2.4 * len(names) + 0.4)
    axes = np.atleast_2d(fig.subplots(len(names), len(columns), squeeze=False))
    stats = validation.set_index(["estimate", "cell_type"])
    for i, name in enumerate(names):
        est = estimates[name]
        shared = est.index.intersection(reference.index, sort=False)
        for j, cell in enumerate(columns):
            ax = axes[i, j]
            if (name, cell) not in stats.index:
                ax.axis("off")
                continue
            x, y = reference.loc[shared, cell], est.loc[shared, cell]
            lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
            ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.6, linestyle="--")
            ax.scatter(x, y, s=10, color=PALETTE[i % len(PALETTE)], edgecolor="white",
                       linewidth=0.2, gid=f"{name}:{cell}")
            ax.set_title(f"{cell}  r = {stats.loc[(name, cell), 'r']:.3f}", fontsize=9)
            ax.tick_params(labelsize=7)
            if i == len(names) - 1:
                ax.set_xlabel(reference_name, fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{name} estimate", fontsize=8)
    return fig


def pc_association_heatmap(assoc: pd.DataFrame, min_abs_r: float = 0.25) -> Figure:
    """Pearson r of each cell type (rows) with each RNA PC (columns); flagged pairs
    (|r| > min_abs_r, Bonferroni-significant) marked with an asterisk.

    assoc: `bloodsig.cells.proportions.pc_association`'s table.
    """
    r = assoc.pivot(index="cell_type", columns="pc", values="r")
    r = r.loc[pd.unique(assoc["cell_type"]), pd.unique(assoc["pc"])]
    flagged = assoc.pivot(index="cell_type", columns="pc", values="flagged").loc[r.index,
                                                                                 r.columns]
    fig = new_figure(0.5 * r.shape[1] + 2.8, 0.4 * r.shape[0] + 1.6)
    ax = fig.subplots()
    image = ax.imshow(r.to_numpy(dtype=float), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                      interpolation="nearest", gid="heatmap")
    for (i, j) in zip(*np.nonzero(flagged.to_numpy(dtype=bool)), strict=True):
        ax.text(j, i, "*", ha="center", va="center", fontsize=10, color="black")
    ax.set_xticks(np.arange(r.shape[1]), r.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(np.arange(r.shape[0]), r.index, fontsize=8)
    fig.colorbar(image, ax=ax, label="Pearson r", shrink=0.7)
    ax.set_title(f"cell types vs RNA PCs (* |r| > {min_abs_r:g}, Bonferroni p < alpha)",
                 fontsize=9)
    return fig
