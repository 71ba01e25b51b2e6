"""Survival statistics: data checks, Kaplan-Meier, log-rank and Cox (how well a risk score
discriminates, C-index and td-AUC, is in bloodsig.stats.discrimination).

Each function follows a published estimator and is vectorised:

- `kaplan_meier`, `km_median`: the product-limit estimator and its median as R's survfit;
- `logrank`: the two-group log-rank test (R's survdiff, rho = 0) for many groupings at once;
- `cox_fit`: the Cox proportional-hazards model by Newton-Raphson on the partial likelihood
  with Breslow or Efron ties (R's coxph; same coefficients, standard errors and log-likelihood);
- `km_curve`: the Kaplan-Meier curve of a figure with its confidence band, by lifelines.

lifelines serves where one fit is made at a time (the risk-group curves). The in-house code
stays where lifelines does not fit: the log-rank screen tests every gene's median split in
one matrix product (lifelines tests one grouping per call, ~20,000 calls); every Cox fit
(stepwise selection, final models, splits) needs the study's Breslow ties, which lifelines'
CoxPHFitter lacks (Efron only), and stepwise selection and the splits fit hundreds of models;
`km_median` follows R's midpoint rule, which lifelines' median does not; the IPCW weights of the
td-AUC re-estimate the censoring curve inside every split. Both kinds are checked against R
survival in tests/validation/test_survival_vs_r.py.

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


def km_curve(time, event, conf_level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier curve from time 0 at each distinct time: n_risk, n_event, n_censor,
    survival and its pointwise confidence band on the log(-log) scale (Greenwood variance), as
    R's survfit(conf.type = "log-log"); the band is NaN where it is undefined (S = 1 or 0)."""
    # lifelines takes seconds to import, and only the figures need it.
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter(alpha=1 - conf_level).fit(np.asarray(time, float),
                                                     np.asarray(event, int))
    tab = km.event_table
    surv = km.survival_function_.iloc[:, 0].to_numpy()
    band = km.confidence_interval_survival_function_.to_numpy()
    defined = (surv > 0) & (surv < 1)
    return pd.DataFrame({"time": tab.index.to_numpy(float), "n_risk": tab["at_risk"].to_numpy(),
                         "n_event": tab["observed"].to_numpy(),
                         "n_censor": tab["censored"].to_numpy(), "survival": surv,
                         "lower": np.where(defined, band[:, 0], np.nan),
                         "upper": np.where(defined, band[:, 1], np.nan)})


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

    def _risk(self, a: np.ndarray) -> np.ndarray:
        """Sum of a (one column or many) over each death time's risk set."""
        return np.cumsum(a[::-1], axis=0)[::-1][self.starts[self.death_blocks]]

    def _deaths(self, a: np.ndarray) -> np.ndarray:
        """Sum of a (one column or many) over each death time's deaths."""
        e = self.event if a.ndim == 1 else self.event[:, None]
        return np.add.reduceat(a * e, self.starts, axis=0)[self.death_blocks]

    def _denominators(self, w: np.ndarray, ties: str) -> list:
        """Per tied-death rank ell: the death times with more than ell deaths, their Efron
        weights a (0 for Breslow) and the partial likelihood's denominators (w: the risk
        weights exp(eta), one column or one per model)."""
        s0, d0 = self._risk(w), self._deaths(w)
        terms = []
        for ell in range(int(self.d.max())):
            m = ell < self.d
            a = (ell / self.d[m]) if ties == "efron" else np.zeros(m.sum())
            terms.append((m, a, s0[m] - (a if w.ndim == 1 else a[:, None]) * d0[m]))
        return terms

    def _means(self, wx: np.ndarray, terms: list) -> np.ndarray:
        """Risk-set means of the columns of X (wx = w X), one row per (ell, death time)."""
        s1, d1 = self._risk(wx), self._deaths(wx)
        return np.vstack([(s1[m] - a[:, None] * d1[m]) / den[:, None] for m, a, den in terms])

    def _sample_weights(self, terms: list) -> np.ndarray:
        """c_j: the sum of 1/denominator over the death times whose risk set holds sample j
        (less Efron's share where j is one of the deaths)."""
        inv_den = np.zeros(len(self.d))    # sum over ell of 1 / denominator, per death time
        a_inv_den = np.zeros(len(self.d))  # sum over ell of a / denominator (Efron's deaths)
        for m, a, den in terms:
            inv_den[m] += 1 / den
            a_inv_den[m] += a / den
        c = np.where(self.last_death >= 0, np.cumsum(inv_den)[self.last_death], 0.0)
        return c - np.where(self.own_death >= 0, a_inv_den[self.own_death], 0.0)

    def loglik(self, eta: np.ndarray, ties: str) -> np.ndarray:
        """Partial log-likelihood of each column of eta (samples sorted x models)."""
        shift = eta.max(axis=0)
        terms = self._denominators(np.exp(eta - shift), ties)
        return self._deaths(eta).sum(axis=0) - sum((np.log(den) + shift).sum(axis=0)
                                                   for _, _, den in terms)

    def derivatives(self, X: np.ndarray, beta: np.ndarray, ties: str):
        """Partial log-likelihood, score and information at beta (X sorted, centred).

        The information's sum over death times of risk-set second moments is rewritten as
        one weighted cross-product X' diag(w c) X, c_j summing 1/denominator over the death
        times whose risk set holds j, so no n x p x p array is ever formed.
        """
        eta = X @ beta
        shift = eta.max() if len(eta) else 0.0
        w = np.exp(eta - shift)
        terms = self._denominators(w, ties)
        loglik = float(self._deaths(eta).sum())
        for _, _, den in terms:
            loglik -= float(np.sum(np.log(den) + shift))
        means = self._means(w[:, None] * X, terms)
        score = self._deaths(X).sum(axis=0) - means.sum(axis=0)
        info = (X * (w * self._sample_weights(terms))[:, None]).T @ X - means.T @ means
        return loglik, score, info

    def one_step_adds(self, X: np.ndarray, beta: np.ndarray, Z: np.ndarray, ties: str
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Every model X + one column of Z, one Newton step from (beta, 0), at once.

        beta maximises the model on X (X, Z sorted, centred). Returns, per column of Z, the
        log-likelihood after that step and the score test's chi-square of the column. The
        models share the weights at (beta, 0), so each step comes from the information's
        shared X block by block elimination: O(n p) per candidate instead of a fit's
        O(n p^2) per iteration.
        """
        eta = X @ beta
        w = np.exp(eta - (eta.max() if len(eta) else 0.0))
        terms = self._denominators(w, ties)
        wc = w * self._sample_weights(terms)
        mx, mz = self._means(w[:, None] * X, terms), self._means(w[:, None] * Z, terms)
        ux = self._deaths(X).sum(axis=0) - mx.sum(axis=0)
        uz = self._deaths(Z).sum(axis=0) - mz.sum(axis=0)
        ixx = (X * wc[:, None]).T @ X - mx.T @ mx
        izx = (Z * wc[:, None]).T @ X - mz.T @ mx
        izz = (Z * Z * wc[:, None]).sum(axis=0) - (mz * mz).sum(axis=0)
        solved = np.linalg.lstsq(ixx, np.column_stack([ux, izx.T]), rcond=None)[0]
        step_x, along = solved[:, 0], solved[:, 1:]  # I_xx^-1 u_x, I_xx^-1 I_xz
        with np.errstate(divide="ignore", invalid="ignore"):
            schur = izz - (izx * along.T).sum(axis=1)
            step_z = (uz - izx @ step_x) / schur
            chisq = np.where(schur > 0, (uz - izx @ step_x) ** 2 / schur, np.inf)
        new_eta = X @ (beta[:, None] + step_x[:, None] - along * step_z) + Z * step_z
        return self.loglik(new_eta, ties), chisq

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
