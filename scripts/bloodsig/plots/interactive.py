"""Interactive figures of the HTML report (plotly): each function takes data and returns a
plotly Figure; the report embeds plotly.js once and each figure as a div.

Unlike the matplotlib figures of this package these are drawn in the reader's browser, so
they carry only what a reader explores: the volcano keeps every DEG and thins the other genes
to one per grid cell, so a paper-scale table stays small; points are SVG (not WebGL), which
every browser draws, headless ones included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import DOWN, GREY, UP

_FONT = {"family": "DejaVu Sans, Arial, sans-serif", "size": 13}


def neg_log10_p(p: pd.Series) -> pd.Series:
    """-log10 P, with P-values of 0 at the smallest positive one."""
    p = p.astype(float)
    floor = p[p > 0].min() if (p > 0).any() else 1e-300
    return -np.log10(p.clip(lower=floor))


def volcano_points(table: pd.DataFrame, fdr: float, min_abs_logfc: float,
                   grid: tuple[int, int] = (150, 100)) -> pd.DataFrame:
    """The genes a volcano draws, with their class (up / down / not significant).

    Every DEG is kept; of the other genes, the one of smallest P in each cell of a `grid`
    (columns, rows) over the plot's axes. Points within a cell (about 3 px) would cover each
    other anyway, so the plot looks the same, each point drawn is still a gene that hover
    names, and a paper-scale table draws a few thousand points instead of 20,000.
    """
    sig = (table["adj.P.Val"] < fdr) & (table["logFC"].abs() > min_abs_logfc)
    cls = np.where(sig & (table["logFC"] > 0), "up", np.where(sig, "down", "not significant"))
    out = table.assign(cls=cls)
    cells = []
    for values, n in zip((out["logFC"].astype(float), neg_log10_p(out["P.Value"])), grid,
                         strict=True):
        lo, span = values.min(), values.max() - values.min()
        cells.append(((values - lo) / (span or 1.0) * (n - 1)).round().astype(int))
    cell = cells[0] * grid[1] + cells[1]
    by_p = out.loc[~sig, "P.Value"].sort_values(kind="stable").index
    return out.loc[out.index[sig].union(cell.loc[by_p].drop_duplicates().index)]


def volcano(table: pd.DataFrame, fdr: float, min_abs_logfc: float,
            title: str = "") -> go.Figure:
    """logFC against -log10(P) of a limma top table; hovering names the gene (gene_name, its
    logFC, P and FDR); each point's customdata is its gene_name (the report opens its
    per-group expression on click). P-values of 0 are drawn at the smallest positive one."""
    pts = volcano_points(table, fdr, min_abs_logfc)
    y = neg_log10_p(table["P.Value"]).loc[pts.index]
    sig = (table["adj.P.Val"] < fdr) & (table["logFC"].abs() > min_abs_logfc)
    n_all = {"up": int((sig & (table["logFC"] > 0)).sum()),
             "down": int((sig & (table["logFC"] < 0)).sum()), "not significant": int((~sig).sum())}
    fig = go.Figure()
    for cls, color in (("not significant", GREY), ("down", DOWN), ("up", UP)):
        sel = pts["cls"] == cls
        sub = pts[sel]
        fig.add_trace(go.Scatter(
            x=sub["logFC"], y=y[sel], mode="markers", name=f"{cls} (n={n_all[cls]})",
            marker={"color": color, "size": 5 if cls == "not significant" else 7,
                    "opacity": 0.6 if cls == "not significant" else 0.85},
            customdata=np.column_stack([sub["gene_name"].astype(str),
                                        sub["adj.P.Val"].map(lambda v: f"{v:.2g}"),
                                        sub["P.Value"].map(lambda v: f"{v:.2g}")]),
            hovertemplate="<b>%{customdata[0]}</b><br>logFC %{x:.3f}<br>P %{customdata[2]}"
                          "<br>FDR %{customdata[1]}<extra></extra>"))
    for x in (-min_abs_logfc, min_abs_logfc):
        if min_abs_logfc > 0:
            fig.add_vline(x=x, line={"dash": "dot", "color": "#888", "width": 1})
    fig.update_layout(
        title={"text": title, "x": 0}, font=_FONT, template="plotly_white", height=500,
        width=560,
        xaxis_title="log2 fold change", yaxis_title="-log10 P",
        legend={"title": {"text": f"DEG: FDR < {fdr:g} and |logFC| > {min_abs_logfc:g}",
                          "side": "top"},
                "orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 50, "b": 90})
    return fig


def expression_by_group(values: pd.Series, groups: pd.Series, gene: str,
                        order: list[str] | None = None) -> go.Figure:
    """One gene's log2-CPM per sample by group: a box per group with every sample drawn."""
    fig = go.Figure()
    levels = order or sorted(groups.dropna().astype(str).unique())
    for level in levels:
        sel = groups.astype(str) == level
        fig.add_trace(go.Box(y=values[sel], name=f"{level} (n={int(sel.sum())})",
                             boxpoints="all", jitter=0.4, pointpos=0, marker={"size": 4},
                             hovertemplate="%{y:.2f}<extra></extra>"))
    fig.update_layout(title={"text": gene, "x": 0}, font=_FONT, template="plotly_white",
                      height=500, width=440, yaxis_title="log2 CPM", showlegend=False,
                      margin={"l": 60, "r": 20, "t": 50, "b": 60})
    return fig
