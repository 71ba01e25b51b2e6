"""How well a risk score separates survival: Harrell's C with Kang et al. (2015)'s standard
error and test of two correlated C-indices (R compareC), and the cumulative/dynamic
time-dependent AUC with IPCW weights (Blanche et al. 2013, R timeROC).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..core.errors import InputError
from .survival import kaplan_meier


def _csign(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """compareC's pair sign: +1 when j is known to fail before i, -1 when i before j.

    Pairs with tied times count when exactly one of them is a death (the death first)."""
    ti, tj = time[:, None], time[None, :]
    ei, ej = event[:, None], event[None, :]
    return (ti > tj) * ej - (ti < tj) * ei + (ti == tj) * (ej - ei)


def harrell_c(time, event, risk) -> float:
    """Harrell's C of a risk score (higher = shorter survival), without its SE: the cheap form
    for many fits (CV folds, splits). Ties in the score count one half; pairs with tied times
    count when one is a death; NaN when no pair is comparable."""
    a = _csign(np.asarray(time, float), np.asarray(event, float))
    r = np.asarray(risk, float)
    comparable = (a * a).sum()
    if comparable == 0:
        return float("nan")
    return float((1 + (a * np.sign(r[None, :] - r[:, None])).sum() / comparable) / 2)


def _u_cov(m: np.ndarray, k: np.ndarray) -> float:
    """Covariance of two U-statistics with kernels m, k (n x n, zero diagonal), Kang 2015."""
    n = m.shape[0]
    rm, rk = m.sum(axis=1), k.sum(axis=1)
    s = (4 * rm @ rk - 2 * np.sum(m * k)
         - 2 * (2 * n - 3) * rm.sum() * rk.sum() / (n * (n - 1)))
    return float(s / (n * (n - 1) * (n - 2) * (n - 3)))


def _c_parts(time, event, risks):
    time, event = np.asarray(time, float), np.asarray(event, float)
    n = len(time)
    if n < 4:
        raise InputError(f"the C-index variance needs at least 4 samples, got {n}")
    a = _csign(time, event)
    aa = a * a
    # Higher risk means shorter survival: compare -risk with longer time.
    ab = [a * np.sign(-(r[:, None] - r[None, :])) for r in (np.asarray(x, float)
                                                             for x in risks)]
    t11 = aa.sum() / (n * (n - 1))
    if t11 == 0:
        raise InputError("no comparable pair of samples (no death before another time)")
    t1 = [m.sum() / (n * (n - 1)) for m in ab]
    return aa, ab, t11, t1


def concordance(time, event, risk) -> tuple[float, float]:
    """Harrell's C of a risk score (higher = shorter survival) and its standard error.

    Ties in the score count one half; pairs with tied times count when one is a death.
    The SE is Kang et al. (2015)'s U-statistic (delta-method) estimate, as R's compareC.
    """
    aa, (ab,), t11, (t12,) = _c_parts(time, event, [risk])
    grad = np.array([1 / t11, -t12 / t11 ** 2])
    cov = np.array([[_u_cov(ab, ab), _u_cov(aa, ab)], [_u_cov(aa, ab), _u_cov(aa, aa)]])
    var = grad @ cov @ grad / 4
    return float((1 + t12 / t11) / 2), float(np.sqrt(max(var, 0.0)))


def compare_concordance(time, event, risk_a, risk_b) -> dict:
    """Test of two correlated C-indices on the same samples (Kang et al. 2015; R compareC).

    Returns c_a, c_b, diff (c_a - c_b), var_diff, z and the two-sided p-value.
    """
    aa, (ab, ac), t11, (t12, t13) = _c_parts(time, event, [risk_a, risk_b])
    v11, c_1112, c_1113 = _u_cov(aa, aa), _u_cov(aa, ab), _u_cov(aa, ac)
    g2 = np.array([1 / t11, -t12 / t11 ** 2])
    g3 = np.array([1 / t11, -t13 / t11 ** 2])
    var_a = g2 @ np.array([[_u_cov(ab, ab), c_1112], [c_1112, v11]]) @ g2 / 4
    var_b = g3 @ np.array([[_u_cov(ac, ac), c_1113], [c_1113, v11]]) @ g3 / 4
    cov = g2 @ np.array([[_u_cov(ab, ac), c_1112], [c_1113, v11]]) @ g3 / 4
    c_a, c_b = (1 + t12 / t11) / 2, (1 + t13 / t11) / 2
    var_diff = float(var_a + var_b - 2 * cov)
    z = (c_a - c_b) / np.sqrt(var_diff) if var_diff > 0 else np.nan
    return {"c_a": float(c_a), "c_b": float(c_b), "diff": float(c_a - c_b),
            "var_diff": var_diff, "z": float(z),
            "p_value": float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else np.nan}


def _censoring_survival(time, event, at, left: bool) -> np.ndarray:
    """Kaplan-Meier survival of the censoring time, G(at) or its left limit G(at-)."""
    km = kaplan_meier(time, 1 - np.asarray(event, int))
    t, s = km["time"].to_numpy(), km["survival"].to_numpy()
    idx = np.searchsorted(t, np.asarray(at, float), side="left" if left else "right") - 1
    return np.where(idx >= 0, s[np.clip(idx, 0, None)], 1.0)


def cumulative_dynamic_auc(time, event, marker, times) -> np.ndarray:
    """Cumulative/dynamic AUC(t) of a marker (higher = shorter survival) at each of `times`.

    Cases at t: deaths by t, weighted 1/G(T_i-); controls: still at risk after t, weighted
    1/G(t) (which cancels); G is the Kaplan-Meier survival of the censoring times of the same
    data (Uno et al. 2007; Blanche et al. 2013, R's timeROC with marginal weights). Ties in
    the marker count one half. NaN at times without a case or a control.
    """
    time, event = np.asarray(time, float), np.asarray(event, int)
    m = np.asarray(marker, float)
    w_case = 1.0 / _censoring_survival(time, event, time, left=True)
    out = np.full(len(times), np.nan)
    for k, t in enumerate(np.asarray(times, float)):
        cases = (time <= t) & (event == 1)
        controls = time > t
        if not cases.any() or not controls.any():
            continue
        cm = np.sort(m[controls])
        below = np.searchsorted(cm, m[cases], side="left")
        equal = np.searchsorted(cm, m[cases], side="right") - below
        frac = (below + 0.5 * equal) / len(cm)
        wc = w_case[cases]
        out[k] = float(np.sum(wc * frac) / np.sum(wc))
    return out
