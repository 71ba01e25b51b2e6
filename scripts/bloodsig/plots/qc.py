"""QC figures: PCA panels before/after filtering and the RNA-based sex check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import GREY, HIGHLIGHT, as_labels, category_colors, new_figure

SEX_COLORS = {"female": "#d95f02", "male": "#1b9e77", "NA": GREY}


def pca_panels(pcas: Mapping[str, tuple[pd.DataFrame, pd.Series]], samples: pd.DataFrame,
               color_by: Sequence[str] = ("group", "batch", "library_type"),
               pcs: tuple[str, str] = ("PC1", "PC2")) -> Figure:
    """PC scatter panels: one row per PCA (e.g. {"before filtering": pca(...), "after ...":
    ...}, each (scores, explained) from `bloodsig.qc.expression.pca`), one column per
    sample-sheet column in `color_by` that exists (columns missing from `samples` are
    skipped; with none left, one uncoloured column). One scatter collection per category,
    gid "pca:<category>".
    """
    columns = [c for c in color_by if c in samples.columns] or [None]
    fig = new_figure(3.6 * len(columns) + 1.2, 3.3 * len(pcas))
    axes = np.atleast_2d(fig.subplots(len(pcas), len(columns), squeeze=False))
    for i, (name, (scores, explained)) in enumerate(pcas.items()):
        for j, column in enumerate(columns):
            ax = axes[i, j]
            labels = (as_labels(samples[column].reindex(scores.index)) if column
                      else np.full(len(scores), "all", dtype=object))
            colors = category_colors(pd.Series(labels))
            for level, color in colors.items():
                sel = labels == level
                if sel.any():
                    ax.scatter(scores.loc[sel, pcs[0]], scores.loc[sel, pcs[1]], s=18,
                               color=color, label=level, edgecolor="white", linewidth=0.3,
                               gid=f"pca:{level}")
            ax.set_xlabel(f"{pcs[0]} ({100 * explained[pcs[0]]:.1f}%)")
            ax.set_ylabel(f"{pcs[1]} ({100 * explained[pcs[1]]:.1f}%)")
            ax.set_title(f"{name}" + (f" - {column}" if column else ""), fontsize=10)
            if column:
                ax.legend(title=column, fontsize=7, title_fontsize=8, frameon=False,
                          loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def sex_check_scatter(sex_table: pd.DataFrame, label_mismatches: bool = True) -> Figure:
    """XIST vs mean chrY log-CPM per sample, coloured by recorded sex (hollow, coloured by the
    inferred sex, where none was recorded), with the decision line
    chry - xist = threshold (the table's `threshold` column) and mismatches
    ringed in red (gid "mismatch") and labelled by sample id. `sex_table` is
    `bloodsig.qc.expression.sex_check`'s output; a missing side is drawn at 0, as scored.
    """
    x = sex_table["xist"].fillna(0.0).to_numpy()
    y = sex_table["chry"].fillna(0.0).to_numpy()
    recorded = as_labels(sex_table["recorded_sex"])
    mismatch = sex_table["mismatch"].to_numpy(dtype=bool)
    threshold = float(sex_table["threshold"].iloc[0])
    fig = new_figure(5.2, 4.4)
    ax = fig.subplots()
    # Mismatched samples are drawn last, so they are not hidden inside the other sex's cloud.
    labelled = set()
    for wrong in (False, True):
        for level, color in SEX_COLORS.items():
            sel = (recorded == level) & (mismatch == wrong)
            if sel.any() and level != "NA":
                ax.scatter(x[sel], y[sel], s=22, color=color, edgecolor="white",
                           linewidth=0.3, gid=f"sex:{level}",
                           label=None if level in labelled else f"recorded {level}")
                labelled.add(level)
    # sex not recorded: hollow, in the colour of the sex inferred from expression
    predicted = as_labels(sex_table["predicted_sex"])
    for level, color in SEX_COLORS.items():
        sel = (recorded == "NA") & (predicted == level)
        if sel.any():
            ax.scatter(x[sel], y[sel], s=24, facecolor="none", edgecolor=color, linewidth=1.0,
                       gid=f"inferred:{level}", label=f"not recorded, inferred {level}"
                       if level != "NA" else "not recorded, not inferable")
    ax.scatter(x[mismatch], y[mismatch], s=90, facecolor="none", edgecolor=HIGHLIGHT,
               linewidth=1.4, label="mismatch", gid="mismatch")
    if label_mismatches:
        for sample, xi, yi in zip(sex_table["sample_id"].to_numpy()[mismatch], x[mismatch],
                                  y[mismatch], strict=True):
            ax.annotate(str(sample), (xi, yi), xytext=(4, 4), textcoords="offset points",
                        fontsize=7, color=HIGHLIGHT)
    lo = min(x.min(), y.min() - threshold) - 1.0
    hi = max(x.max(), y.max() - threshold) + 1.0
    ax.plot([lo, hi], [lo + threshold, hi + threshold], ls="--", color="black", lw=0.8,
            label=f"chrY - XIST = {threshold:.2f}")
    ax.set_xlabel("XIST (log2 CPM)")
    ax.set_ylabel("chrY genes (mean log2 CPM)")
    ax.set_title(f"Sex check: {int(mismatch.sum())} mismatch(es) in {len(sex_table)} samples",
                 fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="best")
    return fig
