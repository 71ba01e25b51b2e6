"""ROC AUC with DeLong's variance, confidence interval and paired test.

DeLong, DeLong & Clarke-Pearson (1988) estimate the covariance of correlated AUCs from the
structural components V10 (one per case) and V01 (one per control); Sun & Xu (2014, IEEE
Signal Processing Letters 21:1389) compute them in O(n log n) from three mid-rankings per
classifier instead of comparing every case with every control. Conventions follow R pROC
(`ci.auc(method="delong")`, `roc.test(method="delong", paired=TRUE)` with direction "<"):
AUC = P(score of a case > score of a control) + P(tie)/2, variances with n - 1
denominators, Wald interval clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


def _labels(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be a 1-d array of 0 (control) and 1 (case)")
    if y.sum() < 2 or (1 - y).sum() < 2:
        raise ValueError("DeLong needs at least two cases and two controls")
    return y.astype(bool)


def structural_components(y, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs (k,), V10 (k x cases) and V01 (k x controls) of k score vectors (Sun & Xu 2014).

    scores: (n,) or (k, n). With midranks Tz over all samples, Tx within cases and Ty within
    controls: V10 = (Tz[cases] - Tx) / n_controls, V01 = 1 - (Tz[controls] - Ty) / n_cases,
    AUC = mean(V10).
    """
    case = _labels(y)
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    if s.shape[1] != case.size:
        raise ValueError("scores and labels differ in length")
    x, z = s[:, case], s[:, ~case]
    m, n = x.shape[1], z.shape[1]
    tx = stats.rankdata(x, axis=1)
    ty = stats.rankdata(z, axis=1)
    tz = stats.rankdata(np.concatenate([x, z], axis=1), axis=1)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return v10.mean(axis=1), v10, v01


def delong_covariance(y, scores) -> tuple[np.ndarray, np.ndarray]:
    """AUCs (k,) and their DeLong covariance matrix (k x k): S10/m + S01/n."""
    auc, v10, v01 = structural_components(y, scores)
    s10 = np.atleast_2d(np.cov(v10))
    s01 = np.atleast_2d(np.cov(v01))
    return auc, s10 / v10.shape[1] + s01 / v01.shape[1]


@dataclass(frozen=True)
class AUC:
    auc: float
    se: float
    ci_low: float
    ci_high: float


def auc_ci(y, score, level: float = 0.95) -> AUC:
    """AUC with DeLong standard error and Wald interval clipped to [0, 1] (pROC ci.auc)."""
    auc, cov = delong_covariance(y, score)
    se = float(np.sqrt(max(cov[0, 0], 0.0)))
    q = stats.norm.ppf(0.5 + level / 2)
    return AUC(float(auc[0]), se, max(0.0, auc[0] - q * se), min(1.0, auc[0] + q * se))


def delong_test(y, score1, score2) -> tuple[float, float]:
    """Paired DeLong test of two AUCs on the same samples: z statistic and two-sided p.

    z = (AUC1 - AUC2) / sqrt(var1 + var2 - 2 cov12), as pROC roc.test(method="delong").
    Identical scores (zero variance of the difference) give z = 0, p = 1.
    """
    auc, cov = delong_covariance(y, np.vstack([score1, score2]))
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    if var <= 1e-15 * max(cov[0, 0] + cov[1, 1], 1e-300):
        return 0.0, 1.0
    z = float((auc[0] - auc[1]) / np.sqrt(var))
    return z, float(2 * stats.norm.sf(abs(z)))
