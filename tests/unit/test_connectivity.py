"""bloodsig.connectivity (enrichment, scores, queries): the CMap scores against direct
definitions and worked values."""

import numpy as np
import pandas as pd
import pytest

from bloodsig.connectivity import enrichment
from bloodsig.connectivity import queries as cn
from bloodsig.connectivity import scores as cmap_scores


def running_sum(rank: np.ndarray, score: np.ndarray, genes: np.ndarray,
                weighted: bool) -> np.ndarray:
    """GSEA running sum walked gene by gene over the whole ranked list."""
    n, k = len(rank), len(genes)
    order = np.argsort(rank)
    in_set = np.isin(order, genes)
    w = np.abs(score[order].astype(float)) if weighted else np.ones(n)
    return np.cumsum(np.where(in_set, w / w[in_set].sum(), -1.0 / (n - k)))


def naive_es(rank: np.ndarray, score: np.ndarray, genes: np.ndarray, weighted: bool) -> float:
    """The ES: the running sum's value of largest magnitude."""
    walk = running_sum(rank, score, genes, weighted)
    return float(walk[np.argmax(np.abs(walk))])


def random_store(n_genes=300, n_sig=40, seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n_genes, n_sig)).astype(np.float32)
    ranks = np.argsort(np.argsort(-scores, axis=0), axis=0).astype(np.int16) + 1
    return ranks, scores, rng


@pytest.mark.parametrize("weighted", [True, False])
def test_es_matches_the_full_running_sum(weighted):
    ranks, scores, rng = random_store()
    sets = [rng.choice(300, size, replace=False) for size in (5, 17, 60)]
    es = enrichment.enrichment_scores(ranks, scores, sets, weighted=weighted)
    for s, genes in enumerate(sets):
        for j in range(ranks.shape[1]):
            expected = naive_es(ranks[:, j], scores[:, j], genes, weighted)
            # Unweighted walks can reach +m and -m exactly; CMap keeps the first of those
            # hits, so only the magnitude is compared there.
            assert abs(es[s, j]) == pytest.approx(abs(expected), abs=1e-12)
            if weighted:
                assert es[s, j] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("n_genes", [128, 257])  # the last rank at a 64-bit word's start, inside
@pytest.mark.parametrize("weighted", [True, False])
def test_es_with_members_ranked_first_and_last(monkeypatch, n_genes, weighted):
    """Sets of 1 to n - 1 genes that hold the genes ranked first and last (in two thirds of
    the signatures), against the whole running sum; small groups, so several kernel calls."""
    rng = np.random.default_rng(n_genes)
    n_sig = 30
    scores = rng.standard_normal((n_genes, n_sig)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.1] = 1.0  # equal weights too
    edge = rng.choice(n_genes, 2, replace=False)  # in every set
    rest = np.setdiff1d(np.arange(n_genes), edge)
    sets = [edge[:1]] + [np.concatenate([edge, rng.choice(rest, size - 2, replace=False)])
                         for size in (2, 3, 17, 64, n_genes // 2, n_genes - 1)]
    ranks = np.empty((n_genes, n_sig), np.int16)
    for j in range(n_sig):
        order = rng.permutation(rest)
        if j % 3 == 0:
            order = np.concatenate([edge[:1], order, edge[1:]])
        elif j % 3 == 1:
            order = np.concatenate([edge[1:], order, edge[:1]])
        else:
            order = np.insert(order, rng.integers(0, n_genes - 1, 2), edge)
        ranks[order, j] = np.arange(1, n_genes + 1)
    monkeypatch.setattr(enrichment, "GROUP_GENES", 40)
    es = enrichment.enrichment_scores(ranks, scores, sets, weighted=weighted)
    for s, genes in enumerate(sets):
        for j in range(n_sig):
            walk = running_sum(ranks[:, j], scores[:, j], genes, weighted)
            expected = walk[np.argmax(np.abs(walk))]
            if walk.max() == pytest.approx(-walk.min(), abs=1e-12):  # +m and -m: see above
                assert abs(es[s, j]) == pytest.approx(abs(expected), abs=1e-12)
            else:
                assert es[s, j] == pytest.approx(expected, abs=1e-12)


def test_planted_set_scores_high_and_batches_equal_single_runs():
    ranks, scores, rng = random_store()
    top = np.argsort(ranks[:, 0])[:20]  # the 20 most up-regulated genes of signature 0
    bottom = np.argsort(ranks[:, 0])[-20:]
    es = enrichment.enrichment_scores(ranks, scores, [top, bottom])
    assert es[0, 0] > 0.9 and es[1, 0] < -0.9
    single = [enrichment.enrichment_scores(ranks, scores, [g])[0] for g in (top, bottom)]
    np.testing.assert_array_equal(es, np.vstack(single))
    cols = np.array([3, 0, 7])
    np.testing.assert_array_equal(
        enrichment.enrichment_scores(ranks, scores, [top], columns=cols)[0], es[0, cols])
    with pytest.raises(ValueError, match="outside"):
        enrichment.enrichment_scores(ranks, scores, [np.array([300])])


def test_es_on_a_tie_is_the_extreme_reached_first():
    # 4 genes, a set of 2, unweighted: the walk reaches +0.5 and -0.5 (steps of +-0.5); the
    # first of them is the ES, as cmapM keeps it. Three signatures: the kernel walks them in
    # pairs, the odd last one alone.
    ranks = np.array([[1, 2, 3], [4, 3, 2], [2, 1, 1], [3, 4, 4]], np.int16)  # hits at ranks
    scores = np.ones((4, 3), np.float32)  # 1, 4 | 2, 3 | 2, 3
    es = enrichment.enrichment_scores(ranks, scores, [np.array([0, 1])], weighted=False)
    np.testing.assert_array_equal(es, [[0.5, -0.5, -0.5]])


def test_empty_gene_set_scores_zero():
    ranks, scores, rng = random_store()
    top = np.argsort(ranks[:, 0])[:20]
    empty = np.array([], dtype=np.int64)
    es = enrichment.enrichment_scores(ranks, scores, [top, empty, top])
    np.testing.assert_array_equal(es[1], np.zeros(ranks.shape[1]))
    np.testing.assert_array_equal(es[0], es[2])
    np.testing.assert_array_equal(
        enrichment.enrichment_scores(ranks, scores, [empty], weighted=False),
        np.zeros((1, ranks.shape[1])))


@pytest.mark.parametrize("direct", [True, False])
def test_store_reads_past_the_page_cache_give_the_same_scores(tmp_path, monkeypatch, direct):
    """The pread paths (O_DIRECT: aligned spans read in place; buffered) on a store's memory
    maps, over several blocks at unaligned offsets, equal the scores of in-memory arrays."""
    from bloodsig.connectivity.store import StoreWriter, open_store

    rng = np.random.default_rng(4)
    n_sig, n_genes = 3001, 257
    with StoreWriter(tmp_path / "s", n_genes, n_sig) as w:
        w.write(rng.standard_normal((n_sig, n_genes)).astype(np.float32))
        info = pd.DataFrame({k: ["x"] * n_sig for k in ("sig_id", "pert_id", "pert_name",
                                                          "pert_type", "cell_id")})
        info["sig_id"] = [f"s{i}" for i in range(n_sig)]
        info[["qc_pass", "is_ncs_sig", "is_null_sig"]] = [True, True, False]
        w.finish(pd.DataFrame({"gene_id": [str(i) for i in range(n_genes)],
                               "gene_symbol": "g", "feature_space": "all"}), info,
                 pd.DataFrame(columns=["pert_id", "pert_name", "moa", "target"]), "all", {})
    store = open_store(tmp_path / "s")
    monkeypatch.setattr(enrichment, "DIRECT_READS", direct)
    monkeypatch.setattr(enrichment, "BLOCK_BYTES", 40_000)  # many blocks, odd offsets
    sets = [rng.choice(n_genes, 15, replace=False) for _ in range(4)]
    got = enrichment.enrichment_scores(store.ranks, store.scores, sets)
    expected = enrichment.enrichment_scores(np.array(store.ranks), np.array(store.scores), sets)
    np.testing.assert_array_equal(got, expected)
    cols = np.array([3000, 5, 1700, 6, 2048])
    np.testing.assert_array_equal(
        enrichment.enrichment_scores(store.ranks, store.scores, sets, columns=cols),
        expected[:, cols])


def test_wtcs_zero_rule():
    up = np.array([0.3, 0.3, -0.4, 0.0, 0.5])
    down = np.array([0.2, -0.2, 0.1, 0.0, 0.0])
    np.testing.assert_allclose(cmap_scores.wtcs(up, down), [0.0, 0.25, -0.25, 0.0, 0.25])


def test_ncs_divides_by_group_means_of_reference_signatures_with_floor():
    cs = np.array([0.4, 0.2, -0.3, -0.1, 0.005, 0.5, -0.2, 0.9])
    groups = np.array(["a", "a", "a", "a", "b", "b", "b", "a"])
    is_ref = np.array([True, True, True, True, True, True, True, False])
    ncs, means = cmap_scores.ncs(cs, groups, is_ref)
    # group a: positive mean (0.4 + 0.2) / 2 = 0.3, negative mean 0.2; the 0.9 is not reference
    # group b: positive mean (0.005 + 0.5) / 2 = 0.2525, negative 0.2
    np.testing.assert_allclose(ncs, [4 / 3, 2 / 3, -1.5, -0.5, 0.005 / 0.2525, 0.5 / 0.2525,
                                     -1.0, 3.0])
    assert means.set_index("group").loc["a", "pos_mean"] == pytest.approx(0.3)
    tiny, _ = cmap_scores.ncs(np.array([0.001, 0.002]), np.array(["c", "c"]),
                              np.array([True, True]))
    np.testing.assert_allclose(tiny, [0.1, 0.2])  # mean 0.0015 floored at 0.01


def test_fdr_is_small_beyond_the_null_large_inside_and_monotone():
    rng = np.random.default_rng(1)
    null = rng.normal(0, 1, 2000)
    strong = np.r_[rng.normal(6, 0.5, 40), -rng.normal(6, 0.5, 40)]
    trt = np.concatenate([rng.normal(0, 1, 500), strong])
    q = cmap_scores.fdr_gsea(np.concatenate([trt, null]),
                             np.r_[np.zeros(580, bool), np.ones(2000, bool)])
    q_trt = q[:580]
    assert (q_trt[500:] < 0.01).all()
    assert np.median(q_trt[:500]) > 0.5
    assert ((q >= 0) & (q <= 1)).all()
    pos = trt > 0
    order = np.argsort(trt[pos])
    assert (np.diff(q_trt[pos][order]) <= 1e-12).all()
    few = cmap_scores.fdr_gsea(np.array([1.0, 2.0, -1.0, 3.0]),
                               np.array([False, False, True, True]))
    np.testing.assert_array_equal(few, 1.0)


def test_tau_counts_reference_queries_below():
    # 4 reference queries (rows) x 2 signatures; the background is signature-major, sorted
    ref = np.sort(np.abs(np.array([[0.5, -2.0], [1.5, 0.1], [-3.0, 0.2], [0.8, 0.3]])), axis=0)
    np.testing.assert_allclose(cmap_scores.tau(np.array([-1.0, 0.25]), ref.T.astype(np.float32)),
                               [-50.0, 50.0])
    with pytest.raises(ValueError, match="background has 3 signatures"):
        cmap_scores.tau(np.zeros(2), np.zeros((3, 4), np.float32))


def test_vectorised_summaries_equal_max_quantile_group_by_group():
    rng = np.random.default_rng(3)
    n = 3000
    table = pd.DataFrame({"pert_id": rng.integers(0, 400, n).astype(str), "pert_name": "x",
                          "cell_id": rng.choice(list("ABCDEFG"), n),
                          "ncs": np.round(rng.normal(0, 1, n), 1),
                          "tau": rng.uniform(-100, 100, n)})
    for by in (["pert_id", "pert_name", "cell_id"], ["pert_id"]):
        got = cmap_scores.summarise(table, ["ncs", "tau"], by).set_index(by)
        for key, group in table.groupby(by):
            for col in ("ncs", "tau"):
                assert got.loc[key, col] == cmap_scores.max_quantile(group[col])  # to the bit


def test_group_sort_equals_one_lexsort_to_the_bit():
    # Groups above the insertion-sort run (merge sort), ties, NaN and signed zeros: each
    # group's values in lexsort's order, so the summaries match max_quantile to the bit.
    rng = np.random.default_rng(4)
    n = 5000
    codes = np.where(rng.random(n) < 0.4, 0, rng.integers(0, 90, n))
    values = rng.choice([-1.5, -0.0, 0.0, 0.5, 2.0, np.nan], n)
    values[::3] = rng.normal(0, 1, len(values[::3]))
    perm, start, size = cmap_scores.group_order(codes, 90)
    got = np.empty(n)
    cmap_scores._sort_segments(values, perm, start, size, got)
    assert got.tobytes() == values[np.lexsort((values, codes))].tobytes()
    finite = np.nan_to_num(values, nan=1.0)
    q = cmap_scores.group_max_quantile(finite, codes, 90)
    for g in range(90):
        assert q[g] == cmap_scores.max_quantile(finite[codes == g])


def test_max_quantile_follows_matlab_prctile():
    assert cmap_scores.max_quantile([1, 2, 3, 4]) == pytest.approx(3.18)
    assert cmap_scores.max_quantile([-5, -4, 1, 2]) == pytest.approx(-4.18)
    assert cmap_scores.max_quantile([2.0]) == 2.0


def test_summaries_and_candidates():
    table = pd.DataFrame({
        "pert_id": ["p1"] * 4 + ["p2"] * 2 + ["p3"] * 2,
        "pert_name": ["one"] * 4 + ["two"] * 2 + ["three"] * 2,
        "cell_id": ["A", "A", "B", "B", "A", "B", "A", "B"],
        "ncs": [-2.0, -1.0, -1.5, -1.5, 1.0, 2.0, -1.0, -1.2],
        "tau": [-99.0, -90, -95, -95, 80, 90, -70, -75],
        "fdr_q": [0.001, 0.2, 0.01, 0.02, 0.001, 0.01, 0.5, 0.4]})
    summary = cn.summarise_perturbagens(table).set_index("pert_id")
    assert summary.loc["p1", "n_cell_lines"] == 2 and summary.loc["p1", "n_signatures"] == 4
    assert summary.loc["p1", "ncs"] == pytest.approx(cmap_scores.max_quantile(
        [cmap_scores.max_quantile([-2.0, -1.0]), -1.5]))
    compounds = pd.DataFrame({"pert_id": ["p1", "p2", "p3"], "moa": ["x", "y", ""],
                              "target": ["T1|T2", "T3", "T4"]})
    cands = cn.candidates(summary.reset_index(), compounds, 0.05, require_moa=True)
    assert cands["pert_id"].tolist() == ["p1"]  # p2 mimics, p3 fails FDR (and has no MoA)
    assert cn.candidates(summary.reset_index(), compounds, 0.05, True, "mimicking")[
        "pert_id"].tolist() == ["p2"]


def small_store(null_flags: bool):
    from bloodsig.connectivity.store import Store, rank_descending

    rng = np.random.default_rng(5)
    n_genes, n_sig = 400, 120
    scores = rng.standard_normal((n_sig, n_genes)).astype(np.float32)
    up, down = np.arange(20), np.arange(20, 40)
    scores[:6, up] -= 3  # six signatures reverse the query
    scores[:6, down] += 3
    info = pd.DataFrame({"sig_id": [f"s{i}" for i in range(n_sig)],
                         "pert_id": [f"p{i // 3}" for i in range(n_sig)],
                         "pert_name": [f"d{i // 3}" for i in range(n_sig)],
                         "pert_type": "trt_cp", "cell_id": np.tile(["A", "B", "C"], n_sig // 3),
                         "qc_pass": True, "is_ncs_sig": True,
                         "is_null_sig": (np.arange(n_sig) >= 60) & null_flags})
    store = Store(None, rank_descending(scores).T.astype(np.int16), scores.T.copy(),
                  pd.DataFrame({"gene_id": [str(i) for i in range(n_genes)]}), info,
                  pd.DataFrame(columns=["pert_id", "moa", "target"]), {})
    return store, up, down


@pytest.mark.parametrize("null_flags", [True, False])
def test_score_queries_finds_planted_reversers(null_flags):
    store, up, down = small_store(null_flags)
    queries = {"q": (up, down)}
    refs = cn.reference_queries(store, 30, 20, seed=1)
    background = cn.reference_background(store, refs, weighted=True)
    assert background.shape == (120, 30) and (np.diff(background, axis=1) >= 0).all()
    res = cn.score_queries(store, queries, True, background, null_queries=10,
                           null_signatures=50, seed=2)["q"].table(store.signatures)
    np.testing.assert_allclose(res["wtcs"], cmap_scores.wtcs(res["es_up"], res["es_down"]))
    lowest = res.nsmallest(6, "ncs")
    assert set(lowest["sig_id"]) == {f"s{i}" for i in range(6)}
    assert (lowest["ncs"] < -1.5).all() and (lowest["fdr_q"] < 0.05).all()
    assert (lowest["tau"] < -90).all()
    assert res["fdr_q"].iloc[6:].median() > 0.2
    again = cn.score_queries(store, queries, True, background, null_queries=10,
                             null_signatures=50, seed=2)["q"].table(store.signatures)
    pd.testing.assert_frame_equal(res, again)
