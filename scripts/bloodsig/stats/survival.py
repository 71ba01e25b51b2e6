"""Survival statistics: data checks, Kaplan-Meier, log-rank, Cox, C-index, time-dependent AUC.

Each function follows a published estimator and is vectorised:

- `kaplan_meier`, `km_median`: the product-limit estimator and its median as R's survfit;
- `logrank`: the two-group log-rank test (R's survdiff, rho = 0) for many groupings at once;
- `cox_fit`: the Cox proportional-hazards model by Newton-Raphson on the partial likelihood
  with Breslow or Efron ties (R's coxph; same coefficients, standard errors and log-likelihood);
- `concordance`, `compare_concordance`: Harrell's C with the U-statistic variance of Kang,
  Chen, Petrick & Gallas (Stat Med 2015), and their test of two correlated C-indices (R's
  compareC); C equals R's survival::concordance;
- `cumulative_dynamic_auc`: cumulative/dynamic time-dependent AUC with inverse probability of
  censoring weights (Uno 2007, Blanche 2013; R's timeROC, marginal Kaplan-Meier weights).

Times are positive numbers, events 0/1 (1 = death); `check_survival` refuses anything else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..core.errors import InputError


def check_survival(table: pd.DataFrame, time_column: str, event_column: str,
                   path=None) -> pd.DataFrame:
    """Rows of `table` with survival data, times and events checked.

    Rows missing the time or the event are left out (no survival data); a non-numeric,
    zero or negative time, an event other than 0/1, or no event at all raise InputError naming the
    file, the row (1-based, header = row 1) and the column.
    """
    for column in (time_column, event_column):
        if column not in table.columns:
            raise InputError("survival column is missing", path=path, column=column)
    time = pd.to_numeric(table[time_column], errors="coerce")
    event = pd.to_numeric(table[event_column], errors="coerce")
    for column, values in ((time_column, time), (event_column, event)):
        bad = values.isna() & table[column].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"'{table[column].iloc[i]}' is not a number", path=path,
                             row=i + 2, column=column)
    # A time of zero (death at onset) is a data-entry error here, not an observation.
    nonpositive = time <= 0
    if nonpositive.any():
        i = int(np.flatnonzero(nonpositive.to_numpy())[0])
        raise InputError(f"survival time {time.iloc[i]:g} is not positive", path=path,
                         row=i + 2, column=time_column)
    not01 = event.notna() & ~event.isin([0, 1])
    if not01.any():
        i = int(np.flatnonzero(not01.to_numpy())[0])
        raise InputError(f"event indicator {event.iloc[i]:g} is not 0 (censored) or 1 (death)",
                         path=path, row=i + 2, column=event_column)
    keep = (time.notna() & event.notna()).to_numpy()
    out = table.loc[keep].copy()
    out[time_column] = time[keep].astype(float)
    out[event_column] = event[keep].astype(np.int64)
    if len(out) == 0:
        raise InputError("no sample has survival data", path=path, column=time_column)
    if out[event_column].sum() == 0:
        raise InputError(f"no events: all {len(out)} survival times are censored, so no "
                         "survival model can be fitted", path=path, column=event_column)
    return out


# ---------------------------------------------------------------- Kaplan-Meier, log-rank

def kaplan_meier(time, event) -> pd.DataFrame:
    """Product-limit estimate at each distinct time: n_risk, n_event, n_censor, survival."""
    time, event = np.asarray(time, float), np.asarray(event, int)
    ut, inv = np.unique(time, return_inverse=True)
    d = np.bincount(inv, weights=event, minlength=len(ut))
    c = np.bincount(inv, weights=1 - event, minlength=len(ut))
    n_risk = len(time) - np.concatenate([[0], np.cumsum(d + c)[:-1]])
    surv = np.cumprod(1 - d / n_risk)
    return pd.DataFrame({"time": ut, "n_risk": n_risk.astype(int), "n_event": d.astype(int),
                         "n_censor": c.astype(int), "survival": surv})


def km_median(time, event) -> float:
    """Median survival as R's survfit: the first time S(t) <= 0.5; when S is exactly 0.5 on
    an interval, the midpoint of that interval; NaN when S never reaches 0.5."""
    km = kaplan_meier(time, event)
    s, t = km["survival"].to_numpy(), km["time"].to_numpy()
    below = np.flatnonzero(s <= 0.5 + 1e-12)
    if len(below) == 0:
        return float("nan")
    k = below[0]
    if abs(s[k] - 0.5) < 1e-12:
        later = np.flatnonzero((np.arange(len(t)) > k) & (km["n_event"].to_numpy() > 0))
        return float((t[k] + t[later[0]]) / 2) if len(later) else float(t[k])
    return float(t[k])


def logrank(time, event, groups, chunk: int = 2000):
    """Two-group log-rank chi-square (1 df), p-value and observed minus expected deaths of
    the second group, for each column of `groups`.

    groups: boolean (n_samples x m) membership of the second group, one grouping per column
    (e.g. above-median expression of each gene). Follows R's survdiff: observed minus
    expected deaths of one group summed over death times, over its hypergeometric variance.
    """
    time, event = np.asarray(time, float), np.asarray(event, int)
    g = np.asarray(groups, dtype=bool)
    g = g[:, None] if g.ndim == 1 else g
    order = np.argsort(time, kind="stable")
    ts, es, g = time[order], event[order], g[order]
    ut, starts = np.unique(ts, return_index=True)
    deaths = np.add.reduceat(es, starts)
    at_risk = len(ts) - starts
    k = deaths > 0
    n_k, d_k = at_risk[k].astype(float), deaths[k].astype(float)
    frac_var = d_k * (n_k - d_k) / np.maximum(n_k - 1, 1)
    chisq, o_e = np.empty(g.shape[1]), np.empty(g.shape[1])
    for lo in range(0, g.shape[1], chunk):
        gi = g[:, lo:lo + chunk].astype(float)
        n1 = np.cumsum(gi[::-1], axis=0)[::-1][starts][k]
        d1 = np.add.reduceat(gi * es[:, None], starts, axis=0)[k]
        p1 = n1 / n_k[:, None]
        diff = (d1 - d_k[:, None] * p1).sum(axis=0)
        var = (frac_var[:, None] * p1 * (1 - p1)).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            chisq[lo:lo + chunk] = np.where(var > 0, diff ** 2 / var, 0.0)
        o_e[lo:lo + chunk] = diff
    return chisq, stats.chi2.sf(chisq, 1), o_e


def pairwise_logrank(time, event, labels) -> pd.DataFrame:
    """Log-rank test between every pair of the groups in `labels` (in first-seen order)."""
    labels = np.asarray(labels)
    levels = list(dict.fromkeys(labels.tolist()))
    time, event = np.asarray(time, float), np.asarray(event, int)
    rows = []
    for i, a in enumerate(levels):
        for b in levels[i + 1:]:
            sel = (labels == a) | (labels == b)
            chisq, p, _ = logrank(time[sel], event[sel], labels[sel] == b)
            rows.append((a, b, float(chisq[0]), float(p[0])))
    return pd.DataFrame(rows, columns=["group_a", "group_b", "chisq", "p_value"])


# ------------------------------------------------------------------------------- Cox

@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox model: coefficients, standard errors, log-likelihoods and AIC."""

    names: list[str]
    coef: np.ndarray
    se: np.ndarray
    loglik: float       # at the estimate
    loglik_null: float  # at beta = 0
    n_iter: int
    ties: str

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * len(self.coef)

    def table(self) -> pd.DataFrame:
        z = self.coef / self.se
        return pd.DataFrame({"term": self.names, "coef": self.coef,
                             "hazard_ratio": np.exp(self.coef), "se": self.se, "z": z,
                             "p_value": 2 * stats.norm.sf(np.abs(z))})

    def predict(self, X) -> np.ndarray:
        """Linear predictor X beta (the log relative hazard, up to a constant)."""
        return np.asarray(X, float) @ self.coef


class CoxData:
    """Times and events sorted once, so that many Cox models on them fit quickly."""

    def __init__(self, time, event):
        time, event = np.asarray(time, float), np.asarray(event, int)
        self.order = np.argsort(time, kind="stable")
        self.event = event[self.order].astype(float)
        _, self.starts = np.unique(time[self.order], return_index=True)
        d = np.add.reduceat(self.event, self.starts)
        self.death_blocks = np.flatnonzero(d > 0)
        self.d = d[self.death_blocks]
        self.n = len(time)
        pos = np.arange(self.n)
        # For each sorted sample: the last death time at or before it (its risk sets are
        # those of every death time up to there; -1 if none) and, for a death, the index of
        # its own death time (-1 otherwise).
        self.last_death = np.searchsorted(self.starts[self.death_blocks], pos, side="right") - 1
        own = np.searchsorted(self.starts, pos, side="right") - 1
        k = np.clip(np.searchsorted(self.death_blocks, own), 0, len(self.death_blocks) - 1)
        hit = (self.death_blocks[k] == own) & (self.event > 0)
        self.own_death = np.where(hit, k, -1)

    def derivatives(self, X: np.ndarray, beta: np.ndarray, ties: str):
        """Partial log-likelihood, score and information at beta (X sorted, centred).

        The information's sum over death times of risk-set second moments is rewritten as
        one weighted cross-product X' diag(w c) X, c_j summing 1/denominator over the death
        times whose risk set holds j, so no n x p x p array is ever formed.
        """
        eta = X @ beta
        shift = eta.max() if len(eta) else 0.0
        w = np.exp(eta - shift)
        sb, db = self.starts[self.death_blocks], self.death_blocks
        e = self.event

        def risk(a):
            return np.cumsum(a[::-1], axis=0)[::-1][sb]

        def deaths(a):
            return np.add.reduceat(a * (e if a.ndim == 1 else e[:, None]), self.starts,
                                   axis=0)[db]

        wx = w[:, None] * X
        s0, s1, d0, d1 = risk(w), risk(wx), deaths(w), deaths(wx)
        loglik = float(deaths(eta).sum())
        score = deaths(X).sum(axis=0)
        inv_den = np.zeros(len(sb))    # sum over l of 1 / denominator, per death time
        a_inv_den = np.zeros(len(sb))  # sum over l of a_l / denominator (Efron's deaths)
        means = []
        for ell in range(int(self.d.max())):
            m = ell < self.d
            a = (ell / self.d[m]) if ties == "efron" else np.zeros(m.sum())
            den = s0[m] - a * d0[m]
            mean = (s1[m] - a[:, None] * d1[m]) / den[:, None]
            loglik -= float(np.sum(np.log(den) + shift))
            score -= mean.sum(axis=0)
            inv_den[m] += 1 / den
            a_inv_den[m] += a / den
            means.append(mean)
        means = np.vstack(means)
        c = np.where(self.last_death >= 0, np.cumsum(inv_den)[self.last_death], 0.0)
        c -= np.where(self.own_death >= 0, a_inv_den[self.own_death], 0.0)
        info = (X * (w * c)[:, None]).T @ X - means.T @ means
        return loglik, score, info


def cox_fit(X, time=None, event=None, ties: str = "breslow", names=None, data: CoxData = None,
            init=None, max_iter: int = 50, tol: float = 1e-12) -> CoxFit:
    """Cox proportional-hazards fit by Newton-Raphson with step halving (as R's coxph).

    X: samples x covariates (array or DataFrame); ties: "breslow" or "efron" (R's default).
    Covariates are centred for the fit, which leaves coefficients unchanged. Iterates until
    the log-likelihood's relative change is below `tol`; SEs from the inverse information.
    """
    if ties not in ("breslow", "efron"):
        raise InputError(f"ties must be 'breslow' or 'efron', not '{ties}'")
    if names is None:
        names = list(X.columns) if isinstance(X, pd.DataFrame) else [
            f"x{i + 1}" for i in range(np.shape(X)[1])]
    data = data or CoxData(time, event)
    x = np.asarray(X, float)
    x = (x - x.mean(axis=0))[data.order]
    beta = np.zeros(x.shape[1]) if init is None else np.asarray(init, float).copy()
    loglik0 = data.derivatives(x[:, :0], np.zeros(0), ties)[0]
    loglik, score, info = data.derivatives(x, beta, ties)
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, score, rcond=None)[0]
        new = beta + step
        new_ll, new_score, new_info = data.derivatives(x, new, ties)
        halvings = 0
        while (not np.isfinite(new_ll) or new_ll < loglik - 1e-12) and halvings < 30:
            new = (beta + new) / 2
            new_ll, new_score, new_info = data.derivatives(x, new, ties)
            halvings += 1
        done = abs(new_ll - loglik) <= tol * max(abs(loglik), 1.0)
        beta, loglik, score, info = new, new_ll, new_score, new_info
        if done:
            break
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(info)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    return CoxFit(list(names), beta, se, loglik, loglik0, n_iter, ties)


# ------------------------------------------------------------------- concordance

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


# ------------------------------------------------------------ time-dependent AUC

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
