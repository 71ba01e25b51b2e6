"""bloodsig.connectivity.coregenes: DEG-list overlaps, core genes and CMap query lists."""

import numpy as np
import pandas as pd
import pytest

from bloodsig.connectivity import coregenes as cg
from bloodsig.core.errors import InputError


def table(rows):
    return pd.DataFrame(rows, columns=["gene_name", "logFC", "fdr"])


BLOOD = table([("A", 0.5, 0.001), ("B", -0.3, 0.001), ("C", 0.2, 0.001), ("D", 0.05, 0.001),
               ("E", 0.4, 0.02), ("F", -0.6, 0.0001), ("F", 0.9, 0.005)])
NEURON = table([("A", 1.0, 0.001), ("B", -2.0, 0.001), ("C", -1.0, 0.001), ("D", 1.0, 0.001),
                ("F", -1.0, 0.001)])
CORD = table([("A", 0.6, 0.001), ("B", 1.0, 0.001), ("C", 0.5, 0.5), ("F", -0.2, 0.001)])


def test_core_genes_are_the_three_way_overlap_with_mean_log2fc():
    core, counts, sets = cg.core_genes(BLOOD, {"neurons": NEURON, "cord": CORD}, 0.01, 0.1)
    # D fails |logFC|, E fails FDR in blood; C fails FDR in cord; F keeps its most
    # significant blood row (-0.6).
    assert sets["blood"] == {"A", "B", "C", "F"}
    assert dict(zip(counts["list"], counts["n_genes"], strict=True)) == {
        "blood": 4, "neurons": 5, "cord": 3, "blood & neurons": 4, "blood & cord": 3, "core": 3}
    core = core.set_index("gene_name")
    assert list(core.index) == ["A", "B", "F"]  # by mean log2FC, descending
    assert core.loc["F", "logFC_blood"] == -0.6
    assert core.loc["B", "mean_logFC"] == pytest.approx((-0.3 - 2.0 + 1.0) / 3)
    assert core["concordant"].tolist() == [True, False, True]


def test_deg_table_maps_columns_and_names_bad_values():
    df = pd.DataFrame({"sym": ["A", "B"], "l2fc": [1.0, "x"], "q": [0.1, 0.2]})
    with pytest.raises(InputError, match="t.tsv, row 3, column 'l2fc': non-numeric value 'x'"):
        cg.deg_table(df, "sym", "l2fc", "q", path="t.tsv")
    with pytest.raises(InputError, match="lacks column 'padj'"):
        cg.deg_table(df, "sym", "l2fc", "padj")


def test_queries_map_truncate_and_refuse_short_lists():
    genes = pd.DataFrame({"gene_name": [f"U{i}" for i in range(20)] + [f"D{i}" for i in range(12)]
                          + ["NOPE"],
                          "logFC": list(np.linspace(0.1, 2, 20)) + list(-np.linspace(0.1, 1, 12))
                          + [5.0]})
    mapping = pd.Series([str(i) for i in range(32)], index=genes["gene_name"][:32].to_numpy())
    q = cg.make_query("q", genes, mapping, min_genes=10, max_genes=15)
    up, down = q[q["direction"] == "up"], q[q["direction"] == "down"]
    assert len(up) == 15 and len(down) == 12 and "NOPE" not in set(q["gene_name"])
    assert up["gene_name"].iloc[0] == "U19" and set(up["gene_name"]) == {
        f"U{i}" for i in range(5, 20)}  # the 15 of largest |logFC|
    with pytest.raises(InputError, match="query 'q': 12 of 12 down genes map .* fewer than 13"):
        cg.make_query("q", genes, mapping, min_genes=13, max_genes=150)


def _store_genes(n=200):
    ids = [str(1000 + i) for i in range(n)]
    return pd.DataFrame({"gene_id": ids, "gene_symbol": [f"G{i}" for i in range(n)]})


def test_gmt_batch_pairs_queries_maps_ids_or_symbols_and_checks_sizes():
    genes = _store_genes()
    up = {"drugA_UP": tuple(f"G{i}" for i in range(12)) + ("NOT_A_GENE",),
          "drugB": tuple(str(1000 + i) for i in range(50, 65))}
    down = {"drugA_DN": tuple(f"G{i}" for i in range(100, 111)),
            "drugB": tuple(str(1000 + i) for i in range(150, 160))}
    q = cg.queries_from_gmt(up, down, genes, 10, 150)
    sizes = q.groupby(["query", "direction"]).size().to_dict()
    assert sizes == {("drugA", "up"): 12, ("drugA", "down"): 11, ("drugB", "up"): 15,
                     ("drugB", "down"): 10}
    assert q.loc[q["query"] == "drugB", "gene_name"].iloc[0] == "G50"  # ids keep their symbol
    small = dict(down, drugA_DN=tuple(f"G{i}" for i in range(100, 109)) + ("X1", "X2"))
    with pytest.raises(InputError, match=r"down.gmt: query 'drugA': the down list has 9 genes "
                       r"in the signature database \(11 listed, 2 outside"):
        cg.queries_from_gmt(up, small, genes, 10, 150, "up.gmt", "down.gmt")
    big = dict(up, drugB=tuple(f"G{i}" for i in range(30, 190)))
    with pytest.raises(InputError, match="up list has 160 genes.*10 to 150"):
        cg.queries_from_gmt(big, down, genes, 10, 150)
    with pytest.raises(InputError, match="'drugC' has no down list"):
        cg.queries_from_gmt(dict(up, drugC=up["drugB"]), down, genes)
    with pytest.raises(InputError, match="gene 'G100' is in both"):
        cg.queries_from_gmt(dict(up, drugA_UP=up["drugA_UP"] + ("G100",)), down, genes)
