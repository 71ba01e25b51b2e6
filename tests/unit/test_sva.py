"""Surrogate variable analysis (sva::num.sv "be", sva::irwsva.build) against planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bloodsig.stats import sva


def simulate(n_genes=1500, n_samples=60, strengths=(2.0, 1.5, 1.0), seed=0):
    """log-expression = gene mean + hidden factors (30% of genes each) + group effect + noise.

    Returns expr (genes x samples DataFrame), the full model [1, group], and the factors.
    """
    rng = np.random.default_rng(seed)
    group = np.tile([0.0, 1.0], n_samples // 2)
    factors = rng.standard_normal((n_samples, len(strengths)))
    mask = rng.uniform(size=(n_genes, len(strengths))) < 0.3
    load = rng.standard_normal((n_genes, len(strengths))) * np.asarray(strengths) * mask
    de = (rng.uniform(size=n_genes) < 0.1) * rng.normal(0, 1.5, n_genes)
    expr = (rng.normal(6, 1, (n_genes, 1)) + load @ factors.T + np.outer(de, group)
            + rng.standard_normal((n_genes, n_samples)))
    samples = [f"S{i}" for i in range(n_samples)]
    expr = pd.DataFrame(expr, index=[f"G{i}" for i in range(n_genes)], columns=samples)
    return expr, np.column_stack([np.ones(n_samples), group]), factors


def canonical_correlations(a, b) -> np.ndarray:
    qa = np.linalg.qr(a - a.mean(axis=0))[0]
    qb = np.linalg.qr(b - b.mean(axis=0))[0]
    return np.linalg.svd(qa.T @ qb, compute_uv=False)


def num_sv_direct(dat, mod, B, seed):
    """sva::num.sv("be") written as R does it (full SVDs), with the same permutations."""
    hat = mod @ np.linalg.inv(mod.T @ mod) @ mod.T
    res = dat - dat @ hat
    ndf = min(dat.shape) - int(np.ceil(np.trace(hat)))
    d = np.linalg.svd(res, compute_uv=False)[:ndf] ** 2
    dstat = d / d.sum()
    rng = np.random.default_rng(seed)
    dstat0 = np.empty((B, ndf))
    for b in range(B):
        res0 = rng.permuted(res, axis=1)
        d0 = np.linalg.svd(res0 - res0 @ hat, compute_uv=False)[:ndf] ** 2
        dstat0[b] = d0 / d0.sum()
    psv = np.ones(ndf)
    for i in range(ndf):
        psv[i] = np.mean(dstat0[:, i] >= dstat[i])
    for i in range(1, ndf):
        psv[i] = max(psv[i - 1], psv[i])
    return int(np.sum(psv <= 0.1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_num_sv_recovers_planted_number_of_factors(seed):
    expr, mod, factors = simulate(seed=seed)
    assert sva.num_sv(expr, mod, B=20, seed=seed) == 3
    expr1, _, _ = simulate(strengths=(2.0,), seed=seed)
    assert sva.num_sv(expr1, mod, B=20, seed=seed) == 1


def test_num_sv_finds_nothing_in_noise():
    rng = np.random.default_rng(7)
    noise = rng.standard_normal((1000, 40))
    mod = np.column_stack([np.ones(40), np.tile([0.0, 1.0], 20)])
    assert sva.num_sv(noise, mod, B=20, seed=1) == 0


@pytest.mark.parametrize("shape", [(400, 30), (25, 30)])
def test_num_sv_equals_the_direct_algorithm(shape):
    # Both the genes >= samples and genes < samples branches against full-SVD num.sv.
    rng = np.random.default_rng(3)
    n = shape[1]
    f = rng.standard_normal((n, 2))
    dat = rng.standard_normal((shape[0], 2)) * [1.0, 0.5] @ f.T + rng.standard_normal(shape)
    mod = np.column_stack([np.ones(n), rng.normal(size=n)])
    for seed in (0, 5):
        assert sva.num_sv(dat, mod, B=10, seed=seed) == num_sv_direct(dat, mod, 10, seed)
    with pytest.raises(ValueError, match="only method='be'"):
        sva.num_sv(dat, mod, method="leek")


def test_f_pvalue_matches_per_gene_nested_ols():
    expr, mod, factors = simulate(n_genes=20, seed=4)
    full = np.column_stack([mod, factors[:, :1]])
    p = sva.f_pvalue(expr, full, mod[:, :1])
    for g in (0, 7):
        y = expr.iloc[g].to_numpy()
        rss1 = np.sum((y - full @ np.linalg.lstsq(full, y, rcond=None)[0]) ** 2)
        rss0 = np.sum((y - y.mean()) ** 2)
        f = ((rss0 - rss1) / 2) / (rss1 / (60 - 3))
        assert np.isclose(p[g], stats.f.sf(f, 2, 57), rtol=1e-8, atol=1e-14)


def test_edge_lfdr_is_monotone_and_separates_signal_from_null():
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.uniform(size=900), rng.beta(0.05, 10, size=100)])
    lfdr = sva.edge_lfdr(p)
    order = np.argsort(p)
    assert np.all(np.diff(lfdr[order]) >= 0)
    assert lfdr.min() >= 0 and lfdr.max() <= 1
    assert np.median(lfdr[900:]) < 0.1  # planted signals: low local fdr
    assert np.median(lfdr[:900]) > 0.8  # nulls: high
    # all-null p-values: pi0 is 1 and nearly everything is null
    assert np.mean(sva.edge_lfdr(rng.uniform(size=2000)) > 0.5) > 0.9


def test_irw_sva_recovers_hidden_factors():
    expr, mod, factors = simulate(seed=6)
    sv = sva.irw_sva(expr, mod, mod[:, :1], n_sv=3, B=5)
    assert list(sv.columns) == ["SV1", "SV2", "SV3"]
    assert list(sv.index) == list(expr.columns)
    np.testing.assert_allclose(sv.to_numpy().T @ sv.to_numpy(), np.eye(3), atol=1e-10)
    assert canonical_correlations(sv.to_numpy(), factors).min() > 0.95
    # the SVs carry the hidden factors, not the group: little correlation with it
    assert np.abs(np.corrcoef(sv.to_numpy().T, mod[:, 1])[-1, :-1]).max() < 0.5
    # ndarray in, ndarray out; mod0 defaults to the intercept
    arr = sva.irw_sva(expr.to_numpy(), mod, None, 3)
    np.testing.assert_allclose(np.abs(arr), np.abs(sv.to_numpy()), atol=1e-10)


def test_sva_estimates_the_number_then_reweights():
    expr, mod, factors = simulate(seed=8)
    sv = sva.sva(expr, mod, seed=3)
    assert sv.shape == (60, 3)
    assert canonical_correlations(sv.to_numpy(), factors).min() > 0.95
    rng = np.random.default_rng(9)
    noise = pd.DataFrame(rng.standard_normal((800, 40)))
    none = sva.sva(noise, np.column_stack([np.ones(40), np.tile([0.0, 1.0], 20)]), seed=1)
    assert none.shape == (40, 0)
