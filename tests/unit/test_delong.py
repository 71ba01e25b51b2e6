"""bloodsig.stats.delong: the fast (Sun & Xu 2014) structural components against the O(n^2)
definition, the AUC against scikit-learn, and the paired test's behaviour."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bloodsig.stats import delong


def brute_force(y, s):
    """V10, V01 and covariance by comparing every case with every control (DeLong 1988)."""
    s = np.atleast_2d(s)
    x, z = s[:, y == 1], s[:, y == 0]
    psi = (x[:, :, None] > z[:, None, :]) + 0.5 * (x[:, :, None] == z[:, None, :])
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    cov = np.atleast_2d(np.cov(v10)) / x.shape[1] + np.atleast_2d(np.cov(v01)) / z.shape[1]
    return psi.mean(axis=(1, 2)), v10, v01, cov


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 120)
    # rounded scores so that ties within and across groups occur
    s = np.round(np.vstack([y * 0.8 + rng.normal(size=120), y * 0.3 + rng.normal(size=120),
                            rng.normal(size=120)]), 1)
    return y, s


def test_components_match_brute_force(data):
    y, s = data
    auc, v10, v01 = delong.structural_components(y, s)
    bauc, bv10, bv01, bcov = brute_force(y, s)
    np.testing.assert_allclose(auc, bauc, atol=1e-12)
    np.testing.assert_allclose(v10, bv10, atol=1e-12)
    np.testing.assert_allclose(v01, bv01, atol=1e-12)
    np.testing.assert_allclose(delong.delong_covariance(y, s)[1], bcov, atol=1e-14)
    for k in range(3):
        assert auc[k] == pytest.approx(roc_auc_score(y, s[k]), abs=1e-12)


def test_ci_and_test(data):
    y, s = data
    res = delong.auc_ci(y, s[0])
    _, _, _, bcov = brute_force(y, s[0])
    assert res.se == pytest.approx(np.sqrt(bcov[0, 0]), rel=1e-10)
    assert res.ci_low == pytest.approx(res.auc - 1.959963985 * res.se, abs=1e-8)
    assert res.ci_low < res.auc < res.ci_high <= 1
    z, p = delong.delong_test(y, s[0], s[2])
    auc, _, _, cov = brute_force(y, s[[0, 2]])
    assert z == pytest.approx((auc[0] - auc[1]) / np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]))
    assert p < 0.01  # informative vs noise
    assert delong.delong_test(y, s[0], s[0]) == (0.0, 1.0)
    # a perfect classifier: AUC 1, zero variance, interval clipped at 1
    perfect = delong.auc_ci(y, y.astype(float))
    assert (perfect.auc, perfect.se, perfect.ci_high) == (1.0, 0.0, 1.0)


def test_bad_labels():
    with pytest.raises(ValueError, match="0 \\(control\\) and 1"):
        delong.auc_ci(np.array([0, 1, 2, 1]), np.arange(4.0))
    with pytest.raises(ValueError, match="two cases"):
        delong.auc_ci(np.array([0, 0, 0, 1]), np.arange(4.0))
