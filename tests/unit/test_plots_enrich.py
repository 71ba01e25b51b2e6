"""Enrichment figures: their artists show the data they are given."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from bloodsig.core.io import save_figure
from bloodsig.enrich.enrichmap import MapSettings, enrichment_map
from bloodsig.enrich.ora import OraSettings, ora_up_down
from bloodsig.plots.enrich import (
    enrichment_map_figure,
    gsea_plots,
    ora_dotplot,
    shared_logfc_scatter,
)


def _points(fig: Figure, gid: str) -> int:
    return sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections
               if isinstance(c, PathCollection) and c.get_gid() == gid)


def _ora():
    rng = np.random.default_rng(4)
    genes = np.array([f"G{i}" for i in range(500)])
    sets = {f"S{i:02d}": tuple(rng.choice(genes, 30, replace=False)) for i in range(15)}
    sets["PLANTED"] = tuple(genes[:30])
    sets["PLANTED_2"] = tuple(genes[5:35])
    tt = pd.DataFrame({"gene_name": genes})
    up = pd.DataFrame({"gene_name": genes[:25]})
    down = pd.DataFrame({"gene_name": genes[200:230]})
    return ora_up_down(tt, up, down, sets, OraSettings("tested", 10, 500)), sets


def test_dotplot_draws_top_terms_per_direction(tmp_path):
    table, _ = _ora()
    fig = ora_dotplot(table, n=5)
    assert _points(fig, "up") == min(5, (table["direction"] == "up").sum())
    assert _points(fig, "down") == min(5, (table["direction"] == "down").sum())
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[-1] in {"PLANTED", "PLANTED_2"}  # the smallest p at the top
    save_figure(fig, tmp_path / "dot.png")
    assert ora_dotplot(table.iloc[0:0]).axes[0].texts


def test_enrichment_map_figure_nodes_and_labels():
    table, sets = _ora()
    emap = enrichment_map(table, sets, MapSettings(fdr=0.01, similarity="jaccard", cutoff=0.25))
    fig = enrichment_map_figure(emap.nodes, emap.edges, seed=1)
    assert _points(fig, "up") == (emap.nodes["direction"] == "up").sum() >= 2
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == emap.nodes["theme"].nunique()
    assert enrichment_map_figure(emap.nodes.iloc[0:0], emap.edges.iloc[0:0]).axes[0].texts


def test_gsea_and_scatter_figures():
    ranking = pd.Series(np.linspace(3, -3, 100), index=[f"G{i}" for i in range(100)])
    table = pd.DataFrame({"term": ["A", "B"], "NES": [2.0, -1.5], "FDR": [0.01, 0.2]})
    running = {"A": np.sin(np.linspace(0, 3, 100)), "B": -np.sin(np.linspace(0, 3, 100))}
    hits = {"A": np.arange(0, 20), "B": np.arange(80, 100)}
    fig = gsea_plots(table, ranking, running, hits, n=2)
    curves = [ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == "running_es"]
    assert len(curves) == 2
    np.testing.assert_allclose(curves[0].get_ydata(), running["A"])
    shared = pd.DataFrame({"gene_name": ["a", "b", "c"], "logFC": [1.0, -1.0, 0.5],
                           "logFC_published": [2.0, -0.5, -1.0],
                           "concordant": [True, True, False]})
    fig = shared_logfc_scatter(shared, "neurons", {"n_shared_degs": 3, "pearson_r": 0.5})
    assert _points(fig, "concordant") == 2 and _points(fig, "discordant") == 1
