"""Repeated measures (duplicateCorrelation, blocked lmFit), robust eBayes and sample quality
weights on simulated data with planted truth. Agreement with R is in
tests/validation/test_limma_repeated_vs_r.py."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from bloodsig.core.errors import InputError
from bloodsig.stats import limma, limma_block, limma_quality, limma_robust

NSUB, NTIME = 12, 4


def repeated(rho, ngenes=2000, seed=1, sigma2=None):
    """Subjects x time points with a subject effect of variance rho (total variance 1)."""
    rng = np.random.default_rng(seed)
    block = np.repeat(np.arange(NSUB), NTIME)
    time = np.tile(np.arange(NTIME), NSUB)
    x = np.column_stack([np.ones(NSUB * NTIME)] + [time == k for k in range(1, NTIME)])
    x = x.astype(float)
    s2 = np.ones(ngenes) if sigma2 is None else sigma2
    u = rng.normal(0, np.sqrt(rho * s2)[:, None], (ngenes, NSUB))[:, block]
    e = rng.normal(0, np.sqrt((1 - rho) * s2)[:, None], (ngenes, NSUB * NTIME))
    beta = rng.normal(0, 1, (ngenes, x.shape[1]))
    return beta @ x.T + u + e, x, block


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.7])
def test_consensus_correlation_recovers_planted_correlation(rho):
    y, x, block = repeated(rho)
    dc = limma_block.duplicate_correlation(y, x, block)
    assert dc["consensus_correlation"] == pytest.approx(rho, abs=0.03)
    assert np.isfinite(dc["atanh_correlations"]).all()


def _reml_rho(y, x, z, w):
    """Direct REML maximisation of sqrt(w) y = sqrt(w) X b + Z u + e (mixedModel2Fit)."""
    sw = np.sqrt(w)
    yw, xw = sw * y, sw[:, None] * x

    def negloglik(par):
        se, sb = np.exp(par)
        v = se * np.eye(len(y)) + sb * z @ z.T
        vi = np.linalg.inv(v)
        xvx = xw.T @ vi @ xw
        b = np.linalg.solve(xvx, xw.T @ vi @ yw)
        r = yw - xw @ b
        return (np.linalg.slogdet(v)[1] + np.linalg.slogdet(xvx)[1] + r @ vi @ r) / 2

    res = optimize.minimize(negloglik, [0.0, 0.0], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000})
    se, sb = np.exp(res.x)
    return sb / (se + sb)


def test_gene_wise_reml_matches_direct_maximisation():
    y, x, block = repeated(0.5, ngenes=6, seed=4)
    rng = np.random.default_rng(5)
    w = rng.uniform(0.3, 3, y.shape)
    dc = limma_block.duplicate_correlation(y, x, block, weights=w, trim=0)
    z = (block[:, None] == np.arange(NSUB)).astype(float)
    direct = [_reml_rho(y[g], x, z, w[g]) for g in range(y.shape[0])]
    # glmgam.fit stops at dl'dbeta < 1e-6 (statmod's rule), so agreement is to ~1e-3
    np.testing.assert_allclose(np.tanh(dc["atanh_correlations"]), direct, atol=2e-3)


def test_missing_values_are_fitted_on_the_observed_samples():
    y, x, block = repeated(0.4, ngenes=50, seed=2)
    y[3, [0, 5, 17]] = np.nan
    dc = limma_block.duplicate_correlation(y, x, block)
    keep = np.isfinite(y[3])
    alone = limma_block.duplicate_correlation(
        np.vstack([y[3, keep]] * 2), x[keep], block[keep])
    assert dc["atanh_correlations"][3] == pytest.approx(alone["atanh_correlations"][0],
                                                        rel=1e-10)


def test_no_block_information_gives_zero_correlation():
    y, x, block = repeated(0.5, ngenes=20)
    singles = limma_block.duplicate_correlation(y, x, np.arange(y.shape[1]))
    assert singles["consensus_correlation"] == 0
    # a block factor that is a column of the design carries no extra information
    grp = (block < NSUB // 2).astype(float)
    nested = limma_block.duplicate_correlation(y, np.column_stack([x, grp]), grp)
    assert nested["consensus_correlation"] == 0


def explicit_gls(y, x, block, rho, w):
    """Per-gene GLS with the dense correlation matrix and Cholesky whitening (gls.series)."""
    ngenes, n = y.shape
    p = x.shape[1]
    cor = np.where(block[:, None] == block[None, :], rho, 0.0)
    np.fill_diagonal(cor, 1.0)
    coef, su, sigma = np.zeros((ngenes, p)), np.zeros((ngenes, p)), np.zeros(ngenes)
    for g in range(ngenes):
        o = np.isfinite(y[g])
        wrs = 1 / np.sqrt(w[g, o])
        v = wrs[:, None] * cor[np.ix_(o, o)] * wrs[None, :]
        lc = np.linalg.cholesky(v)
        yy, xx = np.linalg.solve(lc, y[g, o]), np.linalg.solve(lc, x[o])
        b, *_ = np.linalg.lstsq(xx, yy, rcond=None)
        coef[g] = b
        su[g] = np.sqrt(np.diag(np.linalg.inv(xx.T @ xx)))
        sigma[g] = np.sqrt(((yy - xx @ b) ** 2).sum() / (o.sum() - p))
    return coef, su, sigma


def test_gls_fit_matches_explicit_whitened_least_squares():
    y, x, block = repeated(0.4, ngenes=40, seed=3)
    rng = np.random.default_rng(8)
    w = rng.uniform(0.2, 5, y.shape)
    y[2, [1, 9]] = np.nan
    y[7, 20:24] = np.nan  # a whole subject missing for one gene
    fit = limma.lm_fit(y, x, w, block=block, correlation=0.4)
    coef, su, sigma = explicit_gls(y, x, block, 0.4, w)
    np.testing.assert_allclose(fit["coefficients"], coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit["stdev_unscaled"], su, rtol=1e-9)
    np.testing.assert_allclose(fit["sigma"], sigma, rtol=1e-9)
    assert fit["df_residual"][2] == x.shape[0] - 2 - x.shape[1]
    assert fit["df_residual"][7] == x.shape[0] - 4 - x.shape[1]


def test_gls_with_zero_correlation_is_weighted_least_squares():
    y, x, block = repeated(0.4, ngenes=30, seed=6)
    w = np.random.default_rng(1).uniform(0.5, 2, y.shape)
    gls = limma.lm_fit(y, x, w, block=block, correlation=0.0)
    wls = limma.lm_fit(y, x, w)
    for k in ("coefficients", "stdev_unscaled", "sigma"):
        np.testing.assert_allclose(gls[k], wls[k], rtol=1e-10, err_msg=k)


def test_blocked_fit_needs_a_correlation():
    y, x, block = repeated(0.4, ngenes=5)
    with pytest.raises(InputError, match="correlation"):
        limma.lm_fit(y, x, block=block)
    with pytest.raises(InputError, match="between -1 and 1"):
        limma.lm_fit(y, x, block=block, correlation=1.0)


def test_blocking_controls_false_positives_for_a_between_subject_comparison():
    """A subject-level group with no effect: ignoring the correlation inflates the type I
    error, the blocked fit with the estimated consensus correlation does not."""
    y, x, block = repeated(0.6, ngenes=3000, seed=9)
    xg = np.column_stack([x, (block % 2).astype(float)])
    dc = limma_block.duplicate_correlation(y, xg, block)
    assert dc["consensus_correlation"] == pytest.approx(0.6, abs=0.03)
    naive = limma.ebayes(limma.lm_fit(y, xg))["p_value"][:, -1]
    blocked = limma.ebayes(limma.lm_fit(y, xg, block=block,
                                        correlation=dc["consensus_correlation"]))
    assert (naive < 0.05).mean() > 0.15
    assert (blocked["p_value"][:, -1] < 0.05).mean() < 0.08


def fit_with_outliers(seed=3, ngenes=3000, nout=60, d=6, d0=8):
    rng = np.random.default_rng(seed)
    s2 = 0.5 * d0 / rng.chisquare(d0, ngenes)  # prior: s2 ~ s0^2 / (chi2_d0 / d0)
    s2[:nout] *= 30  # planted outlier variances
    sample = s2 * rng.chisquare(d, ngenes) / d
    return {"coefficients": rng.normal(0, 1, (ngenes, 1)), "stdev_unscaled": np.ones((ngenes, 1)),
            "sigma": np.sqrt(sample), "df_residual": np.full(ngenes, float(d))}, nout


def test_robust_ebayes_downweights_planted_outlier_variances():
    fit, nout = fit_with_outliers()
    plain = limma.ebayes(fit)
    robust = limma.ebayes(fit, robust=True)
    d0 = robust["df_prior"]
    assert d0.shape == (fit["sigma"].shape[0],)
    assert np.median(d0[:nout]) < 0.5 * np.median(d0[nout:])
    # the bulk keeps about the prior df of the uncontaminated genes (planted d0 = 8) ...
    assert np.median(d0[nout:]) == pytest.approx(8, rel=0.3)
    # ... which the outliers drag down in the non-robust fit
    assert plain["df_prior"] < np.median(d0[nout:])
    # outlier genes keep more of their own large variance
    assert (robust["s2_post"][:nout] > plain["s2_post"][:nout]).mean() > 0.9
    assert np.all(robust["df_total"] <= fit["df_residual"].sum())


def test_robust_f_fit_recovers_planted_prior_df_without_outliers():
    rng = np.random.default_rng(11)
    d, d0, s0 = 5.0, 10.0, 0.3
    x = s0 * stats.f.rvs(d, d0, size=20000, random_state=rng)
    fit = limma_robust.fit_f_dist_robustly(x, d)
    assert fit["df2"] == pytest.approx(d0, rel=0.15)
    assert fit["scale"] == pytest.approx(s0, rel=0.05)


def test_zeroin_is_brent():
    def f(u):
        return np.cos(u) - u

    root = limma_robust._zeroin(f, 0.0, 1.0, f(0.0), f(1.0), 1e-12)
    assert root == pytest.approx(optimize.brentq(f, 0, 1, xtol=1e-14), abs=1e-11)


def test_array_weights_downweight_planted_noisy_samples():
    rng = np.random.default_rng(4)
    n = 16
    sd = np.ones(n)
    sd[[2, 9]] = 2.0  # two samples with four times the variance
    y = rng.normal(0, 1, (3000, n)) * sd
    x = np.column_stack([np.ones(n), np.arange(n) % 2]).astype(float)
    aw = limma_quality.array_weights(y, x)
    others = np.delete(aw, [2, 9])
    assert aw[[2, 9]] == pytest.approx(np.full(2, np.median(others) / 4), rel=0.2)
    assert np.all(others > 0.8 * np.median(others))
    grp = limma_quality.array_weights(y, x, var_group=np.where(sd > 1, "noisy", "clean"))
    assert grp[2] == grp[9] and grp[0] == grp[1]
    assert grp[0] / grp[2] == pytest.approx(4, rel=0.15)
