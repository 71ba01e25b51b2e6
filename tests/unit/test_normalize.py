"""TMM factors and CPM: planted composition effects, invariances and hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from bloodsig.core.errors import InputError
from bloodsig.stats import normalize


def _composition(n_genes=1000, frac_up=0.1, fold=10.0, seed=0):
    """Expected counts of sample A, and B where a fraction of genes is `fold` x more expressed.

    Other genes get a small symmetric jitter: exactly equal log-ratios would tie, and average
    ranks of one big tie can fall outside TMM's trim window (edgeR then returns factor 1).
    """
    rng = np.random.default_rng(seed)
    p = rng.lognormal(0, 1, n_genes)
    p /= p.sum()
    m = np.exp(rng.normal(0, 0.02, n_genes))
    m[: int(frac_up * n_genes)] = fold
    q = p * m / (p * m).sum()
    depth = 1e7
    return np.column_stack([p * depth, q * depth * 1.7]), (p * m).sum()


def test_tmm_recovers_planted_composition_factor():
    counts, total = _composition()
    f = normalize.calc_norm_factors(counts)
    # Non-DE genes are diluted by sum(p*m) in B, so B's factor relative to A is 1/sum(p*m).
    assert f[1] / f[0] == pytest.approx(1 / total, rel=5e-3)
    assert abs(f[1] / f[0] - 1) > 0.4  # a real correction, not the default 1
    assert np.exp(np.log(f).mean()) == pytest.approx(1.0, abs=1e-14)


def test_tmm_invariant_to_depth_and_zero_rows():
    rng = np.random.default_rng(1)
    counts = rng.poisson(rng.lognormal(3, 1.5, (500, 6))).astype(float)
    # Depth cancels in M and A; with weighting off it cannot enter the variance weights either.
    f = normalize.calc_norm_factors(counts, do_weighting=False)
    scaled = counts.copy()
    scaled[:, 2] *= 3
    np.testing.assert_allclose(normalize.calc_norm_factors(scaled, do_weighting=False), f,
                               rtol=1e-12)
    f = normalize.calc_norm_factors(counts)
    padded = np.vstack([counts, np.zeros((50, 6))])
    np.testing.assert_allclose(normalize.calc_norm_factors(padded), f, rtol=1e-14)
    assert np.all(normalize.calc_norm_factors(counts, method="none") == 1)


def test_tmm_dataframe_returns_series_named_by_sample():
    counts = pd.DataFrame(np.random.default_rng(2).poisson(50, (200, 4)),
                          columns=list("abcd"))
    f = normalize.calc_norm_factors(counts)
    assert list(f.index) == list("abcd")


@pytest.mark.parametrize("lo,hi", [(1, 10), (3, 8), (31, 70), (5, 5)])
def test_rank_window_matches_average_ranks(lo, hi):
    rng = np.random.default_rng(lo)
    x = rng.integers(0, 8, 100).astype(float)  # heavy ties
    expected = (rankdata(x) >= lo) & (rankdata(x) <= hi)
    np.testing.assert_array_equal(normalize._rank_within(x, lo, hi), expected)


@pytest.mark.parametrize("kind", ["normal", "ties", "counts", "wide", "constant", "tiny"])
def test_order_pair_matches_sorting(kind):
    rng = np.random.default_rng(len(kind))
    n = 3 if kind == "tiny" else 5001
    x = {"normal": rng.normal(0, 1, n), "ties": rng.integers(0, 5, n).astype(float),
         "counts": rng.negative_binomial(0.5, 0.001, n).astype(float),
         "wide": np.concatenate([rng.normal(0, 1, n - 2), [-1e308, 1e308]]),
         "constant": np.full(n, 2.5), "tiny": np.array([3.0, -1.0, 3.0])}[kind]
    ordered = np.sort(x)
    hist = np.empty(normalize._NBINS, dtype=np.int64)
    for k1, k2 in [(0, n - 1), (n // 4, n // 4 + 1), (n // 3, 2 * n // 3), (n // 2, n // 2)]:
        before = x.copy()
        got = normalize._order_pair(x, n, k1, k2, np.empty(2 * n), hist)
        assert got == (ordered[k1], ordered[k2])
        np.testing.assert_array_equal(x, before)


def test_cpm_by_hand():
    y = np.array([[0.0, 10.0], [5.0, 30.0], [15.0, 0.0]])
    lib = np.array([20.0, 40.0])
    np.testing.assert_allclose(normalize.cpm(y), y / lib * 1e6)
    nf = np.array([0.5, 2.0])
    eff = lib * nf  # 10, 80; mean 45
    prior = 2 * eff / 45
    expected = np.log2((y + prior) / (eff + 2 * prior) * 1e6)
    np.testing.assert_allclose(normalize.cpm(y, norm_factors=nf, log=True), expected)
    np.testing.assert_allclose(normalize.log2cpm_voom(y, norm_factors=nf),
                               np.log2((y + 0.5) / (eff + 1) * 1e6))


def test_bad_counts_refused():
    with pytest.raises(InputError, match="negative"):
        normalize.calc_norm_factors(np.array([[1.0, -1.0], [2.0, 3.0]]))
    with pytest.raises(InputError, match="NA"):
        normalize.cpm(np.array([[1.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(InputError, match="3 values for 2 samples"):
        normalize.cpm(np.ones((3, 2)), lib_size=[1, 2, 3])
    with pytest.raises(InputError, match="not supported"):
        normalize.calc_norm_factors(np.ones((3, 2)), method="RLE")
