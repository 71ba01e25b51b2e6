"""Figures of the report stage: qPCR against RNA-seq fold changes, the slowest rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import PALETTE, new_figure


def qpcr_scatter(table: pd.DataFrame) -> Figure:
    """qPCR log2 fold change (2^-ddCt, with its 95% CI) against RNA-seq logFC per gene,
    identity line, Pearson r in the title. table: `bloodsig.de.qpcr.with_rnaseq`'s output;
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


def slowest_rules(slowest: pd.DataFrame) -> Figure:
    """Horizontal bars of the wall time of the slowest rules (summed over each rule's jobs),
    slowest at the top, each labelled with its job count and its largest job's peak RSS.
    slowest: `bloodsig.core.benchmarks.slowest_rules`'s output. The bars have gid "rules"."""
    df = slowest.iloc[::-1]
    fig = new_figure(6.5, 0.45 * max(len(df), 2) + 1.2)
    ax = fig.subplots()
    minutes = df["total_s"].to_numpy() / 60
    ax.barh(np.arange(len(df)), minutes, color=PALETTE[0], gid="rules")
    ax.set_yticks(np.arange(len(df)), df["rule"].tolist(), fontsize=8)
    for i, (m, jobs, rss) in enumerate(zip(minutes, df["jobs"], df["max_rss_mb"], strict=True)):
        mem = "RSS n/a" if pd.isna(rss) else f"{rss / 1024:.2f} GB"
        ax.annotate(f" {jobs} job{'s' if jobs != 1 else ''}, {mem}", (m, i), va="center",
                    fontsize=7)
    ax.set_xlim(0, max(float(minutes.max()) if len(df) else 1.0, 1e-3) * 1.35)
    ax.set_xlabel("wall time, all jobs of the rule (min)")
    ax.set_title(f"The {len(df)} slowest rules of the run")
    return fig
