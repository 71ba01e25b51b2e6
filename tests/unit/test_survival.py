"""bloodsig.stats.survival and discrimination: survival-table checks, Kaplan-Meier, log-rank,
Cox, C-index, td-AUC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.core.errors import InputError
from bloodsig.stats import discrimination
from bloodsig.stats import survival as sv


def weibull_data(n=150, seed=3, ties=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    beta = np.array([0.8, -0.5, 0.0])
    t = rng.weibull(1.3, n) / np.exp(x @ beta) ** (1 / 1.3) * 30
    c = rng.exponential(40, n)
    time, event = np.minimum(t, c), (t <= c).astype(int)
    if ties:
        time = np.ceil(time / 6) * 6
    return x, time, event, beta


# ------------------------------------------------------------------ check_survival

def table(times, events):
    return pd.DataFrame({"t": times, "e": events}, index=[f"S{i}" for i in range(len(times))])


def test_check_survival_drops_missing_and_keeps_good_rows():
    out = sv.check_survival(table([1.0, None, 3.0, 4.0], [1, 1, None, 0]), "t", "e")
    assert out.index.tolist() == ["S0", "S3"]
    assert out["e"].dtype == np.int64


@pytest.mark.parametrize("times, events, row, column, words", [
    ([1.0, -2.0, 3.0], [1, 0, 1], 3, "t", "survival time -2 is not positive"),
    ([1.0, 0.0, 3.0], [1, 0, 1], 3, "t", "survival time 0 is not positive"),
    ([1.0, 2.0, 3.0], [1, 2, 0], 3, "e", "event indicator 2 is not 0"),
    ([1.0, "soon", 3.0], [1, 0, 1], 3, "t", "'soon' is not a number"),
    ([1.0, 2.0, 3.0], [1, "yes", 0], 3, "e", "'yes' is not a number"),
])
def test_check_survival_refuses_bad_values(times, events, row, column, words):
    with pytest.raises(InputError) as err:
        sv.check_survival(table(times, events), "t", "e", path="samples.tsv")
    assert err.value.row == row and err.value.column == column
    assert words in str(err.value) and "samples.tsv" in str(err.value)


def test_check_survival_refuses_no_events():
    with pytest.raises(InputError, match="no events"):
        sv.check_survival(table([1.0, 2.0], [0, 0]), "t", "e")


def test_check_survival_refuses_missing_column():
    with pytest.raises(InputError, match="survival column is missing"):
        sv.check_survival(table([1.0], [1]), "time", "e")


# --------------------------------------------------------------- KM and log-rank

def test_kaplan_meier_by_hand():
    km = sv.kaplan_meier([1, 2, 2, 3, 4, 5], [1, 1, 0, 1, 0, 1])
    assert km["n_risk"].tolist() == [6, 5, 3, 2, 1]
    np.testing.assert_allclose(km["survival"], [5 / 6, 5 / 6 * 4 / 5, 5 / 6 * 4 / 5 * 2 / 3,
                                                5 / 6 * 4 / 5 * 2 / 3, 0.0])
    assert sv.km_median([1, 2, 2, 3, 4, 5], [1, 1, 0, 1, 0, 1]) == 3
    # S = 0.5 exactly on [2, 4): R's survfit takes the midpoint to the next death.
    assert sv.km_median([1, 2, 4, 5], [1, 1, 1, 1]) == 3
    assert np.isnan(sv.km_median([1, 2, 3], [1, 0, 0]))


def test_km_curve_is_kaplan_meier_from_time_zero_with_a_band():
    time, event = [1, 2, 2, 3, 4, 5], [1, 1, 0, 1, 0, 1]
    curve, km = sv.km_curve(time, event), sv.kaplan_meier(time, event)
    assert curve.iloc[0][["time", "n_risk", "survival"]].tolist() == [0, 6, 1]
    pd.testing.assert_frame_equal(curve.iloc[1:][km.columns].reset_index(drop=True), km,
                                  check_dtype=False)
    band = curve.dropna()
    assert len(band) == 4 and (band["lower"] < band["survival"]).all()
    assert (band["survival"] < band["upper"]).all()


def test_logrank_many_columns_equal_one_at_a_time():
    x, time, event, _ = weibull_data(ties=True)
    groups = x > 0
    chisq, p, o_e = sv.logrank(time, event, groups)
    for j in range(3):
        c1, p1, d1 = sv.logrank(time, event, groups[:, j])
        assert chisq[j] == pytest.approx(c1[0]) and o_e[j] == pytest.approx(d1[0])
    # The planted effects: x1 raises the hazard (more deaths than expected when high).
    assert p[0] < 0.01 and o_e[0] > 0 and o_e[1] < 0 and p[2] > 0.05


def test_logrank_by_hand_two_groups():
    # Two groups, no ties: the textbook O - E and hypergeometric variance.
    time = np.array([1, 2, 3, 4, 5, 6.0])
    event = np.array([1, 1, 1, 1, 1, 1])
    g = np.array([True, False, True, False, False, False])
    n1 = np.array([2, 1, 1, 0, 0, 0])
    n = np.array([6, 5, 4, 3, 2, 1])
    d1 = np.array([1, 0, 1, 0, 0, 0])
    e1 = n1 / n
    var = (e1 * (1 - e1))[:-1].sum()
    chisq, _, o_e = sv.logrank(time, event, g)
    assert o_e[0] == pytest.approx((d1 - e1).sum())
    assert chisq[0] == pytest.approx((d1 - e1).sum() ** 2 / var)


# ---------------------------------------------------------------------- Cox

def test_cox_recovers_planted_effects_and_score_is_zero():
    x, time, event, beta = weibull_data(n=2000)
    fit = sv.cox_fit(x, time, event)
    assert np.all(np.abs(fit.coef - beta) < 4 * fit.se)
    data = sv.CoxData(time, event)
    xs = (x - x.mean(axis=0))[data.order]
    _, score, _ = data.derivatives(xs, fit.coef, "breslow")
    assert np.max(np.abs(score)) < 1e-8
    assert fit.aic == pytest.approx(-2 * fit.loglik + 6)


def test_breslow_and_efron_agree_without_ties_differ_with_ties():
    x, time, event, _ = weibull_data()
    b, e = sv.cox_fit(x, time, event, "breslow"), sv.cox_fit(x, time, event, "efron")
    np.testing.assert_allclose(b.coef, e.coef, atol=1e-10)
    x, time, event, _ = weibull_data(ties=True)
    b, e = sv.cox_fit(x, time, event, "breslow"), sv.cox_fit(x, time, event, "efron")
    assert np.max(np.abs(b.coef - e.coef)) > 1e-3
    # Breslow attenuates towards zero under heavy ties.
    assert abs(e.coef[0]) > abs(b.coef[0])


def test_efron_loglik_by_hand():
    # Two deaths tied at t=1 among three samples: Efron's denominators.
    x = np.array([[0.0], [1.0], [2.0]])
    time, event = np.array([1.0, 1.0, 2.0]), np.array([1, 1, 0])
    beta = np.array([0.3])
    data = sv.CoxData(time, event)
    xs = (x - x.mean(axis=0))[data.order]
    ll, _, _ = data.derivatives(xs, beta, "efron")
    eta = (xs @ beta)
    w = np.exp(eta)
    want = eta[0] + eta[1] - np.log(w.sum()) - np.log(w.sum() - 0.5 * (w[0] + w[1]))
    assert ll == pytest.approx(want)
    ll_b, _, _ = data.derivatives(xs, beta, "breslow")
    assert ll_b == pytest.approx(eta[0] + eta[1] - 2 * np.log(w.sum()))


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_one_step_adds_bound_each_added_columns_maximum(ties):
    # A model on columns 0-1, every other column added in turn: one Newton step from the
    # model's maximum never passes the added model's maximum and comes close to it.
    x, time, event, _ = weibull_data(n=200, ties=ties == "efron")
    rng = np.random.default_rng(5)
    extra = np.column_stack([x[:, 2], rng.normal(size=(200, 5)), x[:, 1] + rng.normal(
        scale=0.5, size=200)])
    data = sv.CoxData(time, event)
    base = sv.cox_fit(x[:, :2], data=data, ties=ties)
    centred = lambda a: (a - a.mean(axis=0))[data.order]  # noqa: E731
    lower, chisq = data.one_step_adds(centred(x[:, :2]), base.coef, centred(extra), ties)
    exact = np.array([sv.cox_fit(np.column_stack([x[:, :2], z]), data=data, ties=ties).loglik
                      for z in extra.T])
    assert np.all(lower <= exact + 1e-9)
    assert np.all(exact - lower < 0.05)
    assert np.all(lower >= base.loglik - 1e-9)
    # The score test approximates twice the gain.
    np.testing.assert_allclose(chisq / 2, exact - base.loglik, atol=0.1)


def test_cox_refuses_unknown_ties():
    with pytest.raises(InputError, match="ties"):
        sv.cox_fit(np.ones((3, 1)), [1, 2, 3], [1, 1, 1], ties="exact")


# ------------------------------------------------------------------- C-index

def naive_compare_c(time, status, y, z):
    """compareC 1.3.2 transcribed loop by loop (Kang et al. 2015): the reference."""
    n = len(time)

    def csign(i, j):
        if time[i] > time[j]:
            return status[j]
        if time[i] < time[j]:
            return -status[i]
        return status[j] - status[i]

    def kernels(score):
        return [[0 if i == j else csign(i, j) * np.sign(score[i] - score[j]) for j in range(n)]
                for i in range(n)]

    xx = [[0 if i == j else csign(i, j) ** 2 for j in range(n)] for i in range(n)]
    xy, xz = kernels(y), kernels(z)

    def tau(m):
        return sum(map(sum, m)) / n / (n - 1)

    def cov(m, k):
        s1 = s3 = s2 = s4 = 0.0
        for i in range(n):
            a, b = sum(m[i]), sum(k[i])
            s1 += 4 * a * b
            s3 += 2 * sum(m[i][j] * k[i][j] for j in range(n))
            s2 += a
            s4 += b
        return (s1 - s3 + (2 * n - 3) * (-2) * s2 * s4 / n / (n - 1)) / n / (n - 1) / (
            n - 2) / (n - 3)

    t11, t12, t13 = tau(xx), tau(xy), tau(xz)
    v2, v3 = np.array([1 / t11, -t12 / t11 ** 2]), np.array([1 / t11, -t13 / t11 ** 2])
    var_y = v2 @ np.array([[cov(xy, xy), cov(xx, xy)], [cov(xx, xy), cov(xx, xx)]]) @ v2 / 4
    var_z = v3 @ np.array([[cov(xz, xz), cov(xx, xz)], [cov(xx, xz), cov(xx, xx)]]) @ v3 / 4
    covyz = v2 @ np.array([[cov(xy, xz), cov(xx, xy)], [cov(xx, xz), cov(xx, xx)]]) @ v3 / 4
    return (1 + t12 / t11) / 2, (1 + t13 / t11) / 2, var_y, var_y + var_z - 2 * covyz


def test_concordance_matches_loop_reference_with_ties():
    x, time, event, _ = weibull_data(n=40, ties=True)
    risk_a, risk_b = np.round(x[:, 0], 1), x[:, 1]
    c_y, c_z, var_y, var_diff = naive_compare_c(time, event, -risk_a, -risk_b)
    c, se = discrimination.concordance(time, event, risk_a)
    assert c == pytest.approx(c_y, abs=1e-12) and se == pytest.approx(np.sqrt(var_y), abs=1e-12)
    res = discrimination.compare_concordance(time, event, risk_a, risk_b)
    assert res["c_b"] == pytest.approx(c_z, abs=1e-12)
    assert res["var_diff"] == pytest.approx(var_diff, abs=1e-12)


def test_compare_concordance_matches_r_compareC():
    # R 3.4.4, compareC 1.3.2: compareC(c(50, 30, 20, 10, 10), c(1, 0, 1, 0, 1),
    #   c(0.2, 0.2, 0.1, 0.2, -0.3), c(0.3, 0, 0.1, -0.3, 0.5)) (higher score = longer life)
    res = discrimination.compare_concordance([50, 30, 20, 10, 10], [1, 0, 1, 0, 1],
                                 -np.array([0.2, 0.2, 0.1, 0.2, -0.3]),
                                 -np.array([0.3, 0.0, 0.1, -0.3, 0.5]))
    assert res["c_a"] == pytest.approx(1.0) and res["c_b"] == pytest.approx(1 / 6)
    assert res["var_diff"] == pytest.approx(0.04115226, abs=1e-8)
    assert res["z"] == pytest.approx(4.107919, abs=1e-6)
    assert res["p_value"] == pytest.approx(3.992397e-05, rel=1e-6)


def test_concordance_of_perfect_and_reversed_scores():
    time = np.arange(1.0, 11.0)
    event = np.ones(10, int)
    assert discrimination.concordance(time, event, -time)[0] == 1.0
    assert discrimination.concordance(time, event, time)[0] == 0.0
    assert discrimination.concordance(time, event, np.zeros(10))[0] == 0.5


def test_concordance_needs_comparable_pairs():
    with pytest.raises(InputError, match="no comparable pair"):
        discrimination.concordance([1, 2, 3, 4], [0, 0, 0, 0], [1, 2, 3, 4])



def test_harrell_c_is_the_estimate_of_concordance_and_nan_without_pairs():
    x, time, event, _ = weibull_data(n=40, ties=True)
    risk = np.round(x[:, 0], 1)
    assert discrimination.harrell_c(time, event, risk) == pytest.approx(
        discrimination.concordance(time, event, risk)[0], abs=1e-12)
    assert np.isnan(discrimination.harrell_c([1, 2, 3], [0, 0, 0], [1, 2, 3]))

# ------------------------------------------------------------ td-AUC

def naive_auc(time, event, marker, t):
    km = sv.kaplan_meier(time, 1 - event)

    def g_left(s):
        before = km["time"] < s
        return km["survival"][before].iloc[-1] if before.any() else 1.0

    num = den = 0.0
    for i in range(len(time)):
        if time[i] <= t and event[i] == 1:
            w = 1 / g_left(time[i])
            for j in range(len(time)):
                if time[j] > t:
                    num += w * ((marker[i] > marker[j]) + 0.5 * (marker[i] == marker[j]))
                    den += w
    return num / den


def test_cumulative_dynamic_auc_matches_definition():
    x, time, event, _ = weibull_data(n=80, ties=True)
    marker = np.round(x[:, 0], 1)
    times = [10, 20, 40]
    got = discrimination.cumulative_dynamic_auc(time, event, marker, times)
    want = [naive_auc(time, event, marker, t) for t in times]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert np.isnan(discrimination.cumulative_dynamic_auc(time, event, marker, [1e6])[0])
