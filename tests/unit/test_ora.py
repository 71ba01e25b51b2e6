"""Over-representation analysis: the hypergeometric tail, enricher's conventions, planted sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bloodsig.core.errors import InputError
from bloodsig.enrich.ora import (
    OraSettings,
    compare_terms,
    hypergeometric_sf,
    ora,
    ora_up_down,
    universe_genes,
)
from bloodsig.stats.multitest import p_adjust_bh


def test_hypergeometric_tail_equals_one_sided_fisher():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n_universe = int(rng.integers(50, 5000))
        m, n = (int(x) for x in rng.integers(1, n_universe // 2, 2))
        k = int(rng.integers(0, min(m, n) + 1))
        table = [[k, m - k], [n - k, n_universe - m - n + k]]
        if min(table[1]) < 0:
            continue
        fisher = stats.fisher_exact(table, alternative="greater").pvalue
        assert hypergeometric_sf(k, m, n, n_universe) == pytest.approx(fisher, rel=1e-9)


@pytest.fixture(scope="module")
def planted():
    """1,000 genes, 40 DEGs; set P holds 15 DEGs + 15 others, the 30 decoys hold random genes."""
    rng = np.random.default_rng(1)
    genes = np.array([f"G{i}" for i in range(1000)])
    degs = rng.choice(genes, 40, replace=False)
    others = np.setdiff1d(genes, degs)
    sets = {"P": tuple(np.concatenate([degs[:15], rng.choice(others, 15, replace=False)]))}
    for i in range(30):
        sets[f"D{i:02d}"] = tuple(rng.choice(others, int(rng.integers(12, 60)), replace=False)
                                  ) + tuple(rng.choice(degs, 1))
    sets["TINY"] = tuple(degs[:5])  # below min_size
    return genes, degs, sets


def test_ora_matches_a_per_set_computation(planted):
    genes, degs, sets = planted
    universe = pd.Index(genes)
    table = ora(degs, sets, universe, min_size=10, max_size=500)
    assert "TINY" not in set(table["term"])
    assert table["term"].iloc[0] == "P"
    assert table["FDR"].iloc[0] < 1e-10
    assert (table["FDR"].iloc[1:] > 0.05).all()
    for row in table.itertuples(index=False):
        members = set(sets[row.term]) & set(genes)
        k = len(members & set(degs))
        assert (row.Count, row.set_size, row.n_query, row.n_universe) == (k, len(members), 40,
                                                                          1000)
        assert row.GeneRatio == f"{k}/40" and row.BgRatio == f"{len(members)}/1000"
        assert row.pvalue == pytest.approx(stats.hypergeom.sf(k - 1, 1000, len(members), 40),
                                           rel=1e-12)
        # geneID keeps the query's order
        assert row.geneID.split("/") == [g for g in degs if g in members]
    np.testing.assert_allclose(table["FDR"], p_adjust_bh(table["pvalue"]))


def test_universe_restricts_sets_and_query(planted):
    genes, degs, sets = planted
    universe = pd.Index(genes[:500])
    table = ora(list(degs) + ["NOT_A_GENE"], sets, universe, min_size=1)
    assert (table["n_query"] == np.isin(degs, genes[:500]).sum()).all()
    assert (table["n_universe"] == 500).all()
    collection = universe_genes(pd.Series(genes), sets, "collection")
    assert set(collection) == {g for s in sets.values() for g in s}
    with pytest.raises(ValueError, match="universe"):
        universe_genes(pd.Series(genes), sets, "genome")


def test_no_query_gene_gives_empty_table(planted):
    genes, _, sets = planted
    table = ora([], sets, pd.Index(genes))
    assert table.empty and "pvalue" in table.columns


def test_ora_up_down_and_unmatched_collection(planted):
    genes, degs, sets = planted
    tt = pd.DataFrame({"gene_name": genes})
    up = pd.DataFrame({"gene_name": degs[:20]})
    down = pd.DataFrame({"gene_name": degs[20:]})
    table = ora_up_down(tt, up, down, sets, OraSettings("tested", 10, 500))
    assert set(table["direction"]) == {"up", "down"}
    assert table.loc[table["direction"] == "up", "term"].iloc[0] == "P"
    no_down = ora_up_down(tt, up, down.iloc[0:0], sets, OraSettings("tested", 10, 500))
    assert set(no_down["direction"]) == {"up"} and no_down["Count"].dtype == np.int64
    with pytest.raises(InputError, match="no gene of this collection"):
        ora_up_down(tt, up, down, {"S": ("X1", "X2")}, OraSettings("tested", 10, 500),
                    path="x.gmt")


def test_compare_terms_gained_lost_kept():
    before = pd.DataFrame({"direction": ["up", "up", "down"], "term": ["A", "B", "C"],
                           "FDR": [0.001, 0.01, 0.5]})
    after = pd.DataFrame({"direction": ["up", "down", "down"], "term": ["A", "C", "D"],
                          "FDR": [0.002, 0.01, 0.2]})
    out = compare_terms(before, after, 0.05).set_index("term")
    assert out["status"].to_dict() == {"A": "kept", "B": "lost", "C": "gained"}
    assert out.loc["B", "FDR_after"] == 1.0
