"""Small XGBoost gene panels: recursive feature elimination with importance recomputed at every
step, the knee of the AUC curve, and nested CV for an honest estimate of the whole selection.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ..stats import delong
from .algorithms import XGBoostSettings, _gain, _map, xgb_classifier
from .features import _groups, grouped_folds, reliability

log = logging.getLogger(__name__)


ENSEMBLE, UNION = "ensemble", "union"


@dataclass(frozen=True)
class RFESettings:
    """`select_panels`' recursive feature elimination (config `classify.rfe`)."""

    drop_fraction: float  # of the genes, dropped at each coarse step (one model ranks) ...
    curve_from: int  # ... until this many remain; from there every size's CV AUC is measured
    curve_drop_fraction: float  # of the genes, dropped at each curve step (at least one)
    cv_folds: int
    knee_max_genes: int | None  # the knee is sought among panels of at most this many genes
    knee_sensitivity: float  # kneedle's S: larger waits for a flatter curve (a larger panel)
    knee_interp: str  # kneedle's interp_method: "interp1d" (the points) or "polynomial" (a fit)

    @classmethod
    def from_config(cls, rfe: Mapping) -> RFESettings:
        return cls(drop_fraction=rfe["drop_fraction"], curve_from=rfe["curve_from"],
                   curve_drop_fraction=rfe["curve_drop_fraction"], cv_folds=rfe["cv_folds"],
                   knee_max_genes=rfe["knee_max_genes"], knee_sensitivity=rfe["knee_sensitivity"],
                   knee_interp=rfe["knee_interp"])


def rfe_schedule(n_features: int, drop_fraction: float, curve_from: int,
                 curve_drop_fraction: float = 0.0) -> list[int]:
    """Panel sizes visited: drop ceil(drop_fraction * n) while more than `curve_from` remain
    (never below it), then floor(curve_drop_fraction * n), at least one, down to 1."""
    sizes, n = [n_features], n_features
    while n > 1:
        if n > curve_from:
            drop = min(max(1, math.ceil(n * drop_fraction)), n - curve_from)
        else:
            drop = max(1, math.floor(n * curve_drop_fraction))
        n -= drop
        sizes.append(n)
    return sizes


@dataclass(frozen=True)
class RFEResult:
    curve: pd.DataFrame  # n_genes, mean_auc, sd_auc (one row per size from curve_from down)
    rank: pd.Series      # gene -> rank (1 = eliminated last); the panel of size k = rank <= k


def rfe(X: pd.DataFrame, y: pd.Series, xgb_params: XGBoostSettings, settings: RFESettings,
        seed: int, n_jobs: int = 1, groups: pd.Series | None = None,
        stage: str = "RFE") -> RFEResult:
    """Recursive feature elimination with XGBoost over `rfe_schedule`, folds by patient
    (`grouped_folds`; groups None: one sample per patient).

    Above `curve_from` genes one model on all samples ranks the genes by total gain (the
    coarse steps only discard the clearly unused genes; ten fold models there would cost ten
    times as much at the sizes where a fit is dearest). From `curve_from` down, the k fold
    models of every visited size give the curve's mean test-fold AUC, and their mean
    normalised total gain ranks the genes for the next elimination. Ties: the earlier gene
    in X's column order survives.
    """
    x, yy = X.to_numpy(dtype=float), y.to_numpy()
    splits = grouped_folds(y, groups, settings.cv_folds, seed, stage)
    alive = np.arange(x.shape[1])
    sizes = rfe_schedule(x.shape[1], settings.drop_fraction, settings.curve_from,
                         settings.curve_drop_fraction)
    rows, rank = [], np.zeros(x.shape[1], dtype=int)
    for i, size in enumerate(sizes):
        assert len(alive) == size
        if size > settings.curve_from:
            gain = _gain(xgb_classifier(xgb_params, seed).fit(x[:, alive], yy), size)
        else:
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


def knee(curve: pd.DataFrame, settings: RFESettings) -> int:
    """Panel size at the kneedle knee (Satopaa et al. 2011) of the best mean CV AUC reached
    with at most n genes (the running maximum of the curve) against n, over sizes up to
    settings.knee_max_genes (kneed: concave, increasing, knee_sensitivity, knee_interp).

    Kneedle assumes a monotone curve: on the raw one a dip between noisy neighbours makes its
    first knee a 1-gene panel. It sees every size from the smallest to the largest measured,
    the running maximum interpolated linearly between measured sizes, as the study measured
    every size: kneedle's sensitivity is relative to the spacing of the points, and a
    polynomial fit weighs each point alike, so sparse large sizes would change both. The
    panel is the smallest measured size at or above that knee. No knee: the size with the
    highest AUC."""
    from kneed import KneeLocator

    c = curve.sort_values("n_genes")
    if settings.knee_max_genes is not None:
        c = c[c["n_genes"] <= settings.knee_max_genes]
    x, y = c["n_genes"].to_numpy(), c["mean_auc"].to_numpy()
    sizes = np.arange(x[0], x[-1] + 1) if len(x) else x
    k = (KneeLocator(sizes, np.interp(sizes, x, np.maximum.accumulate(y)),
                     S=settings.knee_sensitivity, curve="concave", direction="increasing",
                     interp_method=settings.knee_interp).knee
         if len(x) >= 3 else None)
    if k is None:
        log.warning("kneedle found no knee; using the size with the highest CV AUC")
        return int(x[np.argmax(y)])
    return int(x[np.searchsorted(x, k)])


@dataclass(frozen=True)
class Panels:
    genes: dict[str, list]          # filter name -> panel genes (by rank), plus "union"
    curves: dict[str, RFEResult]
    knees: dict[str, int]


def select_panels(X: pd.DataFrame, y: pd.Series, sets: dict[str, list],
                  rfe_settings: RFESettings,
                  xgb_params: XGBoostSettings, seed: int, n_jobs: int = 1,
                  groups: pd.Series | None = None, stage: str = "RFE") -> Panels:
    """RFE per DEG filter, kneedle panel, and the union of the panels; RFE folds by patient
    (groups). Filters that keep the same genes share one search (its result is the same)."""
    r = rfe_settings
    genes, curves, knees = {}, {}, {}
    searched: dict[tuple, RFEResult] = {}
    for name, members in sets.items():
        if tuple(members) in searched:
            log.info("filter %s keeps the genes of an earlier filter: its search is reused", name)
            res = searched[tuple(members)]
        else:
            res = rfe(X[members], y, xgb_params, r, seed, n_jobs, groups, f"{stage} ({name})")
            searched[tuple(members)] = res
        k = knee(res.curve, r)
        curves[name], knees[name] = res, k
        genes[name] = res.rank[res.rank <= k].sort_values(kind="stable").index.tolist()
        log.info("panel %s: knee at %d genes", name, k)
    union = []
    for panel in list(genes.values()):
        union += [g for g in panel if g not in union]
    genes[UNION] = union
    return Panels(genes, curves, knees)


def fit_panel_models(X: pd.DataFrame, y: pd.Series, panels: dict[str, list],
                     xgb_params: XGBoostSettings, seed: int, n_jobs: int = 1) -> dict:
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


def panel_cv_auc(X: pd.DataFrame, y: pd.Series, panels: dict[str, list],
                 xgb_params: XGBoostSettings, folds: int, seed: int, n_jobs: int = 1,
                 groups: pd.Series | None = None) -> pd.DataFrame:
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


def nested_cv(X: pd.DataFrame, y: pd.Series, sets: dict[str, list], outer_folds: int,
              rfe_settings: RFESettings, xgb_params: XGBoostSettings, seed: int,
              n_jobs: int = 1, groups: pd.Series | None = None
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Honest estimate: in each of `outer_folds` stratified folds (by patient), run
    `select_panels` (its RFE folds by patient too) and fit the panel models on the
    outer-training samples only, then score the held-out fold.

    Returns per-fold AUCs (fold, model, n_genes, n_test, n_test_cases, n_test_controls, auc)
    and the out-of-fold probabilities.
    """
    g = _groups(y, groups)
    outer = grouped_folds(y, g, outer_folds, seed, "nested CV (outer folds)")

    def run_fold(item):
        fold, (tr, te) = item
        xtr, ytr = X.iloc[tr], y.iloc[tr]
        panels = select_panels(xtr, ytr, sets, rfe_settings, xgb_params, seed, 1,
                               g.iloc[tr], f"nested CV, RFE inside outer fold {fold}")
        models = fit_panel_models(xtr, ytr, panels.genes, xgb_params, seed)
        pred = predict_panels(models, panels.genes, X.iloc[te])
        yte = y.iloc[te]
        rows = [{"fold": fold, "model": name, "n_genes": _panel_size(panels.genes, name),
                 "n_test": len(te), "n_test_cases": int(yte.sum()),
                 "n_test_controls": int((yte == 0).sum()), "auc": roc_auc_score(yte, pred[name])}
                for name in pred.columns]
        log.info("outer fold %d: %s", fold, ", ".join(f"{r['model']} {r['auc']:.3f}"
                                                     for r in rows))
        return rows, pred.assign(fold=fold)

    # the outer folds side by side, each on one thread: a search's coarse steps fit one
    # model at a time, so threads inside a search would leave a core idle there
    done = _map(run_fold, enumerate(outer, start=1), n_jobs)
    rows = [r for fold_rows, _ in done for r in fold_rows]
    oof = [pred for _, pred in done]
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
