"""Case-control classifiers and small XGBoost gene panels (the `classify` stage's library).

The reference study (2025 whole-blood ALS) compared seven classifiers on one split, built
XGBoost panels by recursive feature elimination (RFE) on the residual expression of the DEGs
and validated them on an external cohort. This module follows that design and fixes two
faults of the published code:

* importance is recomputed after every elimination step, as the mean normalised total gain
  of the CV-fold models (the published code ranked the genes once, with the importance of
  the last CV fold only);
* the panel AUC it reported was computed on the samples that chose the panel; `nested_cv`
  runs the whole selection inside each outer fold, so the honest estimate sits beside it.
  The DEG filters themselves come from the de stage on all samples: that (smaller)
  optimism is not removed.

Features are each cohort's expression standardised per gene within the cohort (z-scores):
trees only see the order within a gene, so this changes nothing for training, and it puts an
external cohort (other library preparation, other depth) on the discovery cohort's scale.
Samples are scored as a cohort, not one by one.

Patients, not samples, are the unit of every split: repeat samples of one patient (config
`samples.patient_column`) are always on one side of a fold or of the test split, as a model
that has seen a patient's other sample scores it too well. Small cohorts: every stratified CV
uses min(configured folds, patients of the smallest class) folds and says so; a class with
fewer than `MIN_PER_CLASS` patients is refused; tables carry a `reliability` column that
marks held-out sets of fewer than `MIN_TEST_N` samples and panels of at most
`MAX_SMALL_PANEL` genes.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import parallel_backend
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..core.cohort import read_samples
from ..core.errors import InputError
from ..core.io import atomic_path, read_tsv
from ..stats import delong
from ..stats.limma import remove_batch_effect
from ..stats.normalize import calc_norm_factors, log2cpm_voom

log = logging.getLogger(__name__)

ALGORITHMS = ("ridge", "lasso", "elastic_net", "l1_2", "scad", "mcp", "xgboost")
SKLEARN_PENALTIES = ("ridge", "lasso", "elastic_net")
ENSEMBLE, UNION = "ensemble", "union"
# Fewest patients of a class for any stratified split. With 2, a 2-fold split trains every
# model on a single case (or control) and scores a single one: each fold's AUC then rests on
# one sample, and a nested CV's inner folds cannot be split at all. With 3 or more, k = min(
# folds, n) gives every test fold a case and a control and every training part at least one
# of each (at k = n, n - 1 >= 2).
MIN_PER_CLASS = 3
MIN_TEST_N = 20       # held-out sets smaller than this are marked unreliable
MAX_SMALL_PANEL = 2   # panels of at most this many genes are marked unreliable


# ---------------------------------------------------------------- features and labels

def labels(samples: pd.DataFrame, sheet: dict, path=None) -> pd.Series:
    """1 for cases, 0 for controls (config `samples`), for the case and control samples only.

    Samples of a group listed in `samples.other_groups` belong to neither side of a
    case-control classifier: they are left out (logged). Any other value is refused.
    """
    col = sheet["group_column"]
    if col not in samples.columns:
        raise InputError("sample table has no group column", path=path, column=col)
    group = samples[col].astype(str)
    known = [str(sheet["case"]), str(sheet["control"])]
    other = ~group.isin(known) & group.isin([str(g) for g in sheet.get("other_groups", [])])
    bad = ~group.isin(known) & ~other
    if bad.any():
        raise InputError(f"group '{group[bad].iloc[0]}' of sample '{group.index[bad][0]}' is "
                         f"neither '{sheet['case']}' nor '{sheet['control']}' (nor one of "
                         "samples.other_groups)", path=path, column=col)
    if other.any():
        counts = group[other].value_counts().sort_index()
        log.info("classify uses the %s and %s samples only: %d sample(s) of other groups left "
                 "out (%s)", sheet["case"], sheet["control"], int(other.sum()),
                 ", ".join(f"{g} {n}" for g, n in counts.items()))
    return (group[~other] == sheet["case"]).astype(int)


def patients(samples: pd.DataFrame, sheet: dict) -> pd.Series:
    """The patient of every sample (config `samples.patient_column`): repeat samples of one
    patient share it. Without that column every sample is its own patient; a sample with a
    missing patient id is its own patient ("sample <id>")."""
    own = pd.Series("sample " + samples.index.astype(str), index=samples.index)
    col = sheet.get("patient_column")
    if not col or col not in samples.columns:
        log.info("no patient column '%s': every sample is its own patient", col)
        return own.rename("patient")
    ids = samples[col].astype(str).where(samples[col].notna(), own)
    size = ids.map(ids.value_counts())
    log.info("%d samples of %d patients; %d patient(s) with repeat samples (%d samples)",
             len(ids), ids.nunique(), ids[size > 1].nunique(), int((size > 1).sum()))
    return ids.rename("patient")


def _groups(y: pd.Series, groups: pd.Series | None) -> pd.Series:
    """Patients of y's samples, in y's order (None: every sample its own patient)."""
    if groups is None:
        return pd.Series(y.index.astype(str), index=y.index, name="patient")
    return groups.loc[y.index]


def patient_labels(y: pd.Series, groups: pd.Series | None = None) -> pd.Series:
    """One label per patient, in order of first appearance: a case if any of its samples is
    one (a patient with both labels is warned about: check the sample sheet)."""
    g = _groups(y, groups)
    lab = y.groupby(g.to_numpy(), sort=False).agg(["min", "max"])
    mixed = lab.index[lab["min"] != lab["max"]]
    if len(mixed):
        log.warning("%d patient(s) have both case and control samples (e.g. '%s'); counted "
                    "as cases", len(mixed), mixed[0])
    return lab["max"]


def _class_counts(y: pd.Series, groups: pd.Series | None) -> tuple[int, int]:
    """(case patients, control patients)."""
    pl = patient_labels(y, groups)
    return int((pl == 1).sum()), int((pl == 0).sum())


def _too_few(stage: str, y: pd.Series, groups: pd.Series | None, need: str) -> InputError:
    cases, controls = _class_counts(y, groups)
    return InputError(f"classify {stage}: {cases} case and {controls} control patient(s) "
                      f"({int(y.sum())} case and {int((y == 0).sum())} control samples); "
                      f"{need}")


def grouped_folds(y: pd.Series, groups: pd.Series | None, folds: int, seed: int,
                  stage: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold splits (train, test positions) that keep each patient's samples in
    one fold: scikit-learn's StratifiedGroupKFold, groups shuffled with `seed` (the same seed
    gives the same folds).

    k = min(folds, patients of the smallest class), logged when lowered; fewer than
    MIN_PER_CLASS patients of a class is refused. StratifiedGroupKFold balances the classes
    greedily, and patients with several samples can leave a test fold without a case or a
    control (no AUC): k is then lowered by one until every fold has both (logged).
    """
    yy = y.to_numpy()
    g = _groups(y, groups).to_numpy()
    cases, controls = _class_counts(y, groups)
    smallest = min(cases, controls)
    if smallest < MIN_PER_CLASS:
        raise _too_few(stage, y, groups,
                       f"stratified cross-validation needs at least {MIN_PER_CLASS} patients "
                       "of each class (2 or more folds, a case and a control in every test "
                       "fold and in every training part)")
    k = min(folds, smallest)
    if k < folds:
        log.warning("classify %s: %d folds instead of %d (the smallest class has %d "
                    "patients)", stage, k, folds, smallest)
    while k >= 2:
        splits = list(StratifiedGroupKFold(k, shuffle=True, random_state=seed)
                      .split(np.zeros(len(yy)), yy, g))
        if all(len(np.unique(yy[te])) == 2 and len(np.unique(yy[tr])) == 2
               for tr, te in splits):
            return splits
        log.warning("classify %s: a %d-fold split by patient leaves a fold without a case "
                    "or a control; trying %d folds", stage, k, k - 1)
        k -= 1
    raise _too_few(stage, y, groups, "no split by patient into 2 or more folds puts a case "
                   "and a control in every fold")


def grouped_split(y: pd.Series, groups: pd.Series | None, test_fraction: float, seed: int,
                  stage: str = "compare") -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test split (positions) with each patient's samples on one side.

    scikit-learn's train_test_split on the patients (one row each, stratified by the
    patient's label, `seed`), then every sample goes where its patient went. With one sample
    per patient this is exactly the stratified sample split. Chosen over the first fold of
    StratifiedGroupKFold, whose test share can only be 1/k (0.33 for 0.3), and over
    GroupShuffleSplit, which does not stratify. The test part must hold a case and a control
    and the training part at least MIN_PER_CLASS patients of each (its tuning CV); else
    refused.
    """
    pl = patient_labels(y, groups)
    try:
        _, test_patients = train_test_split(pl.index.to_numpy(), test_size=test_fraction,
                                            stratify=pl.to_numpy(), random_state=seed)
    except ValueError as e:
        raise _too_few(stage, y, groups, f"they cannot be split into a stratified "
                       f"{test_fraction:g} test part ({e})") from None
    test = _groups(y, groups).isin(set(test_patients)).to_numpy()
    yy = y.to_numpy()
    if len(np.unique(yy[test])) < 2:
        raise _too_few(stage, y, groups, f"the held-out test part ({test_fraction:g} of the "
                       f"patients, {int(test.sum())} samples) has no "
                       f"{'case' if yy[test].min() == 0 else 'control'}; an AUC needs both")
    return np.flatnonzero(~test), np.flatnonzero(test)


def reliability(n_test: int | None = None, n_genes: float | None = None) -> str:
    """'ok', or 'unreliable: ...' naming a held-out set of fewer than MIN_TEST_N samples
    and a panel of at most MAX_SMALL_PANEL genes."""
    why = []
    if n_test is not None and n_test < MIN_TEST_N:
        why.append(f"test n = {n_test} < {MIN_TEST_N}")
    if n_genes is not None and n_genes <= MAX_SMALL_PANEL:
        why.append(f"{round(n_genes, 1):g}-gene panel")
    return "unreliable: " + ", ".join(why) if why else "ok"


def standardise(expr: pd.DataFrame) -> pd.DataFrame:
    """Genes x samples -> samples x genes z-scores per gene (sd with n - 1; constant -> 0)."""
    values = expr.to_numpy(dtype=float)
    mean = values.mean(axis=1, keepdims=True)
    sd = values.std(axis=1, ddof=1, keepdims=True)
    z = np.divide(values - mean, sd, out=np.zeros_like(values), where=sd > 0)
    return pd.DataFrame(z.T, index=expr.columns, columns=expr.index)


def deg_filter(toptable: pd.DataFrame, spec: dict) -> list[str]:
    """Gene ids passing a DEG filter: adj.P.Val < fdr, |logFC| > min_abs_logfc and
    AveExpr > min_ave_expr (each optional), in the top table's order."""
    keep = np.ones(len(toptable), dtype=bool)
    if "fdr" in spec:
        keep &= (toptable["adj.P.Val"] < spec["fdr"]).to_numpy()
    if "min_abs_logfc" in spec:
        keep &= (toptable["logFC"].abs() > spec["min_abs_logfc"]).to_numpy()
    if "min_ave_expr" in spec:
        keep &= (toptable["AveExpr"] > spec["min_ave_expr"]).to_numpy()
    return toptable["gene_id"].astype(str)[keep].tolist()


def gene_sets(toptable: pd.DataFrame, filters: dict, available: pd.Index) -> dict[str, list]:
    """The genes of every DEG filter that are in the residual expression; empty is refused."""
    sets = {}
    for name, spec in filters.items():
        genes = [g for g in deg_filter(toptable, spec) if g in available]
        if len(genes) < 2:
            raise InputError(f"DEG filter '{name}' ({spec}) keeps {len(genes)} gene(s) of the "
                             "residual expression; a panel needs at least 2",
                             column="classify.filters")
        sets[name] = genes
        log.info("filter %s: %d genes", name, len(genes))
    return sets


# ---------------------------------------------------------------- models

def xgb_classifier(params: dict, seed: int):
    """XGBoost (Chen & Guestrin 2016) with config `classify.xgboost` (n_estimators,
    learning_rate = eta, max_depth, reg_lambda, reg_alpha, max_bin), histogram trees.

    One thread per model: the stage runs models side by side instead (`_map`), because
    XGBoost's OpenMP threads busy-wait and slow down tenfold on a shared, busy machine.
    """
    from xgboost import XGBClassifier

    return XGBClassifier(**params, tree_method="hist", random_state=seed, n_jobs=1,
                         eval_metric="logloss")


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

    ridge, lasso, elastic_net: scikit-learn LogisticRegression with C = 1 / (alpha n);
    mcp (Zhang 2010), scad (Fan & Li 2001) and l1_2 (L1/2, Xu et al. 2012): skglm's
    coordinate descent (Bertrand et al. 2022); L1/2 needs its fix-point working sets.
    saga (lasso, elastic net) visits samples in a random order: `seed` fixes it.
    """

    def __init__(self, penalty: str = "mcp", alpha: float = 0.01, gamma: float = 3.0,
                 l1_ratio: float = 0.5, tol: float = 1e-4, max_iter: int = 5000,
                 seed: int = 0):
        self.penalty, self.alpha, self.gamma = penalty, alpha, gamma
        self.l1_ratio, self.tol, self.max_iter, self.seed = l1_ratio, tol, max_iter, seed

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=float), np.asarray(y)
        self.classes_ = np.unique(y)
        if self.penalty in SKLEARN_PENALTIES:
            ratio = {"ridge": 0.0, "lasso": 1.0}.get(self.penalty, self.l1_ratio)
            est = LogisticRegression(C=1.0 / (self.alpha * len(y)), l1_ratio=ratio,
                                     solver="lbfgs" if ratio == 0 else "saga", tol=self.tol,
                                     max_iter=self.max_iter, random_state=self.seed).fit(X, y)
            self.coef_, self.intercept_ = est.coef_.ravel(), float(est.intercept_[0])
            return self
        from skglm import GeneralizedLinearEstimator
        from skglm.datafits import Logistic
        from skglm.penalties import L0_5, SCAD, MCPenalty
        from skglm.solvers import AndersonCD

        penalty = {"mcp": lambda: MCPenalty(self.alpha, self.gamma),
                   "scad": lambda: SCAD(self.alpha, self.gamma),
                   "l1_2": lambda: L0_5(self.alpha)}[self.penalty]()
        solver = AndersonCD(tol=self.tol, fit_intercept=True,
                            ws_strategy="fixpoint" if self.penalty == "l1_2" else "subdiff")
        est = GeneralizedLinearEstimator(Logistic(), penalty, solver)
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


# ---------------------------------------------------------------- algorithm comparison

@dataclass(frozen=True)
class Comparison:
    table: pd.DataFrame        # algorithm, best parameters, test AUC with DeLong CI and test
    roc: pd.DataFrame          # algorithm, fpr, tpr on the test part
    test_scores: pd.DataFrame  # sample_id, patient, label, test probabilities per algorithm
    grouping: pd.DataFrame     # best algorithm's test AUC with the split by patient and without


def _tune(name: str, xtr: np.ndarray, ytr: np.ndarray, cv: list, settings: dict,
          xgb_params: dict, seed: int, n_jobs: int) -> GridSearchCV:
    """One algorithm tuned by CV AUC over the given folds (refit on the whole training part)."""
    if name == "xgboost":
        est = xgb_classifier(xgb_params, seed)
        grid = {"max_depth": settings["xgboost_max_depth"]}
    else:
        gamma = {"scad": settings["scad_gamma"], "mcp": settings["mcp_gamma"]}.get(name, 3.0)
        est = make_pipeline(StandardScaler(), PenalisedLogistic(
            name, gamma=gamma, l1_ratio=settings["l1_ratio"], seed=seed))
        grid = {"penalisedlogistic__alpha": settings["alphas"][name]}
    with parallel_backend("threading", n_jobs=n_jobs):
        return GridSearchCV(est, grid, scoring="roc_auc", cv=cv, refit=True,
                            n_jobs=n_jobs).fit(xtr, ytr)


def _params(search: GridSearchCV) -> str:
    return ", ".join(f"{k.split('__')[-1]}={v:g}" for k, v in search.best_params_.items())


def compare_algorithms(X: pd.DataFrame, y: pd.Series, settings: dict, xgb_params: dict,
                       seed: int, n_jobs: int = 1, groups: pd.Series | None = None
                       ) -> Comparison:
    """Seven classifiers on one stratified split by patient (`grouped_split`), tuned by k-fold
    CV AUC by patient (`grouped_folds`) on its training part.

    settings: config `classify.compare` (test_fraction, cv_folds, alphas per penalised
    algorithm, l1_ratio, scad_gamma, mcp_gamma, xgboost_max_depth grid). The best test AUC is
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
    train, test = grouped_split(y, g, settings["test_fraction"], seed)
    xtr, xte = X.to_numpy()[train], X.to_numpy()[test]
    ytr, yte = y.to_numpy()[train], y.to_numpy()[test]
    cv = grouped_folds(y.iloc[train], g.iloc[train], settings["cv_folds"], seed,
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


def _ungrouped(X: pd.DataFrame, y: pd.Series, g: pd.Series, name: str, settings: dict,
               xgb_params: dict, seed: int, n_jobs: int) -> dict:
    """`name` tuned and tested as if every sample were its own patient (the leaky split)."""
    train, test = grouped_split(y, None, settings["test_fraction"], seed)
    cv = grouped_folds(y.iloc[train], None, settings["cv_folds"], seed,
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


# ---------------------------------------------------------------- RFE panels

def rfe_schedule(n_features: int, drop_fraction: float, stepwise_below: int) -> list[int]:
    """Panel sizes visited: drop ceil(fraction * n) while more than `stepwise_below` remain
    (never below it), then one at a time down to 1."""
    sizes, n = [n_features], n_features
    while n > 1:
        drop = max(1, math.ceil(n * drop_fraction)) if n > stepwise_below else 1
        if n > stepwise_below:
            drop = min(drop, n - stepwise_below)
        n -= drop
        sizes.append(n)
    return sizes


@dataclass(frozen=True)
class RFEResult:
    curve: pd.DataFrame  # n_genes, mean_auc, sd_auc (one row per visited size, decreasing)
    rank: pd.Series      # gene -> rank (1 = eliminated last); the panel of size k = rank <= k


def rfe(X: pd.DataFrame, y: pd.Series, xgb_params: dict, drop_fraction: float,
        stepwise_below: int, folds: int, seed: int, n_jobs: int = 1,
        groups: pd.Series | None = None, stage: str = "RFE") -> RFEResult:
    """Recursive feature elimination with XGBoost and stratified k-fold CV AUC, folds by
    patient (`grouped_folds`; groups None: one sample per patient).

    At every visited size the k fold models are trained on the surviving genes; their mean
    test-fold AUC is the curve's value, and their mean normalised total gain ranks the genes
    for the next elimination (ties: the earlier gene in X's column order survives).
    """
    x, yy = X.to_numpy(dtype=float), y.to_numpy()
    splits = grouped_folds(y, groups, folds, seed, stage)
    alive = np.arange(x.shape[1])
    sizes = rfe_schedule(x.shape[1], drop_fraction, stepwise_below)
    rows, rank = [], np.zeros(x.shape[1], dtype=int)
    for i, size in enumerate(sizes):
        assert len(alive) == size

        def fold(split, alive=alive, size=size):
            tr, te = split
            model = xgb_classifier(xgb_params, seed).fit(x[np.ix_(tr, alive)], yy[tr])
            auc = roc_auc_score(yy[te], model.predict_proba(x[np.ix_(te, alive)])[:, 1])
            return auc, _gain(model, size)

        results = _map(fold, splits, n_jobs)
        aucs = [a for a, _ in results]
        gain = np.sum([g for _, g in results], axis=0)
        rows.append((size, float(np.mean(aucs)), float(np.std(aucs, ddof=1))))
        nxt = sizes[i + 1] if i + 1 < len(sizes) else 0
        # most important first; lexsort's last key is primary, position breaks ties
        order = np.lexsort((np.arange(size), -gain))
        rank[alive[order[nxt:]]] = np.arange(nxt + 1, size + 1)
        alive = np.sort(alive[order[:nxt]])
    curve = pd.DataFrame(rows, columns=["n_genes", "mean_auc", "sd_auc"])
    return RFEResult(curve, pd.Series(rank, index=X.columns, name="rank"))


def knee(curve: pd.DataFrame, max_genes: int | None = None) -> int:
    """Panel size at the kneedle knee (Satopaa et al. 2011) of mean CV AUC against the number
    of genes (kneed, concave increasing), over sizes up to max_genes. No knee: the size with
    the highest AUC."""
    from kneed import KneeLocator

    c = curve.sort_values("n_genes")
    if max_genes is not None:
        c = c[c["n_genes"] <= max_genes]
    x, y = c["n_genes"].to_numpy(), c["mean_auc"].to_numpy()
    k = KneeLocator(x, y, curve="concave", direction="increasing").knee if len(x) >= 3 else None
    if k is None:
        log.warning("kneedle found no knee; using the size with the highest CV AUC")
        return int(x[np.argmax(y)])
    return int(k)


@dataclass(frozen=True)
class Panels:
    genes: dict[str, list]          # filter name -> panel genes (by rank), plus "union"
    curves: dict[str, RFEResult]
    knees: dict[str, int]


def select_panels(X: pd.DataFrame, y: pd.Series, sets: dict[str, list], settings: dict,
                  seed: int, n_jobs: int = 1, groups: pd.Series | None = None,
                  stage: str = "RFE") -> Panels:
    """RFE per DEG filter, kneedle panel, and the union of the panels (settings: config
    `classify`: xgboost, rfe {drop_fraction, stepwise_below, cv_folds, knee_max_genes});
    RFE folds by patient (groups)."""
    r = settings["rfe"]
    genes, curves, knees = {}, {}, {}
    for name, members in sets.items():
        res = rfe(X[members], y, settings["xgboost"], r["drop_fraction"], r["stepwise_below"],
                  r["cv_folds"], seed, n_jobs, groups, f"{stage} ({name})")
        k = knee(res.curve, r.get("knee_max_genes"))
        curves[name], knees[name] = res, k
        genes[name] = res.rank[res.rank <= k].sort_values(kind="stable").index.tolist()
        log.info("panel %s: knee at %d genes", name, k)
    union = []
    for panel in list(genes.values()):
        union += [g for g in panel if g not in union]
    genes[UNION] = union
    return Panels(genes, curves, knees)


def fit_panel_models(X: pd.DataFrame, y: pd.Series, panels: dict[str, list], xgb_params: dict,
                     seed: int, n_jobs: int = 1) -> dict:
    """One XGBoost model per panel (the union included), trained on all of X's samples."""
    fitted = _map(lambda genes: xgb_classifier(xgb_params, seed).fit(X[genes].to_numpy(),
                                                                   y.to_numpy()),
                  panels.values(), n_jobs)
    return dict(zip(panels, fitted, strict=True))


def predict_panels(models: dict, panels: dict[str, list], X: pd.DataFrame) -> pd.DataFrame:
    """Case probability per sample and model; `ensemble` = mean over the filter panels."""
    out = pd.DataFrame({name: models[name].predict_proba(X[panels[name]].to_numpy())[:, 1]
                        for name in panels}, index=X.index)
    members = [n for n in panels if n != UNION]
    out[ENSEMBLE] = out[members].mean(axis=1)
    return out


def _panel_size(panels: dict[str, list], name: str) -> int:
    """Genes of a model: its panel, or for the ensemble the distinct genes of its members."""
    if name in panels:
        return len(panels[name])
    return len({g for k, v in panels.items() if k != UNION for g in v})


def panel_cv_auc(X: pd.DataFrame, y: pd.Series, panels: dict[str, list], xgb_params: dict,
                 folds: int, seed: int, n_jobs: int = 1, groups: pd.Series | None = None
                 ) -> pd.DataFrame:
    """Mean k-fold CV AUC (folds by patient) of fixed panels and the ensemble on the samples
    that chose them: the study's optimistic, in-sample figure.

    Returns one row per model: optimistic_cv_auc, n_genes, folds, n_test_min (the smallest
    test fold) and reliability.
    """
    splits = grouped_folds(y, groups, folds, seed, "in-sample panel CV")
    aucs = []
    for tr, te in splits:
        models = fit_panel_models(X.iloc[tr], y.iloc[tr], panels, xgb_params, seed, n_jobs)
        pred = predict_panels(models, panels, X.iloc[te])
        aucs.append({m: roc_auc_score(y.iloc[te], pred[m]) for m in pred.columns})
    mean = pd.DataFrame(aucs).mean()
    n_test = min(len(te) for _, te in splits)
    return pd.DataFrame([{"model": m, "optimistic_cv_auc": auc,
                          "n_genes": _panel_size(panels, m), "folds": len(splits),
                          "n_test_min": n_test,
                          "reliability": reliability(n_test, _panel_size(panels, m))}
                         for m, auc in mean.items()])


def nested_cv(X: pd.DataFrame, y: pd.Series, sets: dict[str, list], settings: dict, seed: int,
              n_jobs: int = 1, groups: pd.Series | None = None
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Honest estimate: in each outer stratified fold (by patient), run `select_panels` (its
    RFE folds by patient too) and fit the panel models on the outer-training samples only,
    then score the held-out fold.

    Returns per-fold AUCs (fold, model, n_genes, n_test, n_test_cases, n_test_controls, auc)
    and the out-of-fold probabilities.
    """
    g = _groups(y, groups)
    outer = grouped_folds(y, g, settings["nested"]["outer_folds"], seed,
                          "nested CV (outer folds)")
    rows, oof = [], []
    for fold, (tr, te) in enumerate(outer, start=1):
        xtr, ytr = X.iloc[tr], y.iloc[tr]
        panels = select_panels(xtr, ytr, sets, settings, seed, n_jobs, g.iloc[tr],
                               f"nested CV, RFE inside outer fold {fold}")
        models = fit_panel_models(xtr, ytr, panels.genes, settings["xgboost"], seed, n_jobs)
        pred = predict_panels(models, panels.genes, X.iloc[te])
        yte = y.iloc[te]
        for name in pred.columns:
            rows.append({"fold": fold, "model": name,
                         "n_genes": _panel_size(panels.genes, name), "n_test": len(te),
                         "n_test_cases": int(yte.sum()), "n_test_controls": int((yte == 0).sum()),
                         "auc": roc_auc_score(yte, pred[name])})
        oof.append(pred.assign(fold=fold))
        log.info("outer fold %d: %s", fold, ", ".join(f"{r['model']} {r['auc']:.3f}"
                                                     for r in rows[-len(pred.columns):]))
    return pd.DataFrame(rows), pd.concat(oof).loc[X.index]


def honest_summary(per_fold: pd.DataFrame, oof: pd.DataFrame, y: pd.Series,
                   optimistic: pd.Series) -> pd.DataFrame:
    """Per model, the nested-CV AUC first: its mean (sd) over outer folds, the pooled
    out-of-fold AUC with its DeLong 95% CI, their n, then the optimistic in-sample CV AUC and
    a reliability note (smallest outer test fold under MIN_TEST_N samples, mean panel of at
    most MAX_SMALL_PANEL genes).

    The ensemble, fixed before any result is seen, is the first row (the headline); picking
    the row with the best nested AUC would bring the optimism back.
    """
    rows = []
    yy = y.loc[oof.index].to_numpy()
    for model, grp in per_fold.groupby("model", sort=False):
        ci = delong.auc_ci(yy, oof[model].to_numpy())
        n_test, size = int(grp["n_test"].min()), grp["n_genes"].mean()
        rows.append({"model": model, "nested_cv_auc": grp["auc"].mean(),
                     "nested_cv_sd": grp["auc"].std(ddof=1), "outer_folds": len(grp),
                     "n_test_min": n_test, "nested_pooled_auc": ci.auc,
                     "pooled_ci_low": ci.ci_low, "pooled_ci_high": ci.ci_high,
                     "n": len(yy), "n_cases": int(yy.sum()), "n_controls": int((yy == 0).sum()),
                     "mean_panel_size": size,
                     "optimistic_cv_auc": optimistic.get(model, np.nan),
                     "reliability": reliability(n_test, size)})
    out = pd.DataFrame(rows)
    first = (out["model"] != ENSEMBLE).to_numpy()
    return out.iloc[np.argsort(first, kind="stable")].reset_index(drop=True)


# ---------------------------------------------------------------- scoring a new cohort

def cohort_features(counts: pd.DataFrame, samples: pd.DataFrame, prep: dict,
                    path=None) -> pd.DataFrame:
    """A cohort's standardised expression (samples x genes) as the saved models expect.

    prep (saved with the models): keep genes with more than min_count counts in more than
    min_samples samples; TMM (edgeR) log2-CPM (voom); remove the cohort's own `technical`
    sample-sheet covariates (limma removeBatchEffect, centred, without the case/control
    labels, which new samples do not have; a covariate with one value is skipped); z-score
    per gene within the cohort.
    """
    missing = samples.index.difference(counts.columns)
    if len(missing):
        raise InputError(f"sample '{missing[0]}' of the sample table has no counts", path=path)
    counts = counts[samples.index]
    keep = (counts > prep["min_count"]).sum(axis=1) > prep["min_samples"]
    counts = counts[keep]
    if counts.shape[0] < 2:
        raise InputError(f"only {counts.shape[0]} gene(s) have more than {prep['min_count']} "
                         f"counts in more than {prep['min_samples']} samples", path=path)
    expr = log2cpm_voom(counts, norm_factors=calc_norm_factors(counts.to_numpy()))
    blocks = []
    for var in prep["technical"]:
        if var not in samples.columns:
            raise InputError("technical covariate is not a sample-table column", path=path,
                             column=var)
        s = samples[var]
        if s.isna().any():
            raise InputError(f"missing value of technical covariate for sample "
                             f"'{s.index[s.isna()][0]}'", path=path, column=var)
        if s.nunique() < 2:
            log.info("technical covariate %s has one value; skipped", var)
            continue
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        block = (s.to_frame().astype(float) if numeric else
                 pd.get_dummies(s.astype(str), drop_first=True, dtype=float))
        blocks.append(block - block.mean())
    if blocks:
        rem = pd.concat(blocks, axis=1).to_numpy()
        expr = remove_batch_effect(expr, np.ones((len(samples), 1)), rem)
    log.info("cohort features: %d genes x %d samples, technical %s", expr.shape[0],
             expr.shape[1], prep["technical"])
    return standardise(expr)


def align_panels(target: pd.DataFrame, panels: dict[str, list]) -> tuple[dict, pd.DataFrame]:
    """Each panel's genes present in the target cohort, and the table of missing ones."""
    present = {name: [g for g in genes if g in target.columns] for name, genes in panels.items()}
    missing = pd.DataFrame([(name, g) for name, genes in panels.items() for g in genes
                            if g not in target.columns], columns=["model", "gene_id"])
    return present, missing


def score_cohort(target: pd.DataFrame, models: dict, panels: dict[str, list], policy: str,
                 train_X: pd.DataFrame | None, train_y: pd.Series | None, xgb_params: dict,
                 seed: int, n_jobs: int = 1, path=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Case probabilities of the target's samples for every saved model and the ensemble.

    Panel genes missing from the target (not measured, or removed by its expression filter)
    are handled by `policy`: "refit" retrains that model on the discovery samples with the
    genes the target has (same settings and seed); "missing" keeps the saved model and passes
    the genes as missing values, which XGBoost sends down each split's learned default branch.
    A model none of whose genes are present scores NaN; a cohort (`path`, its counts) with no
    panel gene at all is refused, as its gene ids cannot be those of the discovery cohort.
    """
    present, missing = align_panels(target, panels)
    if not any(present.values()):
        example = next(g for genes in panels.values() for g in genes)
        raise InputError(f"the cohort has none of the {missing['gene_id'].nunique()} panel genes "
                         f"(e.g. '{example}') after its expression filter; do its gene ids "
                         "match the discovery cohort's?", path=path, column="gene_id")
    out = {}
    for name, genes in panels.items():
        if not present[name]:
            log.warning("model %s: none of its %d genes in the target; not scored", name,
                        len(genes))
            out[name] = np.full(len(target), np.nan)
        elif policy == "missing" or len(present[name]) == len(genes):
            x = target.reindex(columns=genes).to_numpy()
            out[name] = models[name].predict_proba(x)[:, 1]
        elif policy == "refit":
            log.info("model %s: refit without %d missing gene(s)", name,
                     len(genes) - len(present[name]))
            model = xgb_classifier(xgb_params, seed).fit(
                train_X[present[name]].to_numpy(), train_y.to_numpy())
            out[name] = model.predict_proba(target[present[name]].to_numpy())[:, 1]
        else:
            raise InputError(f"unknown missing-gene policy '{policy}' (refit or missing)",
                             column="classify.external.missing_genes")
    pred = pd.DataFrame(out, index=target.index)
    members = [n for n in panels if n != UNION]
    pred[ENSEMBLE] = pred[members].mean(axis=1)
    return pred, missing


def validation_metrics(pred: pd.DataFrame, y: pd.Series, threshold: float,
                       panels: dict[str, list] | None = None,
                       groups: pd.Series | None = None) -> pd.DataFrame:
    """AUC (DeLong 95% CI), sensitivity, specificity and accuracy at `threshold` per model,
    over y's samples, with n, patients and a reliability note (fewer than MIN_TEST_N samples;
    panels, when given, of at most MAX_SMALL_PANEL genes)."""
    rows = []
    yy = y.to_numpy()
    pred = pred.loc[y.index]
    n_patients = _groups(y, groups).nunique()
    for model in pred.columns:
        p = pred[model].to_numpy()
        if np.isnan(p).any():
            rows.append({"model": model, "reliability": "not scored"})
            continue
        ci = delong.auc_ci(yy, p)
        call = p >= threshold
        size = _panel_size(panels, model) if panels else None
        rows.append({"model": model, "auc": ci.auc, "ci_low": ci.ci_low, "ci_high": ci.ci_high,
                     "n": len(yy), "n_cases": int(yy.sum()), "n_controls": int((1 - yy).sum()),
                     "n_patients": n_patients,
                     "sensitivity": call[yy == 1].mean(), "specificity": (~call[yy == 0]).mean(),
                     "accuracy": (call == (yy == 1)).mean(),
                     "reliability": reliability(len(yy), size)})
    return pd.DataFrame(rows, columns=["model", "auc", "ci_low", "ci_high", "n", "n_cases",
                                       "n_controls", "n_patients", "sensitivity",
                                       "specificity", "accuracy", "reliability"])


def unseen_patients(target: pd.DataFrame, training: pd.DataFrame, sheet: dict,
                    path=None) -> pd.Index:
    """The target cohort's samples whose patient has no sample among the training samples.

    External scoring keeps a patient on one side too: a target sample whose patient id
    (config `samples.patient_column`, both tables) is also a training patient's is left out
    of the metrics (warned). Without that column in either table nothing can be matched and
    all samples count. If every target sample is left out the cohort is refused: its patient
    ids are those of the training cohort (or number patients the same way).
    """
    col = sheet.get("patient_column")
    if not col or col not in target.columns or col not in training.columns:
        return target.index
    seen = set(training[col].dropna().astype(str))
    shared = target[col].notna() & target[col].astype(str).isin(seen)
    if shared.all():
        raise InputError(f"every sample's patient id is also a training patient's (e.g. "
                         f"'{target[col].iloc[0]}'); an external cohort must hold other "
                         "patients, or ids that do not collide", path=path, column=col)
    if shared.any():
        log.warning("%d sample(s) of %d patient(s) (e.g. '%s') are of training patients and "
                    "are left out of the external metrics", int(shared.sum()),
                    target.loc[shared, col].nunique(), target.loc[shared, col].iloc[0])
    return target.index[~shared]


def roc_table(pred: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
    """fpr/tpr per model (models that scored every sample), over y's samples."""
    yy, pred = y.to_numpy(), pred.loc[y.index]
    parts = []
    for model in pred.columns:
        if pred[model].notna().all():
            fpr, tpr, _ = roc_curve(yy, pred[model].to_numpy())
            parts.append(pd.DataFrame({"model": model, "fpr": fpr, "tpr": tpr}))
    return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------- saved models

@dataclass(frozen=True)
class TrainingData:
    X: pd.DataFrame          # standardised residual expression, samples x genes
    y: pd.Series             # 1 case, 0 control
    groups: pd.Series        # patient of every sample (repeat samples share it)
    sets: dict[str, list]    # DEG filter -> its genes


def training_data(toptable: pd.DataFrame, residuals: pd.DataFrame, samples: pd.DataFrame,
                  sheet: dict, filters: dict, samples_path=None) -> TrainingData:
    """Standardised residual expression (samples x genes) of the case and control samples,
    labels, patients and DEG-filter gene sets (samples of other groups left out)."""
    missing = residuals.columns.difference(samples.index)
    if len(missing):
        raise InputError(f"sample '{missing[0]}' of the residual expression is not in the "
                         "sample table", path=samples_path)
    y = labels(samples.loc[residuals.columns], sheet, samples_path)
    X = standardise(residuals[y.index])
    return TrainingData(X, y, patients(samples.loc[y.index], sheet),
                        gene_sets(toptable, filters, X.columns))


def read_training_data(toptable, residuals, samples, sheet: dict, filters: dict
                       ) -> TrainingData:
    """`training_data` from the DE stage's files: top table, residual expression (genes x
    samples) and the QC'd sample table."""
    return training_data(
        read_tsv(toptable, required=["gene_id", "adj.P.Val", "logFC", "AveExpr"]),
        read_tsv(residuals, index_col=0, dtype={"gene_id": str}),
        read_samples(samples, sheet), sheet, filters, samples)


def save_model(model, path) -> None:
    """An XGBoost model as its JSON file (written atomically)."""
    with atomic_path(path, suffix=".json") as tmp:
        model.save_model(str(tmp))


def load_model(path):
    from xgboost import XGBClassifier

    model = XGBClassifier()
    model.load_model(str(path))
    return model


def panel_tables(panels: Panels, models: dict, names: pd.Series
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """RFE curves (filter, n_genes, mean_auc, sd_auc, knee), the elimination ranking (filter,
    gene_id, gene_name, rank) and the panels (panel, gene_id, gene_name, rank, importance =
    normalised gain in the panel's final model)."""
    curves = pd.concat([r.curve.assign(knee=r.curve["n_genes"] == panels.knees[f])
                        .assign(filter=f) for f, r in panels.curves.items()], ignore_index=True)
    curves = curves[["filter", "n_genes", "mean_auc", "sd_auc", "knee"]]
    ranking = pd.concat([pd.DataFrame({"filter": f, "gene_id": r.rank.index,
                                       "gene_name": names.reindex(r.rank.index).to_numpy(),
                                       "rank": r.rank.to_numpy()}).sort_values("rank")
                         for f, r in panels.curves.items()], ignore_index=True)
    rows = []
    for name, genes in panels.genes.items():
        gain = _gain(models[name], len(genes))
        rows.append(pd.DataFrame({"panel": name, "gene_id": genes,
                                  "gene_name": names.reindex(genes).to_numpy(),
                                  "rank": np.arange(1, len(genes) + 1), "importance": gain}))
    return curves, ranking, pd.concat(rows, ignore_index=True)


def preprocessing(external: dict, xgb_params: dict, seed: int, filters: list[str]) -> dict:
    """What scoring a new cohort needs besides the models (saved as preprocessing.json)."""
    return {"min_count": external["min_count"], "min_samples": external["min_samples"],
            "technical": list(external["technical"]),
            "normalisation": "TMM (edgeR) log2-CPM (voom), technical covariates removed "
                             "(removeBatchEffect), z-score per gene within the cohort",
            "missing_genes": external["missing_genes"], "threshold": external["threshold"],
            "ensemble": list(filters), "xgboost": dict(xgb_params), "seed": seed}
