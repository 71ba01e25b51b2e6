"""Figures of the report stage: qPCR against RNA-seq fold changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import PALETTE, new_figure


def qpcr_scatter(table: pd.DataFrame) -> Figure:
    """qPCR log2 fold change (2^-ddCt, with its 95% CI) against RNA-seq logFC per gene,
    identity line, Pearson r in the title. table: `bloodsig.qpcr.with_rnaseq`'s output;
    genes without an RNA-seq logFC are left out. The scatter has gid "genes"."""
    df = table.dropna(subset=["rnaseq_logFC"])
    fig = new_figure(4.2, 4.0)
    ax = fig.subplots()
    x, y = df["rnaseq_logFC"].to_numpy(), df["log2FC"].to_numpy()
    if len(df):
        lo = float(min(x.min(), df["ci_low"].min(), 0)) - 0.1
        hi = float(max(x.max(), df["ci_high"].max(), 0)) + 0.1
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.6, linestyle="--")
        ax.errorbar(x, y, yerr=[y - df["ci_low"].to_numpy(), df["ci_high"].to_numpy() - y],
                    fmt="none", ecolor="#888888", elinewidth=0.8)
        ax.scatter(x, y, s=25, color=PALETTE[0], zorder=3, gid="genes")
        for xi, yi, name in zip(x, y, df["gene"], strict=True):
            ax.annotate(name, (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    r = np.corrcoef(x, y)[0, 1] if len(df) > 2 else np.nan
    ax.axhline(0, color=PALETTE[10], linewidth=0.5)
    ax.axvline(0, color=PALETTE[10], linewidth=0.5)
    ax.set_xlabel("RNA-seq log2 fold change")
    ax.set_ylabel("qPCR log2 fold change (-ddCt)")
    ax.set_title(f"qPCR validation (n={len(df)} genes, r={r:.2f})")
    return fig
