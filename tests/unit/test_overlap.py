"""Overlap with published DEG lists: Fisher test with OR and CI, logFC agreement, reading."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bloodsig.core.errors import InputError
from bloodsig.enrich.overlap import (
    PublishedList,
    fisher_overlap,
    logfc_correlation,
    overlap_tests,
    read_published,
    shared_degs,
)


def test_fisher_overlap_matches_r_fisher_test():
    # R: fisher.test(matrix(c(20, 100, 80, 9800), 2)): OR 24.44171, CI 13.64901-42.21842;
    # alternative = "greater": p = 1.814185e-19.
    universe = [f"G{i}" for i in range(10_000)]
    ours = universe[:100]
    published = universe[:20] + universe[100:200]
    res = fisher_overlap(ours, published, universe)
    assert (res["n_ours"], res["n_published"], res["n_shared"]) == (100, 120, 20)
    assert res["odds_ratio"] == pytest.approx(24.44171, rel=1e-3)
    assert res["ci_low"] == pytest.approx(13.64901, rel=1e-3)
    assert res["ci_high"] == pytest.approx(42.21842, rel=1e-3)
    assert res["pvalue"] == pytest.approx(1.814185e-19, rel=1e-5)
    assert res["expected_shared"] == pytest.approx(1.2)
    assert res["shared_genes"].split("/") == universe[:20]


@pytest.fixture()
def lists():
    rng = np.random.default_rng(2)
    genes = np.array([f"G{i}" for i in range(3000)])
    tt = pd.DataFrame({"gene_name": genes, "logFC": rng.normal(0, 0.1, 3000)})
    up = pd.DataFrame({"gene_name": genes[:100], "logFC": rng.uniform(0.2, 1, 100)})
    down = pd.DataFrame({"gene_name": genes[100:200], "logFC": -rng.uniform(0.2, 1, 100)})
    # published: half of our up genes up, a quarter of our down genes down, 2 discordant,
    # 300 of its own and 50 genes we never tested
    pub = pd.concat([
        pd.DataFrame({"gene_name": genes[:50], "logFC": up["logFC"][:50] * 2}),
        pd.DataFrame({"gene_name": genes[100:125], "logFC": down["logFC"][:25] * 3}),
        pd.DataFrame({"gene_name": genes[125:127], "logFC": [1.0, 2.0]}),
        pd.DataFrame({"gene_name": genes[1000:1300], "logFC": rng.choice([-1, 1], 300)}),
        pd.DataFrame({"gene_name": [f"X{i}" for i in range(50)], "logFC": 1.0}),
    ], ignore_index=True)
    return tt, up, down, pub


def test_planted_overlap_detected_by_direction(lists):
    tt, up, down, pub = lists
    tests = overlap_tests(tt, up, down, pub).set_index("direction")
    assert tests.loc["up", "n_shared"] == 50 and tests.loc["down", "n_shared"] == 25
    assert tests.loc["up", "n_universe"] == 3000  # published genes outside are left out
    assert (tests["pvalue"] < 1e-8).all() and (tests["ci_low"] > 3).all()
    shared = shared_degs(up, down, pub)
    assert len(shared) == 77 and (~shared["concordant"]).sum() == 2
    corr = logfc_correlation(shared)
    assert corr["n_shared_degs"] == 77
    assert corr["concordant_fraction"] == pytest.approx(75 / 77)
    assert corr["spearman_rho"] > 0.7


def test_no_overlap_is_not_significant(lists):
    tt, up, down, _ = lists
    pub = pd.DataFrame({"gene_name": tt["gene_name"][2000:2100], "logFC": 1.0})
    tests = overlap_tests(tt, up, down, pub).set_index("direction")
    assert tests.loc["up", "n_shared"] == 0 and tests.loc["up", "pvalue"] == 1.0
    assert np.isnan(logfc_correlation(shared_degs(up, down, pub))["pearson_r"])


def test_read_published_filters_and_errors(tmp_path):
    path = tmp_path / "pub.tsv"
    path.write_text("gene_name\tlog2FoldChange\tpadj\nA\t1.0\t0.01\nB\t-2.0\t0.2\n"
                    "C\t0.1\t0.001\nA\t3.0\t0.001\n\t1.0\t0.001\n")
    spec = PublishedList(path, "gene_name", "log2FoldChange", "padj", 0.05, 0.5)
    df = read_published(spec)
    assert df.to_dict("list") == {"gene_name": ["A"], "logFC": [1.0]}
    with pytest.raises(InputError, match="lacks required column"):
        read_published(replace(spec, gene_column="symbol"))
    with pytest.raises(InputError, match="no gene passes"):
        read_published(replace(spec, fdr=1e-9))
    bad = tmp_path / "bad.tsv"
    bad.write_text("gene_name\tlogFC\nA\t1.0\nB\tabc\n")
    with pytest.raises(InputError, match=r"row 3, column 'logFC': non-numeric value 'abc'"):
        read_published(PublishedList(bad, "gene_name", "logFC", None, None, 0.0))
