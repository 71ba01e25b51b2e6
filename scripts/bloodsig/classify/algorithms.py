"""The seven classifiers (penalised logistic regressions and XGBoost) and their comparison on one
patient-grouped split, each tuned by grouped CV on the training part.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import parallel_backend
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..stats import delong
from .features import (
    MIN_PER_CLASS,
    _class_counts,
    _groups,
    _too_few,
    grouped_folds,
    grouped_split,
    reliability,
)

log = logging.getLogger(__name__)


ALGORITHMS = ("ridge", "lasso", "elastic_net", "l1_2", "scad", "mcp", "xgboost")


SKLEARN_PENALTIES = ("ridge", "lasso")
# liblinear penalises the intercept as a weight on a constant feature of this value: at 1e4
# its penalty is alpha * |b| / 1e4, which leaves the optimum of the lasso objective (measured
# on the study-scale demo: the same objective to 1e-7 as an unpenalised intercept's solver)
LIBLINEAR = {"intercept_scaling": 1e4, "tol": 1e-8}
# the elastic net's prox-Newton stops when no optimality condition (subgradient of a gene,
# gradient of the intercept) is violated by more than tol; on the study's 2,369 genes a fit
# takes 8-15 working-set iterations (skglm's max_iter of 20 is too close), a 4-alpha path
# under 1 s
PROX_NEWTON = {"tol": 1e-8, "max_iter": 100}


@dataclass(frozen=True)
class XGBoostSettings:
    """XGBoost's parameters for every classifier of the stage (config `classify.xgboost`)."""

    n_estimators: int
    learning_rate: float  # eta
    max_depth: int
    reg_lambda: float
    reg_alpha: float
    max_bin: int  # histogram bins

    @classmethod
    def from_config(cls, xgboost: Mapping) -> XGBoostSettings:
        """From config `classify.xgboost` as the schema fills it (or a saved model's
        preprocessing.json)."""
        return cls(n_estimators=xgboost["n_estimators"], learning_rate=xgboost["learning_rate"],
                   max_depth=xgboost["max_depth"], reg_lambda=xgboost["reg_lambda"],
                   reg_alpha=xgboost["reg_alpha"], max_bin=xgboost["max_bin"])


@dataclass(frozen=True)
class CompareSettings:
    """`compare_algorithms`' settings (config `classify.compare`)."""

    filter: str  # the DEG filter whose genes the classifiers use
    test_fraction: float  # of the patients, held out
    cv_folds: int  # tuning folds of the training part
    alphas: dict[str, list[float]]  # penalised algorithm -> its alpha grid
    l1_ratio: float  # elastic net
    scad_gamma: float
    mcp_gamma: float
    xgboost_max_depth: list[int]  # XGBoost's grid

    @classmethod
    def from_config(cls, compare: Mapping) -> CompareSettings:
        return cls(filter=compare["filter"], test_fraction=compare["test_fraction"],
                   cv_folds=compare["cv_folds"],
                   alphas={k: list(v) for k, v in compare["alphas"].items()},
                   l1_ratio=compare["l1_ratio"], scad_gamma=compare["scad_gamma"],
                   mcp_gamma=compare["mcp_gamma"],
                   xgboost_max_depth=list(compare["xgboost_max_depth"]))


def xgb_classifier(params: XGBoostSettings, seed: int):
    """XGBoost (Chen & Guestrin 2016) with `params`, histogram trees.

    One thread per model: the stage runs models side by side instead (`_map`), because
    XGBoost's OpenMP threads busy-wait and slow down tenfold on a shared, busy machine.
    """
    from xgboost import XGBClassifier

    return XGBClassifier(**dataclasses.asdict(params), tree_method="hist", random_state=seed,
                         n_jobs=1, eval_metric="logloss")


def _map(fn, items, n_jobs: int) -> list:
    """fn over items on n_jobs threads, results in input order (XGBoost and BLAS release
    the GIL while they work)."""
    items = list(items)
    if n_jobs <= 1 or len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        return list(pool.map(fn, items))


class PenalisedLogistic(ClassifierMixin, BaseEstimator):
    """Penalised logistic regression: mean log-loss + alpha * penalty.

    ridge, lasso: scikit-learn LogisticRegression with C = 1 / (alpha n): ridge by lbfgs;
    lasso by liblinear's coordinate descent (on correlated genes a hundred times faster than
    saga, and closer to the optimum), its intercept scaled so that liblinear's penalty on it
    is negligible; liblinear visits genes in a random order (`seed` fixes it). elastic_net,
    alpha * (l1_ratio |b|_1 + (1 - l1_ratio) / 2 |b|_2^2) as in scikit-learn and glmnet:
    skglm's prox-Newton (`PROX_NEWTON`), Newton steps solved by coordinate descent on working
    sets of genes, as glmnet does; saga took ~30 s per 4-alpha path on the study's 2,369
    genes and stopped ~1e-3 (relative) above the optimum, which prox-Newton reaches in
    under 1 s. mcp (Zhang 2010), scad (Fan & Li 2001) and l1_2 (L1/2, Xu et al. 2012): skglm's
    coordinate descent (Bertrand et al. 2022) to `tol`; L1/2 needs its fix-point working sets.
    `init`, a fitted PenalisedLogistic, starts skglm from its solution (a warm start along a
    path of penalties: the same optimum in fewer passes).
    """

    def __init__(self, penalty: str = "mcp", alpha: float = 0.01, gamma: float = 3.0,
                 l1_ratio: float = 0.5, tol: float = 1e-4, max_iter: int = 5000,
                 seed: int = 0):
        self.penalty, self.alpha, self.gamma = penalty, alpha, gamma
        self.l1_ratio, self.tol, self.max_iter, self.seed = l1_ratio, tol, max_iter, seed

    def fit(self, X, y, init: PenalisedLogistic | None = None):
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        self.classes_ = np.unique(y)
        if self.penalty in SKLEARN_PENALTIES:
            lasso = self.penalty == "lasso"
            est = LogisticRegression(C=1.0 / (self.alpha * len(y)), l1_ratio=float(lasso),
                                     solver="liblinear" if lasso else "lbfgs",
                                     max_iter=self.max_iter, random_state=self.seed,
                                     **LIBLINEAR if lasso else {"tol": self.tol})
            est.fit(X, y)
            self.coef_, self.intercept_ = est.coef_.ravel(), float(est.intercept_[0])
            return self
        from skglm import GeneralizedLinearEstimator
        from skglm.datafits import Logistic
        from skglm.penalties import L0_5, SCAD, L1_plus_L2, MCPenalty
        from skglm.solvers import AndersonCD, ProxNewton

        penalty = {"mcp": lambda: MCPenalty(self.alpha, self.gamma),
                   "scad": lambda: SCAD(self.alpha, self.gamma),
                   "l1_2": lambda: L0_5(self.alpha),
                   "elastic_net": lambda: L1_plus_L2(self.alpha, self.l1_ratio)}[self.penalty]()
        if self.penalty == "elastic_net":
            solver = ProxNewton(fit_intercept=True, warm_start=init is not None, **PROX_NEWTON)
            X = np.asfortranarray(X)  # its coordinate updates read genes' columns: 2x faster
        else:
            solver = AndersonCD(tol=self.tol, fit_intercept=True, warm_start=init is not None,
                                ws_strategy="fixpoint" if self.penalty == "l1_2" else "subdiff")
        est = GeneralizedLinearEstimator(Logistic(), penalty, solver)
        if init is not None:
            est.coef_, est.intercept_ = init.coef_[None, :].copy(), np.array([init.intercept_])
        est.fit(X, np.where(y == self.classes_[-1], 1.0, -1.0))
        self.coef_, self.intercept_ = np.ravel(est.coef_), float(np.ravel(est.intercept_)[0])
        return self

    def decision_function(self, X):
        return np.asarray(X, dtype=float) @ self.coef_ + self.intercept_

    def predict_proba(self, X):
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def _gain(model, n_features: int) -> np.ndarray:
    """Total gain per feature, normalised to sum 1 (R xgb.importance's Gain); unused -> 0."""
    score = model.get_booster().get_score(importance_type="total_gain")
    gain = np.zeros(n_features)
    for key, value in score.items():
        gain[int(key[1:])] = value
    total = gain.sum()
    return gain / total if total > 0 else gain


@dataclass(frozen=True)
class Comparison:
    table: pd.DataFrame        # algorithm, best parameters, test AUC with DeLong CI and test
    roc: pd.DataFrame          # algorithm, fpr, tpr on the test part
    test_scores: pd.DataFrame  # sample_id, patient, label, test probabilities per algorithm
    grouping: pd.DataFrame     # best algorithm's test AUC with the split by patient and without


@dataclass(frozen=True)
class Search:
    """A tuned algorithm: its model refitted on the whole training part, the chosen
    parameters and their mean CV AUC."""

    best_estimator_: object
    best_params_: dict
    best_score_: float


def _tune(name: str, xtr: np.ndarray, ytr: np.ndarray, cv: list, settings: CompareSettings,
          xgb_params: XGBoostSettings, seed: int, n_jobs: int) -> Search:
    """One algorithm tuned by CV AUC over the given folds (refit on the whole training part).

    A penalised model's alphas are fitted as a path in each fold, from the strongest penalty
    down, each skglm fit warm-started from the previous solution (as glmnet does). Ties go to
    the grid's first value.
    """
    if name == "xgboost":
        with parallel_backend("threading", n_jobs=n_jobs):
            search = GridSearchCV(xgb_classifier(xgb_params, seed),
                                  {"max_depth": settings.xgboost_max_depth}, scoring="roc_auc",
                                  cv=cv, refit=True, n_jobs=n_jobs).fit(xtr, ytr)
        return Search(search.best_estimator_, search.best_params_, search.best_score_)
    grid = list(settings.alphas[name])
    path = sorted(set(grid), reverse=True)

    def fit_path(x: np.ndarray, yy: np.ndarray, alphas: list) -> list:
        est, fits = None, []
        for alpha in alphas:
            est = _penalised(name, alpha, settings, seed).fit(x, yy, init=est)
            fits.append(est)
        return fits

    def fold(split):
        tr, te = split
        scaler = StandardScaler().fit(xtr[tr])
        fits = fit_path(scaler.transform(xtr[tr]), ytr[tr], path)
        test = scaler.transform(xtr[te])
        return [roc_auc_score(ytr[te], f.decision_function(test)) for f in fits]

    auc = dict(zip(path, np.mean(_map(fold, cv, n_jobs), axis=0), strict=True))
    best = max(grid, key=lambda a: (auc[a], -grid.index(a)))
    scaler = StandardScaler().fit(xtr)
    model = fit_path(scaler.transform(xtr), ytr, [a for a in path if a >= best])[-1]
    return Search(make_pipeline(scaler, model), {"alpha": best}, float(auc[best]))


def _penalised(name: str, alpha: float, settings: CompareSettings, seed: int
               ) -> PenalisedLogistic:
    gamma = {"scad": settings.scad_gamma, "mcp": settings.mcp_gamma}.get(name, 3.0)
    return PenalisedLogistic(name, alpha=alpha, gamma=gamma, l1_ratio=settings.l1_ratio,
                             seed=seed)


def _params(search: Search) -> str:
    return ", ".join(f"{k.split('__')[-1]}={v:g}" for k, v in search.best_params_.items())


def compare_algorithms(X: pd.DataFrame, y: pd.Series, settings: CompareSettings,
                       xgb_params: XGBoostSettings, seed: int, n_jobs: int = 1,
                       groups: pd.Series | None = None) -> Comparison:
    """Seven classifiers on one stratified split by patient (`grouped_split`), tuned by k-fold
    CV AUC by patient (`grouped_folds`) on its training part.

    settings: test_fraction, cv_folds, alphas per penalised algorithm, l1_ratio, scad_gamma,
    mcp_gamma, xgboost_max_depth grid. The best test AUC is
    compared with each other by the paired DeLong test. groups: patient per sample (None:
    one sample each). `grouping` repeats the best algorithm's tuning and test on a split of
    samples that ignores patients (split and tuning folds), beside the grouped result, with
    the number of test samples whose patient also has a training sample: the optimism of a
    split that lets a patient's repeat samples straddle it.
    """
    g = _groups(y, groups)
    if min(_class_counts(y, g)) < MIN_PER_CLASS + 1:
        raise _too_few("compare", y, g, f"a held-out test part needs at least 1 patient of "
                       f"each class and its training part {MIN_PER_CLASS} for the tuning "
                       f"folds: at least {MIN_PER_CLASS + 1} of each")
    train, test = grouped_split(y, g, settings.test_fraction, seed)
    xtr, xte = X.to_numpy()[train], X.to_numpy()[test]
    ytr, yte = y.to_numpy()[train], y.to_numpy()[test]
    cv = grouped_folds(y.iloc[train], g.iloc[train], settings.cv_folds, seed,
                       "compare (tuning folds of the training part)")
    scores, params = {}, {}
    for name in ALGORITHMS:
        search = _tune(name, xtr, ytr, cv, settings, xgb_params, seed, n_jobs)
        scores[name] = search.best_estimator_.predict_proba(xte)[:, 1]
        params[name] = _params(search)
        log.info("%s: %s, CV AUC %.3f", name, params[name], search.best_score_)
    rows, curves = [], []
    cis = {name: delong.auc_ci(yte, s) for name, s in scores.items()}
    best = max(ALGORITHMS, key=lambda a: (cis[a].auc, -ALGORITHMS.index(a)))
    caveat = reliability(len(test), X.shape[1])
    for name in ALGORITHMS:
        z, p = (np.nan, np.nan) if name == best else delong.delong_test(yte, scores[best],
                                                                         scores[name])
        ci = cis[name]
        rows.append({"algorithm": name, "parameters": params[name], "n_train": len(train),
                     "n_test": len(test), "n_test_cases": int(yte.sum()),
                     "n_test_controls": int((yte == 0).sum()), "n_genes": X.shape[1],
                     "test_auc": ci.auc, "ci_low": ci.ci_low,
                     "ci_high": ci.ci_high, "best": name == best, "delong_z_vs_best": z,
                     "delong_p_vs_best": p, "reliability": caveat})
        fpr, tpr, _ = roc_curve(yte, scores[name])
        curves.append(pd.DataFrame({"algorithm": name, "fpr": fpr, "tpr": tpr}))
    test_scores = pd.DataFrame({"sample_id": X.index[test], "patient": g.iloc[test].to_numpy(),
                                "label": yte, **scores})
    grouped = {"split": "by patient", "algorithm": best, "parameters": params[best],
               "n_train": len(train), "n_test": len(test), "test_auc": cis[best].auc,
               "ci_low": cis[best].ci_low, "ci_high": cis[best].ci_high,
               "test_samples_with_patient_in_train": _straddling(g, train, test)}
    grouping = pd.DataFrame([grouped, _ungrouped(X, y, g, best, settings, xgb_params, seed,
                                                 n_jobs)])
    grouping["reliability"] = [reliability(n, X.shape[1]) for n in grouping["n_test"]]
    return Comparison(pd.DataFrame(rows), pd.concat(curves, ignore_index=True), test_scores,
                      grouping)


def _straddling(g: pd.Series, train: np.ndarray, test: np.ndarray) -> int:
    """Test samples whose patient also has a sample in the training part."""
    return int(g.iloc[test].isin(set(g.iloc[train])).sum())


def _ungrouped(X: pd.DataFrame, y: pd.Series, g: pd.Series, name: str,
               settings: CompareSettings, xgb_params: XGBoostSettings, seed: int,
               n_jobs: int) -> dict:
    """`name` tuned and tested as if every sample were its own patient (the leaky split)."""
    train, test = grouped_split(y, None, settings.test_fraction, seed)
    cv = grouped_folds(y.iloc[train], None, settings.cv_folds, seed,
                       "compare (ungrouped tuning folds)")
    x, yy = X.to_numpy(), y.to_numpy()
    search = _tune(name, x[train], yy[train], cv, settings, xgb_params, seed, n_jobs)
    ci = delong.auc_ci(yy[test], search.best_estimator_.predict_proba(x[test])[:, 1])
    leaky = _straddling(g, train, test)
    log.info("%s: test AUC %.3f with a split that ignores patients (%d test samples have "
             "their patient in the training part)", name, ci.auc, leaky)
    return {"split": "ignoring patients", "algorithm": name, "parameters": _params(search),
            "n_train": len(train), "n_test": len(test), "test_auc": ci.auc,
            "ci_low": ci.ci_low, "ci_high": ci.ci_high,
            "test_samples_with_patient_in_train": leaky}
