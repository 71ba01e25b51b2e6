"""Survival figures: Kaplan-Meier curves of risk groups with 95% confidence bands and numbers
at risk, and the time-dependent AUC of the models over the train/test splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..stats.survival import km_curve
from . import DOWN, GREY, UP, new_figure

GROUP_COLORS = {"shorter": UP, "intermediate": GREY, "longer": DOWN}
MODEL_COLORS = {"clinical": "#636363", "stepwise": "#1b9e77", "xgboost": "#d95f02"}


def km_plot(time, event, groups, title: str = "", unit: str = "months",
            n_ticks: int = 6) -> Figure:
    """Kaplan-Meier curves of each group (censoring marked, 95% band shaded) and numbers at
    risk below."""
    time, event, groups = np.asarray(time, float), np.asarray(event, int), np.asarray(groups)
    present = [g for g in GROUP_COLORS if (groups == g).any()]
    present += sorted(set(groups.tolist()) - set(present))
    fig = new_figure(6.5, 5.2)
    ax, tab = fig.subplots(2, 1, height_ratios=[4, 1], sharex=True)
    # Ticks at whole multiples of 12 time units (years when the unit is months).
    step = 12 * max(1, int(np.ceil(time.max() / 12 / (n_ticks - 1))))
    ticks = np.arange(0, time.max() + step, step)
    for k, g in enumerate(present):
        sel = groups == g
        km = km_curve(time[sel], event[sel])
        t, s = km["time"].to_numpy(), km["survival"].to_numpy()
        color = GROUP_COLORS.get(g, f"C{k}")
        ax.step(t, s, where="post", color=color, label=f"{g} (n={int(sel.sum())})", gid=g)
        ax.fill_between(t, km["lower"], km["upper"], step="post", color=color, alpha=0.15,
                        linewidth=0)
        cens = km["n_censor"].to_numpy() > 0
        ax.plot(km["time"].to_numpy()[cens], km["survival"].to_numpy()[cens], "|",
                color=color, markersize=6)
        at_risk = [(time[sel] >= x).sum() for x in ticks]
        for x, n in zip(ticks, at_risk, strict=True):
            tab.text(x, len(present) - 1 - k, str(n), ha="center", va="center", color=color,
                     fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("survival probability")
    ax.set_title(title)
    ax.legend(frameon=False, loc="upper right")
    tab.set_yticks(range(len(present)), present[::-1], fontsize=8)
    tab.set_ylim(-0.5, len(present) - 0.5)
    tab.set_xticks(ticks)
    tab.set_xlabel(f"time ({unit})")
    tab.set_title("number at risk", fontsize=8, loc="left")
    for side in ("top", "right", "left"):
        tab.spines[side].set_visible(False)
    tab.tick_params(axis="y", length=0)
    return fig


def td_auc_plot(splits: pd.DataFrame, unit: str = "months") -> Figure:
    """Mean time-dependent AUC (bars: +/- 1 sd over the splits) per model, one panel per
    variant (genes fixed / re-selected in each split)."""
    auc = splits[splits["metric"] == "auc"]
    variants = sorted(auc["variant"].unique())
    fig = new_figure(4.2 * len(variants), 3.8)
    axes = np.atleast_1d(fig.subplots(1, len(variants), sharey=True))
    for ax, variant in zip(axes, variants, strict=True):
        part = auc[auc["variant"] == variant]
        summary = part.groupby(["model", "time"])["value"].agg(["mean", "std"]).reset_index()
        for k, (model, rows) in enumerate(summary.groupby("model", sort=False)):
            shift = (k - 1) * 0.8
            ax.errorbar(rows["time"] + shift, rows["mean"], yerr=rows["std"].fillna(0),
                        marker="o", capsize=2, color=MODEL_COLORS.get(model, f"C{k}"),
                        label=model, gid=model)
        ax.axhline(0.5, color=GREY, linewidth=0.8, linestyle="--")
        ax.set_title(f"genes {variant}")
        ax.set_xlabel(f"time ({unit})")
    axes[0].set_ylabel("time-dependent AUC")
    axes[-1].legend(frameon=False, loc="lower left")
    return fig
