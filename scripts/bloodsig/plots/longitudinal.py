"""Figures of the longitudinal follow-up: per-patient trajectories with therapy periods shaded
(the PBMC sALS study's Figure 5) and the qPCR time courses behind the qPCR subgroups."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from . import GREY, category_colors, new_figure

PANELS = {"signature": "immune signatures (mean z)", "marker": "markers (log2-CPM)",
          "qpcr": "qPCR (log2 rel., -ddCt)"}
SHADE = "#f4a582"
CLUSTER_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]  # Dark2


def _grid(width: float, height: float, top: float = 0.6, bottom: float = 0.5) -> Figure:
    """A house-style figure with a fixed layout (constrained layout is slow on many axes):
    `top` and `bottom` inches kept for the legend and the x label."""
    fig = Figure(figsize=(width, height), facecolor="white")
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.09, right=0.98, top=1 - top / height, bottom=bottom / height,
                        hspace=0.45, wspace=0.3)
    return fig


def _shade(ax, periods: pd.DataFrame, lo: float, hi: float) -> None:
    """Therapy periods of one patient as shaded spans, clipped to [lo, hi]."""
    for start, end in zip(periods["start"], periods["end"], strict=True):
        ax.axvspan(max(start, lo), min(end, hi), color=SHADE, alpha=0.35, linewidth=0,
                   gid="treatment")


def _empty(text: str) -> Figure:
    fig = new_figure(6, 2)
    ax = fig.subplots()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return fig


def trajectories(traj: pd.DataFrame, qpcr: pd.DataFrame, treatments: pd.DataFrame,
                 stability: pd.DataFrame, time_label: str = "days from onset") -> Figure:
    """One row per patient with several samples: signature scores per cluster (points
    coloured by the sample's cluster), marker log2-CPM and, where the patient has a qPCR time
    course, its relative expression; therapy periods shaded on every panel.

    traj: `longitudinal.trajectories` (kinds signature, marker); qpcr: `qpcr.relative_series`
    of the same patients (may be empty); stability: `longitudinal.stability`.
    """
    patients = sorted(set(traj["patient_id"]))
    if not patients:
        return _empty("no patient has several samples with a time")
    kinds = [k for k in PANELS if (k == "qpcr" and len(qpcr)) or (traj["kind"] == k).any()]
    fig = _grid(4.2 * len(kinds), 2.1 * len(patients) + 1.1)
    axes = np.atleast_2d(fig.subplots(len(patients), len(kinds), squeeze=False))
    levels = sorted(set(traj.loc[traj["cluster"] != "", "cluster"]))
    clusters = {c: CLUSTER_COLORS[i % len(CLUSTER_COLORS)] for i, c in enumerate(levels)}
    features = sorted(set(traj.loc[traj["kind"] != "signature", "feature"])
                      | set(qpcr.get("gene", [])))
    feature_colors = category_colors(pd.Series(features, dtype=object))
    stable = stability.set_index("patient_id")["stable"] if len(stability) else pd.Series()
    for i, patient in enumerate(patients):
        rows = traj[traj["patient_id"] == patient]
        q = qpcr[qpcr["patient_id"] == patient] if len(qpcr) else qpcr
        times = np.concatenate([rows["time"].to_numpy(float), q["time"].to_numpy(float)
                                if len(q) else []])
        lo, hi = float(times.min()), float(times.max())
        pad = max(10.0, 0.05 * (hi - lo))
        periods = treatments[treatments["patient_id"] == patient]
        for j, kind in enumerate(kinds):
            ax = axes[i, j]
            _shade(ax, periods, lo - pad, hi + pad)
            if kind == "qpcr":
                if q.empty:
                    ax.text(0.5, 0.5, "no qPCR", ha="center", va="center", fontsize=7,
                            color=GREY, transform=ax.transAxes)
                for gene, part in q.groupby("gene", sort=True):
                    ax.plot(part["time"], part["log2_relative"], "o-", ms=3,
                            color=feature_colors[gene], label=gene, gid=f"qpcr:{gene}")
            else:
                part = rows[rows["kind"] == kind]
                for feature, f in part.groupby("feature", sort=True):
                    color = GREY if kind == "signature" else feature_colors[feature]
                    ax.plot(f["time"], f["value"], "-", color=color, linewidth=1,
                            label=None if kind == "signature" else feature)
                    if kind == "signature":
                        ax.scatter(f["time"], f["value"], s=18, zorder=3, gid=feature,
                                   color=[clusters.get(c, GREY) for c in f["cluster"]])
                        ax.annotate(feature.split(" ")[0], (f["time"].iloc[-1],
                                                            f["value"].iloc[-1]),
                                    fontsize=6, xytext=(3, 0), textcoords="offset points")
            ax.set_xlim(lo - pad, hi + pad)
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(PANELS[kind], fontsize=9)
            if i == len(patients) - 1:
                ax.set_xlabel(time_label, fontsize=8)
        state = stable.get(patient)
        note = "" if state is None else (" (stable)" if bool(state) else " (changed)")
        axes[i, 0].set_ylabel(f"{patient}{note}", fontsize=8)
    handles = [Patch(color=c, label=f"cluster {k}") for k, c in clusters.items()]
    handles += [Patch(color=feature_colors[f], label=f) for f in features]
    if len(treatments):
        handles.append(Patch(color=SHADE, alpha=0.35, label="therapy"))
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 8),
               fontsize=7, frameon=False)
    return fig


def qpcr_timecourse(ct: pd.DataFrame, calls: pd.DataFrame, treatments: pd.DataFrame,
                    genes: list[str], max_ct: float, time_label: str = "days from onset"
                    ) -> Figure:
    """One small panel per qPCR patient: Ct of the subgroup genes over time (y inverted, so
    up is more expression), the Ct threshold dashed, therapy periods shaded; the title gives
    the qPCR subgroup and the share of time points below the threshold."""
    patients = list(calls["patient_id"])
    if not patients:
        return _empty("no qPCR time course")
    ncol = min(6, len(patients))
    nrow = int(np.ceil(len(patients) / ncol))
    fig = _grid(2.3 * ncol, 1.9 * nrow + 1.2, top=0.8)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False, sharey=True).ravel())
    colors = category_colors(pd.Series(genes, dtype=object))
    call = calls.set_index("patient_id")
    for ax, patient in zip(axes, patients, strict=False):
        part = ct[(ct["patient_id"] == patient) & ct["gene"].isin(genes)]
        lo, hi = float(part["time"].min()), float(part["time"].max())
        pad = max(10.0, 0.05 * (hi - lo))
        _shade(ax, treatments[treatments["patient_id"] == patient], lo - pad, hi + pad)
        for gene in genes:
            g = part[part["gene"] == gene]
            ax.plot(g["time"], g["Ct"], "o-", ms=3, color=colors[gene], gid=f"ct:{gene}")
        ax.axhline(max_ct, color="black", linestyle="--", linewidth=0.8)
        ax.set_xlim(lo - pad, hi + pad)
        row = call.loc[patient]
        ax.set_title(f"{patient}: {row['qpcr_subgroup'].replace('_', '-')} "
                     f"({int(row['n_high'])}/{int(row['n_timepoints'])})", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[0].invert_yaxis()  # shared: up is more expression on every panel
    for ax in axes[len(patients):]:
        ax.set_axis_off()
    fig.supxlabel(time_label, fontsize=8)
    fig.supylabel("Ct", fontsize=8)
    handles = [Patch(color=colors[g], label=g) for g in genes]
    handles.append(Patch(color=SHADE, alpha=0.35, label="therapy"))
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=7,
               frameon=False, title=f"time points with every gene below Ct {max_ct:g} are "
               "high; most high = inflammatory", title_fontsize=7)
    return fig
