"""voom/lmFit/eBayes/topTable: independent per-gene solutions, planted truth, invariances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from bloodsig.core.errors import InputError
from bloodsig.stats import limma, normalize
from bloodsig.stats.limma_squeeze import trigamma_inverse
from bloodsig.stats.lowess import lowess
from bloodsig.stats.multitest import p_adjust_bh


def _normal_data(seed=0, ngenes=1500, n=16, frac_de=0.1, lfc=1.5):
    rng = np.random.default_rng(seed)
    group = np.repeat([0.0, 1.0], n // 2)
    x = np.column_stack([np.ones(n), group, rng.normal(0, 1, n)])
    # residual variances from a scaled inverse chi-square prior (d0 = 6, s0^2 = 0.25)
    s2 = 0.25 * 6 / rng.chisquare(6, ngenes)
    de = rng.random(ngenes) < frac_de
    beta = np.column_stack([rng.normal(8, 2, ngenes),
                            np.where(de, rng.choice([-lfc, lfc], ngenes), 0.0),
                            rng.normal(0, 0.2, ngenes)])
    y = beta @ x.T + rng.normal(0, 1, (ngenes, n)) * np.sqrt(s2)[:, None]
    return y, x, de, s2


def test_lowess_is_exact_on_a_line_and_resists_outliers():
    x = np.linspace(0, 10, 101)
    _, fit = lowess(x, 2 * x + 1, f=0.3)
    np.testing.assert_allclose(fit, 2 * x + 1, atol=1e-12)
    y = np.sin(x)
    y_out = y.copy()
    y_out[50] = 100.0
    _, robust = lowess(x, y_out, f=0.3)
    _, clean = lowess(x, y, f=0.3)
    assert abs(robust[50] - clean[50]) < 0.05  # the robustness iterations downweight it
    _, one_pass = lowess(x, y_out, f=0.3, iters=0)
    assert abs(one_pass[50] - clean[50]) > 1.0


def test_lm_fit_matches_per_gene_least_squares():
    y, x, _, _ = _normal_data(ngenes=50)
    rng = np.random.default_rng(1)
    w = rng.uniform(0.2, 3, y.shape)
    for weights in (None, w[0], w):
        fit = limma.lm_fit(y, x, weights)
        for g in (0, 17, 49):
            wg = np.ones(y.shape[1]) if weights is None else (
                weights if weights.ndim == 1 else weights[g])
            sw = np.sqrt(wg)
            b, rss, *_ = np.linalg.lstsq(x * sw[:, None], y[g] * sw, rcond=None)
            cov = np.linalg.inv((x * wg[:, None]).T @ x)
            np.testing.assert_allclose(fit["coefficients"][g], b, rtol=1e-10)
            np.testing.assert_allclose(fit["stdev_unscaled"][g], np.sqrt(np.diag(cov)),
                                       rtol=1e-10)
            np.testing.assert_allclose(fit["sigma"][g] ** 2, rss[0] / (len(wg) - 3), rtol=1e-9)
    assert fit["df_residual"][0] == y.shape[1] - 3


def test_lm_fit_missing_values_drop_observations():
    y, x, _, _ = _normal_data(ngenes=20)
    y_na = y.copy()
    y_na[3, [0, 9]] = np.nan
    fit = limma.lm_fit(y_na, x)
    keep = np.ones(y.shape[1], bool)
    keep[[0, 9]] = False
    sub = limma.lm_fit(y[3:4, keep], x[keep])
    np.testing.assert_allclose(fit["coefficients"][3], sub["coefficients"][0], rtol=1e-10)
    np.testing.assert_allclose(fit["sigma"][3], sub["sigma"][0], rtol=1e-10)
    assert fit["df_residual"][3] == y.shape[1] - 2 - 3
    assert fit["Amean"][3] == pytest.approx(np.nanmean(y_na[3]))


def test_ebayes_recovers_prior_and_planted_de():
    y, x, de, _ = _normal_data(ngenes=4000)
    efit = limma.ebayes(limma.lm_fit(y, x))
    assert efit["df_prior"] == pytest.approx(6, rel=0.25)
    assert efit["s2_prior"] == pytest.approx(0.25, rel=0.15)
    tt = limma.top_table(efit, 1, sort_by="none")
    called = tt["adj.P.Val"].to_numpy() < 0.05
    fdp = (called & ~de).sum() / max(called.sum(), 1)
    power = (called & de).sum() / de.sum()
    assert fdp < 0.1 and power > 0.6
    # B ranks like |t| when all genes share df and stdev_unscaled
    assert np.corrcoef(np.argsort(np.argsort(tt["B"])),
                       np.argsort(np.argsort(tt["t"].abs())))[0, 1] > 0.999


def test_moderated_t_formula():
    y, x, _, _ = _normal_data(ngenes=300)
    fit = limma.lm_fit(y, x)
    efit = limma.ebayes(fit)
    d0, s0, d = efit["df_prior"], efit["s2_prior"], fit["df_residual"]
    s2_post = (d * fit["sigma"] ** 2 + d0 * s0) / (d + d0)
    t = fit["coefficients"] / fit["stdev_unscaled"] / np.sqrt(s2_post)[:, None]
    np.testing.assert_allclose(efit["t"], t, rtol=1e-12)
    np.testing.assert_allclose(efit["p_value"], 2 * stats.t.sf(np.abs(t), (d + d0)[:, None]),
                               rtol=1e-12)


def test_trigamma_inverse_and_bh():
    x = np.array([1e-3, 0.1, 1.0, 10.0, 1e3])
    np.testing.assert_allclose(special.polygamma(1, trigamma_inverse(x)), x, rtol=1e-7)
    # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "BH") is 0.05 five times
    np.testing.assert_allclose(p_adjust_bh([0.01, 0.02, 0.03, 0.04, 0.05]), [0.05] * 5)
    np.testing.assert_allclose(p_adjust_bh([0.04, 0.001, 0.9]), [0.06, 0.003, 0.9])


def test_contrast_of_cell_means_equals_treatment_coefficient():
    y, x, _, _ = _normal_data(ngenes=200)
    w = np.random.default_rng(2).uniform(0.5, 2, y.shape)
    # Cell means alone are orthogonal for every gene's weights, so the contrast is exact.
    x = x[:, :2]
    cell_means = np.column_stack([1 - x[:, 1], x[:, 1]])
    ref = limma.ebayes(limma.lm_fit(y, x, w))
    cfit = limma.ebayes(limma.contrasts_fit(limma.lm_fit(y, cell_means, w), [-1, 1]))
    for a, b in (("coefficients", 1), ("t", 1), ("p_value", 1)):
        np.testing.assert_allclose(cfit[a][:, 0], ref[a][:, b], rtol=1e-8)


def test_voom_recovers_planted_de_and_weights_follow_counts():
    rng = np.random.default_rng(5)
    ngenes, n = 3000, 20
    group = np.repeat([0.0, 1.0], n // 2)
    base = rng.lognormal(4, 1.8, ngenes)
    de = rng.random(ngenes) < 0.1
    lfc = np.where(de, rng.choice([-1.0, 1.0], ngenes), 0.0)
    mu = base[:, None] * 2 ** (lfc[:, None] * group) * rng.uniform(0.7, 1.4, n)
    disp = 0.05
    counts = rng.negative_binomial(1 / disp, 1 / (1 + mu * disp))
    design = np.column_stack([np.ones(n), group])
    nf = normalize.calc_norm_factors(counts)
    v = limma.voom(counts, design, norm_factors=nf)
    # low counts are noisier: their weights are smaller
    low, high = base < np.quantile(base, 0.2), base > np.quantile(base, 0.8)
    assert v["weights"][low].mean() < 0.5 * v["weights"][high].mean()
    efit = limma.ebayes(limma.lm_fit(v["E"], design, v["weights"]))
    tt = limma.top_table(efit, 1, sort_by="none")
    called = tt["adj.P.Val"].to_numpy() < 0.05
    assert (called & ~de).sum() / max(called.sum(), 1) < 0.1
    assert (called & de).sum() / de.sum() > 0.5
    assert np.corrcoef(tt["logFC"][de], lfc[de])[0, 1] > 0.9


def test_top_table_columns_sorting_and_errors():
    y, x, _, _ = _normal_data(ngenes=100)
    genes = pd.Index([f"g{i}" for i in range(100)])
    efit = limma.ebayes(limma.lm_fit(pd.DataFrame(y, index=genes), x))
    tt = limma.top_table(efit, 1)
    assert list(tt.columns) == ["logFC", "AveExpr", "t", "P.Value", "adj.P.Val", "B"]
    assert tt["B"].is_monotonic_decreasing and set(tt.index) == set(genes)
    assert limma.top_table(efit, 1, sort_by="p")["P.Value"].is_monotonic_increasing
    assert len(limma.top_table(efit, 1, n=10)) == 10
    with pytest.raises(InputError, match="'groupX'"):
        limma.top_table(efit, "groupX")
    with pytest.raises(InputError, match="ebayes"):
        limma.top_table(limma.lm_fit(y, x), 1)


def test_remove_batch_effect_keeps_biology_removes_batch():
    rng = np.random.default_rng(3)
    n = 24
    group = np.tile([0.0, 1.0], n // 2)
    batch = np.repeat([0.0, 1.0, 2.0], n // 3)
    bdummies = np.column_stack([batch == 1, batch == 2]).astype(float)
    y = 5 + 2.0 * group + bdummies @ np.array([3.0, -4.0]) + rng.normal(0, 0.1, (30, n))
    out = limma.remove_batch_effect(y, np.column_stack([np.ones(n), group]), bdummies)
    for g in range(2):
        m = [out[:, (group == g) & (batch == b)].mean() for b in range(3)]
        assert np.ptp(m) < 0.1
    assert out[:, group == 1].mean() - out[:, group == 0].mean() == pytest.approx(2.0, abs=0.05)


def test_shape_and_rank_errors():
    y, x, _, _ = _normal_data(ngenes=10)
    with pytest.raises(InputError, match="rows"):
        limma.lm_fit(y, x[:-1])
    with pytest.raises(InputError, match="full column rank"):
        limma.lm_fit(y, np.column_stack([x, x[:, 1] * 2]))
    with pytest.raises(InputError, match="weights"):
        limma.lm_fit(y, x, np.ones((3, 3)))
    with pytest.raises(InputError, match="positive"):
        limma.lm_fit(y, x, -np.ones(y.shape))
    with pytest.raises(InputError, match="contrast has 2 rows"):
        limma.contrasts_fit(limma.lm_fit(y, x), [1, -1])


def test_dataframe_design_is_aligned_to_samples_by_name():
    y, x, _, _ = _normal_data(ngenes=30)
    names = [f"S{i}" for i in range(y.shape[1])]
    e = pd.DataFrame(y, columns=names)
    design = pd.DataFrame(x, index=names, columns=["(Intercept)", "grp", "cov"])
    ref = limma.lm_fit(e, design)
    shuffled = limma.lm_fit(e, design.iloc[::-1])
    np.testing.assert_allclose(shuffled["coefficients"], ref["coefficients"], rtol=1e-12)
    assert ref["coef_names"] == ["(Intercept)", "grp", "cov"]
    with pytest.raises(InputError, match="no row for sample 'S3'"):
        limma.lm_fit(e, design.drop(index="S3"))
