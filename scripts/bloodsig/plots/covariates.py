"""Heatmap of technical covariates against the model's variables."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import new_figure


def association_heatmap(assoc: pd.DataFrame, title: str | None = None) -> Figure:
    """-log10 p of each covariate (rows) against each variable (columns); covariates dropped
    for their association with group are marked with an asterisk in their label.

    assoc: `bloodsig.de.analysis.variable_association` output, optionally with `dropped_for_group`.
    """
    if assoc.empty:
        fig = new_figure(4.0, 1.5)
        ax = fig.subplots()
        ax.axis("off")
        ax.text(0.5, 0.5, "no technical covariates estimated", ha="center", va="center")
        return fig
    p = assoc.pivot(index="covariate", columns="variable", values="p_value")
    p = p.loc[pd.unique(assoc["covariate"]), pd.unique(assoc["variable"])]
    z = -np.log10(np.clip(p.to_numpy(dtype=float), 1e-300, 1.0))
    dropped = (assoc.drop_duplicates("covariate").set_index("covariate")
               .get("dropped_for_group", pd.Series(False, index=p.index)))
    labels = [f"{c} *" if bool(dropped.get(c, False)) else c for c in p.index]
    fig = new_figure(0.55 * p.shape[1] + 3.0, 0.3 * p.shape[0] + 1.8)
    ax = fig.subplots()
    image = ax.imshow(z, aspect="auto", cmap="viridis", vmin=0,
                      vmax=max(10.0, float(np.nanmax(z))), interpolation="nearest")
    ax.set_xticks(np.arange(p.shape[1]), p.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(np.arange(p.shape[0]), labels, fontsize=8)
    fig.colorbar(image, ax=ax, label="-log10 p", shrink=0.7)
    ax.set_title((f"{title}\n" if title else "")
                 + "covariate association (* = associated with group, not used)", fontsize=9)
    return fig
