"""Enrichment map: pairwise similarities, themes as connected components, GraphML export."""

from __future__ import annotations

import io

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from bloodsig.enrich.enrichmap import MapSettings, enrichment_map, set_similarity, to_graphml

MAP = MapSettings(fdr=0.01, similarity="jaccard", cutoff=0.25)


def test_similarities_by_hand():
    sets = {"A": ("1", "2", "3", "4"), "B": ("3", "4", "5"), "C": ("9",)}
    jac, shared = set_similarity(sets, "jaccard")
    ovl, _ = set_similarity(sets, "overlap")
    assert shared[0, 1] == 2 and shared[0, 2] == 0
    assert jac[0, 1] == pytest.approx(2 / 5) and ovl[0, 1] == pytest.approx(2 / 3)
    assert jac[0, 0] == 1.0 and jac[0, 2] == 0.0
    with pytest.raises(ValueError):
        set_similarity(sets, "cosine")


@pytest.fixture(scope="module")
def themed():
    """Two themes of 3 overlapping terms (pools of 40 genes) and a lone term; one term of each
    theme is also significant for the other direction."""
    rng = np.random.default_rng(3)
    sets, rows = {}, []
    for theme, base in (("T1", 0), ("T2", 100)):
        pool = [f"G{base + i}" for i in range(40)]
        for j in range(3):
            name = f"{theme}_{j}"
            sets[name] = tuple(rng.choice(pool, 30, replace=False))
            rows.append(("up", name, 10.0 ** -(10 + j + (5 if theme == "T1" else 0))))
    sets["LONE"] = tuple(f"G{300 + i}" for i in range(20))
    rows += [("up", "LONE", 1e-4), ("down", "T1_0", 1e-5), ("up", "NS", 0.5)]
    sets["NS"] = ("G0",)
    table = pd.DataFrame(rows, columns=["direction", "term", "pvalue"])
    table["FDR"] = table["pvalue"] * 5
    table["Count"], table["set_size"] = 5, 30
    return table, sets


def test_themes_are_overlap_clusters_within_a_direction(themed):
    table, sets = themed
    emap = enrichment_map(table, sets, MAP)
    nodes = emap.nodes.set_index("node")
    assert "NS (up)" not in nodes.index  # FDR 2.5 is not a node
    theme = nodes["theme"]
    assert theme["T1_0 (up)"] == theme["T1_1 (up)"] == theme["T1_2 (up)"] == 1  # best p first
    assert theme["T2_0 (up)"] == theme["T2_2 (up)"] == 2
    assert len({theme["LONE (up)"], theme["T1_0 (down)"], 1, 2}) == 4
    assert nodes.loc["T2_0 (up)", "theme_leader"] == "T2_2"  # its smallest p
    assert nodes.loc["T1_1 (up)", "theme_size"] == 3
    # no edge across themes or directions
    for row in emap.edges.itertuples(index=False):
        assert nodes.loc[row.source, "theme"] == nodes.loc[row.target, "theme"]
        assert row.similarity >= 0.25
    assert len(emap.edges) == 6


def test_graphml_round_trip(themed):
    table, sets = themed
    emap = enrichment_map(table, sets, MAP)
    text = to_graphml(emap)
    assert text == to_graphml(emap)  # byte-stable
    g = nx.read_graphml(io.BytesIO(text.encode()))
    assert g.number_of_nodes() == len(emap.nodes) and g.number_of_edges() == len(emap.edges)
    assert g.nodes["T1_0 (up)"]["direction"] == "up"
    assert g.nodes["T1_0 (up)"]["theme"] == 1


def test_empty_map():
    table = pd.DataFrame({"direction": ["up"], "term": ["A"], "pvalue": [0.5], "FDR": [0.5],
                          "Count": [1], "set_size": [10]})
    emap = enrichment_map(table, {"A": ("x",)}, MAP)
    assert emap.nodes.empty and emap.edges.empty
    assert "<graph" in to_graphml(emap)
