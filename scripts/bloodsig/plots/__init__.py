"""bloodsig's figures: each function takes data (pandas/numpy) and returns a matplotlib Figure.

Figures are built on `matplotlib.figure.Figure` with an Agg canvas attached, never through
pyplot's global state: they render on any machine (no display needed), importing this package
does not change a notebook's backend, and two calls with the same data draw the same thing;
`bloodsig.core.io.save_figure` writes them byte-stably.
Scatter collections carry a `gid` naming what they show (e.g. "up", "down", "mismatch"), so
tests and users can find the points of a class.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

#: Category colours in sorted-category order: tab20's 10 dark shades, then its 10 light ones.
PALETTE = [matplotlib.colormaps["tab20"](i) for i in (0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                                     1, 3, 5, 7, 9, 11, 13, 15, 17, 19)]
UP, DOWN, GREY, HIGHLIGHT = "#c0392b", "#2c7bb6", "#bdbdbd", "#e31a1c"


def new_figure(width: float, height: float) -> Figure:
    """A figure with the house style (white background, constrained layout) on an Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained", facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def category_colors(values: pd.Series) -> dict:
    """A fixed colour per category (sorted as strings; missing values are 'NA', grey)."""
    levels = sorted(values.astype("string").fillna("NA").unique())
    colors = {level: PALETTE[i % len(PALETTE)] for i, level in enumerate(levels)}
    if "NA" in colors:
        colors["NA"] = GREY
    return colors


def as_labels(values: pd.Series) -> np.ndarray:
    """Category labels as strings, 'NA' for missing (matching `category_colors`)."""
    return values.astype("string").fillna("NA").to_numpy(dtype=object)
