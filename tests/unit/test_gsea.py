"""Preranked GSEA wrapper: the rank statistic and a planted shifted set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from bloodsig.core.errors import InputError
from bloodsig.enrich.gsea import GSEA_COLUMNS, GseaSettings, prerank, rank_statistic

GSEA = GseaSettings(permutations=500, min_size=15, max_size=500, plots=5)


def test_rank_statistic_signs_duplicates_and_zero_p():
    tt = pd.DataFrame({"gene_name": ["A", "B", "C", "C", None, "D"],
                       "logFC": [1.0, -2.0, 0.5, -0.1, 3.0, 0.2],
                       "P.Value": [1e-3, 1e-2, 0.0, 0.5, 1e-9, 1.0]})
    r = rank_statistic(tt)
    assert list(r.index) == ["C", "A", "D", "B"]  # decreasing; D has statistic 0
    assert r["A"] == pytest.approx(3.0) and r["B"] == pytest.approx(-2.0)
    assert np.isfinite(r["C"]) and r["C"] > 300  # p = 0 floored, the larger |stat| kept
    with pytest.raises(InputError, match="no gene"):
        rank_statistic(tt.assign(gene_name=None))


@pytest.fixture(scope="module")
def planted_ranking():
    """2,000 null genes; set UP's 40 genes and set DOWN's 30 are shifted, 20 null sets."""
    rng = np.random.default_rng(7)
    genes = np.array([f"G{i}" for i in range(2000)])
    t = rng.normal(size=2000)
    perm = rng.permutation(2000)
    up, down = genes[perm[:40]], genes[perm[40:70]]
    t[perm[:40]] += 1.5
    t[perm[40:70]] -= 1.5
    sets = {"UP": tuple(up), "DOWN": tuple(down)}
    for i in range(20):
        sets[f"NULL{i:02d}"] = tuple(rng.choice(genes[perm[70:]], int(rng.integers(20, 80)),
                                                replace=False))
    tt = pd.DataFrame({"gene_name": genes, "logFC": t, "P.Value": 2 * norm.sf(np.abs(t))})
    return rank_statistic(tt), sets


def test_planted_sets_lead_and_nulls_do_not(planted_ranking):
    ranking, sets = planted_ranking
    res = prerank(ranking, sets, GSEA, seed=1)
    table = res.table.set_index("term")
    assert list(res.table.columns) == GSEA_COLUMNS
    assert set(res.table["term"].iloc[:2]) == {"UP", "DOWN"}
    assert table.loc["UP", "NES"] > 1.8 and table.loc["DOWN", "NES"] < -1.8
    assert table.loc["UP", "FDR"] < 0.01 and table.loc["DOWN", "FDR"] < 0.01
    assert (table.drop(index=["UP", "DOWN"])["FDR"] > 0.05).mean() > 0.9
    up_lead = table.loc["UP", "leading_edge"].split("/")
    assert table.loc["UP", "leading_edge_size"] == len(up_lead)
    assert set(up_lead) <= set(sets["UP"])
    assert len(res.running_es["UP"]) == len(ranking)
    assert len(res.hits["UP"]) == table.loc["UP", "size"] == 40
    # a fixed seed gives the same table
    again = prerank(ranking, sets, GSEA, seed=1)
    pd.testing.assert_frame_equal(res.table, again.table)


def test_no_set_in_size_range(planted_ranking):
    ranking, sets = planted_ranking
    with pytest.raises(InputError, match="no gene set has between"):
        prerank(ranking, {"S": ("X", "Y")}, GSEA, seed=0)
