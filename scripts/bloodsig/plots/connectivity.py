"""Figures of the connectivity stage: DEG-list overlaps (UpSet) and the drug - target network."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import DOWN, GREY, UP, new_figure


def upset(sets: dict[str, set], title: str = "") -> Figure:
    """UpSet plot: genes in exactly each combination of lists (bars over a dot matrix), so the
    core genes are the bar whose dots cover every list."""
    names = list(sets)
    every = set().union(*sets.values())
    combos = []
    for k in range(len(names), 0, -1):
        for combo in combinations(names, k):
            inside = set.intersection(*(sets[n] for n in combo))
            outside = set().union(*(sets[n] for n in names if n not in combo))
            combos.append((combo, len((inside - outside) & every)))
    fig = new_figure(1.2 + 0.6 * len(combos), 4.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.4])
    x = np.arange(len(combos))
    counts = [c for _, c in combos]
    colors = [UP if len(c) == len(names) else GREY for c, _ in combos]
    for patch in top.bar(x, counts, color=colors):
        patch.set_gid("intersections")
    for xi, c in zip(x, counts, strict=True):
        top.text(xi, c, str(c), ha="center", va="bottom", fontsize=8)
    top.set_ylabel("genes in exactly these lists")
    top.set_title(title or "Overlap of DEG lists (red: core genes)")
    for i, name in enumerate(names):
        on = [name in c for c, _ in combos]
        bottom.scatter(x, np.full(len(x), i), c=["black" if o else "#dddddd" for o in on], s=30)
    bottom.set_yticks(range(len(names)), [f"{n} ({len(sets[n])})" for n in names])
    bottom.set_xticks([])
    bottom.set_ylim(-0.5, len(names) - 0.5)
    for ax in (top, bottom):
        ax.spines[["top", "right"]].set_visible(False)
    return fig


def drug_target_network(candidates: pd.DataFrame, core: set[str] | None = None,
                        title: str = "") -> Figure:
    """Bipartite network: candidate drugs (left, ordered by rank, coloured by summary NCS)
    linked to their target genes (right; core genes in red)."""
    core = core or set()
    drugs = candidates["pert_name"].astype(str).tolist()
    links = [(d, t) for d, targets in zip(drugs, candidates["target"].fillna("").astype(str),
                                          strict=True)
             for t in targets.split("|") if t]
    targets = sorted({t for _, t in links})
    height = max(3.0, 0.32 * max(len(drugs), len(targets), 1) + 1)
    fig = new_figure(7, height)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(title or f"Drug candidates and their targets ({len(drugs)} drugs)")
    if not drugs:
        ax.text(0.5, 0.5, "no candidate passed the filters", ha="center", va="center")
        return fig
    dy = {d: 1 - i / max(len(drugs) - 1, 1) for i, d in enumerate(drugs)}
    ty = {t: 1 - i / max(len(targets) - 1, 1) for i, t in enumerate(targets)}
    for d, t in links:
        ax.plot([0, 1], [dy[d], ty[t]], color=GREY, lw=0.8, zorder=1)
    ncs = candidates["ncs"].to_numpy(float)
    ax.scatter(np.zeros(len(drugs)), [dy[d] for d in drugs], s=80, zorder=2, gid="drugs",
               c=[DOWN if v < 0 else UP for v in ncs])
    ax.scatter(np.ones(len(targets)), [ty[t] for t in targets], s=50, marker="s", zorder=2,
               gid="targets", c=[UP if t in core else "#555555" for t in targets])
    for d in drugs:
        ax.text(-0.04, dy[d], d, ha="right", va="center", fontsize=8)
    for t in targets:
        ax.text(1.04, ty[t], t, ha="left", va="center", fontsize=8,
                color=UP if t in core else "black")
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylim(-0.08, 1.08)
    return fig
