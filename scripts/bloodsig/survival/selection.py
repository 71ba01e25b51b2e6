"""Gene selection for the survival models: per-gene log-rank screen, co-expression hubs,
stepwise Cox by AIC and XGBoost-Cox tuned by cross-validated C-index.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.parallel import Workers, process_map
from ..stats import discrimination
from ..stats import survival as sv
from ..stats.coexpression import Modules, coexpression_hubs

log = logging.getLogger(__name__)


MODELS = ("clinical", "stepwise", "xgboost")


@dataclass(frozen=True)
class CoexpressionSettings:
    """The co-expression hubs (config `survival.coexpression`; see
    `bloodsig.stats.coexpression.coexpression_hubs`)."""

    power: int | str  # soft-threshold power, or "auto"
    r2_cutoff: float
    cut_height: float
    min_module_size: int  # fewer screened genes than this: the step is skipped
    hub_fraction: float

    @classmethod
    def from_config(cls, coexpression: Mapping) -> CoexpressionSettings:
        return cls(power=coexpression["power"], r2_cutoff=coexpression["r2_cutoff"],
                   cut_height=coexpression["cut_height"],
                   min_module_size=int(coexpression["min_module_size"]),
                   hub_fraction=coexpression["hub_fraction"])


@dataclass(frozen=True)
class XGBoostCoxSettings:
    """XGBoost-Cox's tuning (config `survival.xgboost`)."""

    folds: int  # of the cross-validated C-index
    top_genes: int  # genes kept, by gain
    grid: dict[str, list]  # XGBoost parameter (and n_rounds) -> the values tried

    @classmethod
    def from_config(cls, xgboost: Mapping) -> XGBoostCoxSettings:
        return cls(folds=int(xgboost["folds"]), top_genes=int(xgboost["top_genes"]),
                   grid={k: list(v) for k, v in xgboost["grid"].items()})


@dataclass(frozen=True)
class SelectionSettings:
    """`select_genes`' settings (config `survival`: logrank_p, coexpression, ties, stepwise,
    xgboost)."""

    logrank_p: float  # the log-rank screen's cutoff
    coexpression: CoexpressionSettings
    ties: str  # Cox partial likelihood: breslow or efron
    max_steps: int  # of the stepwise Cox selection
    xgboost: XGBoostCoxSettings

    @classmethod
    def from_config(cls, survival: Mapping) -> SelectionSettings:
        return cls(logrank_p=survival["logrank_p"],
                   coexpression=CoexpressionSettings.from_config(survival["coexpression"]),
                   ties=survival["ties"], max_steps=int(survival["stepwise"]["max_steps"]),
                   xgboost=XGBoostCoxSettings.from_config(survival["xgboost"]))


def logrank_screen(expr: pd.DataFrame, time, event, p_cutoff: float) -> pd.DataFrame:
    """Log-rank test of above- vs at/below-median expression, every gene at once."""
    x = expr.to_numpy(dtype=float)
    high = x > np.median(x, axis=0)
    chisq, p, o_e = sv.logrank(time, event, high)
    table = pd.DataFrame({"gene_id": expr.columns, "chisq": chisq, "p_value": p,
                          "high_risk": np.where(o_e > 0, "high", "low"),
                          "selected": p < p_cutoff})
    log.info("log-rank screen: %d of %d genes at p < %g", int(table["selected"].sum()),
             len(table), p_cutoff)
    return table


# AIC's price of a coefficient, in log-likelihood units.
AIC_PER_TERM = 1.0
# How far (log-likelihood units) a move's estimated change may fall short of the best
# bound and still be fitted (see stepwise_cox): ten times the largest error measured.
SCREEN_MARGIN = 1.0


def stepwise_cox(clin: pd.DataFrame, genes: pd.DataFrame, data: sv.CoxData, ties: str,
                 max_steps: int, n_jobs: int = 1, margin: float = SCREEN_MARGIN
                 ) -> tuple[list[str], pd.DataFrame]:
    """Stepwise Cox selection in both directions by AIC (as R's step), starting from and
    never leaving the clinical model: each step adds or drops the one gene that lowers the
    AIC most, until no change lowers it.

    An add lowers the AIC only if it gains more than 1 in log-likelihood, a drop only if it
    loses less than 1, so a step need not fit all of the hundreds of possible moves to
    convergence. One Newton step from the current model, for all adds at once
    (`CoxData.one_step_adds`), bounds each add's gain from below and, with the score test,
    estimates it; a drop's loss is estimated by its Wald statistic. Only the moves whose
    estimate comes within `margin` of the best bound (and of 1) are fitted. At the study's
    size one step was within 0.08 of an add's gain (mostly under 0.02) and the Wald estimate
    within 0.1 of a loss below 3, so a step picks the gene that fitting every move picks
    (margin=inf fits every move). The fits run on up to n_jobs worker processes (the same
    fits with any n_jobs).
    """
    xc, xg = clin.to_numpy(dtype=float), genes.to_numpy(dtype=float)
    x = np.hstack([xc, xg])
    x = (x - x.mean(axis=0))[data.order]  # as cox_fit centres and sorts each model's columns
    n_clin = clin.shape[1]
    column = {g: n_clin + j for j, g in enumerate(genes.columns)}

    def move(chosen, init):
        return [column[g] for g in chosen], init

    current: list[str] = []
    trace = []
    with Workers(_cox_candidate, (xc, xg, data, ties, n_clin), n_jobs) as workers:
        best = workers.map([move(current, None)])[0]
        trace.append((0, "start", "", best.aic))
        for step in range(1, max_steps + 1):
            adds = [g for g in genes.columns if g not in current]
            if adds:
                model = list(range(n_clin)) + [column[g] for g in current]
                lower, chisq = data.one_step_adds(x[:, model], best.coef,
                                                  x[:, [column[g] for g in adds]], ties)
                gain = np.where(np.isfinite(lower), lower - best.loglik, np.inf)
                bound = np.max(np.where(np.isfinite(gain), gain, 0.0))
                keep = np.maximum(gain, chisq / 2) >= max(bound, AIC_PER_TERM) - margin
                adds = [g for g, k in zip(adds, keep, strict=True) if k]
            wald = (best.coef[n_clin:] / best.se[n_clin:]) ** 2 / 2
            drops = [g for g, loss in zip(current, wald, strict=True)
                     if loss <= AIC_PER_TERM + margin]
            # Each candidate model starts from the current estimate (the new gene at 0), so
            # Newton-Raphson needs only a few iterations to the same maximum.
            moves = [("add", g, current + [g], np.r_[best.coef, 0.0]) for g in adds]
            moves += [("drop", g, [c for c in current if c != g],
                       np.delete(best.coef, n_clin + current.index(g))) for g in drops]
            if not moves:
                break
            fits = workers.map([move(chosen, init) for _, _, chosen, init in moves])
            k = int(np.argmin([f.aic for f in fits]))
            if fits[k].aic >= best.aic - 1e-9:
                break
            action, gene, current, _ = moves[k]
            best = fits[k]
            trace.append((step, action, gene, best.aic))
    log.info("stepwise Cox: %d genes, AIC %.2f", len(current), best.aic)
    return current, pd.DataFrame(trace, columns=["step", "action", "gene_id", "aic"])


def _cox_candidate(xc, xg, data, ties, n_clin, move):
    """One candidate of a stepwise step: the clinical columns plus the genes' columns."""
    columns, init = move
    return sv.cox_fit(np.hstack([xc, xg[:, [c - n_clin for c in columns]]]), data=data,
                      ties=ties, init=init)


def xgb_label(time, event) -> np.ndarray:
    """XGBoost survival:cox labels: the time for deaths, minus the time for censored cases
    (the reference study's tuning code labelled every case a death)."""
    time = np.asarray(time, float)
    return np.where(np.asarray(event) == 1, time, -np.maximum(time, 1e-9))


def _xgb_params(combo: dict, seed: int) -> dict:
    # One thread: on a few hundred cases OpenMP threads only contend (10-20x slower on a
    # busy 2-core machine), and a single thread keeps the trees reproducible.
    params = {"objective": "survival:cox", "eval_metric": "cox-nloglik", "tree_method": "exact",
              "nthread": 1, "seed": seed}
    params.update({k: v for k, v in combo.items() if k != "n_rounds"})
    return params


def xgboost_cox(x: pd.DataFrame, time, event, gene_columns, settings: XGBoostCoxSettings,
                seed: int, n_jobs: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Grid search by k-fold CV C-index, refit on all cases, genes ranked by gain.

    Returns the grid (one row per setting: mean and sd of the fold C-indices), the gain of
    every feature (xgboost total_gain as a share, R's xgb.importance Gain) and the top
    `top_genes` genes with positive gain. Settings that differ only in n_rounds share a
    booster per fold: the first n trees of a longer run are the n-round booster (same seed,
    same sampling order), so each is trained once, for its most rounds, and scored at each.
    The (setting, fold) fits run on up to n_jobs worker processes (the same boosters with
    any n_jobs: each is seeded).
    """
    import xgboost as xgb

    time, event = np.asarray(time, float), np.asarray(event, int)
    grid = settings.grid
    keys = sorted(grid)
    combos = [dict(zip(keys, values, strict=True))
              for values in itertools.product(*(grid[k] for k in keys))]
    trees = list(dict.fromkeys(_trees(c) for c in combos))
    rounds = {t: sorted({int(c["n_rounds"]) for c in combos if _trees(c) == t}) for t in trees}
    folds = _stratified_folds(event, settings.folds, seed)
    label = xgb_label(time, event)
    xv = x.to_numpy(dtype=float)
    names = list(x.columns)
    fits = [(_xgb_params(dict(t), seed), rounds[t], test) for t in trees for test in folds]
    scores = process_map(_xgb_fold_c_index, fits, n_jobs, shared=(xv, label, time, event,
                                                                   names))
    rows = []
    for combo in combos:
        first = trees.index(_trees(combo)) * len(folds)
        fold_scores = [s[int(combo["n_rounds"])] for s in scores[first:first + len(folds)]]
        rows.append({**combo, "cv_c_index": float(np.nanmean(fold_scores)),
                     "cv_c_index_sd": float(np.nanstd(fold_scores, ddof=1))})
    table = pd.DataFrame(rows)
    best = combos[int(np.nanargmax(table["cv_c_index"].to_numpy()))]
    booster = xgb.train(_xgb_params(best, seed), xgb.DMatrix(xv, label=label,
                                                             feature_names=names),
                        int(best["n_rounds"]))
    gain = booster.get_score(importance_type="total_gain")
    total = sum(gain.values()) or 1.0
    imp = pd.DataFrame({"feature": names, "gain": [gain.get(f, 0.0) / total for f in names]})
    imp["is_gene"] = imp["feature"].isin(list(gene_columns))
    imp = imp.sort_values(["gain", "feature"], ascending=[False, True], kind="stable")
    top = imp[imp["is_gene"] & (imp["gain"] > 0)]["feature"].head(settings.top_genes)
    log.info("XGBoost-Cox: best %s (CV C %.3f); %d genes kept", best,
             table["cv_c_index"].max(), len(top))
    return table, imp.reset_index(drop=True), top.tolist()


def _trees(combo: dict) -> tuple:
    """A grid setting less its n_rounds: the settings that grow the same trees."""
    return tuple((k, v) for k, v in combo.items() if k != "n_rounds")


def _xgb_fold_c_index(xv, label, time, event, names, fit) -> dict:
    """Harrell's C on one test fold of a booster trained on the other folds, after each of
    the given numbers of rounds."""
    import xgboost as xgb

    params, rounds, test = fit
    train = np.setdiff1d(np.arange(len(time)), test)
    booster = xgb.train(params, xgb.DMatrix(xv[train], label=label[train], feature_names=names),
                        max(rounds))
    dtest = xgb.DMatrix(xv[test], feature_names=names)
    return {n: discrimination.harrell_c(time[test], event[test], booster.predict(
        dtest, output_margin=True, iteration_range=(0, n))) for n in rounds}


def _stratified_folds(event: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """k test folds, deaths and censored cases dealt out evenly in a seeded order."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(event), dtype=int)
    for value in (0, 1):
        idx = rng.permutation(np.flatnonzero(event == value))
        fold[idx] = np.arange(len(idx)) % k
    return [np.flatnonzero(fold == f) for f in range(k)]


@dataclass(frozen=True)
class Selection:
    """Every step of the gene selection on one set of cases."""

    logrank: pd.DataFrame
    modules: Modules | None
    candidates: list[str]
    stepwise_trace: pd.DataFrame
    xgb_grid: pd.DataFrame
    xgb_importance: pd.DataFrame
    genes: dict  # model name -> list of gene ids (clinical: [])


def select_genes(expr: pd.DataFrame, clin: pd.DataFrame, time, event,
                 settings: SelectionSettings, seed: int, n_jobs: int = 1) -> Selection:
    """Log-rank screen -> co-expression hubs -> stepwise Cox and XGBoost-Cox gene lists;
    the stepwise candidates and the XGBoost grid run on up to n_jobs worker processes."""
    screen = logrank_screen(expr, time, event, settings.logrank_p)
    screened = screen.loc[screen["selected"], "gene_id"].tolist()
    co = settings.coexpression
    modules = None
    candidates = screened
    if len(screened) >= max(3, co.min_module_size):
        modules = coexpression_hubs(expr[screened], power=co.power, r2_cutoff=co.r2_cutoff,
                                    cut_height=co.cut_height,
                                    min_module_size=co.min_module_size,
                                    hub_fraction=co.hub_fraction)
        candidates = modules.table.loc[modules.table["hub"], "gene_id"].tolist()
    else:
        log.info("co-expression skipped: %d screened genes, fewer than a module (%s)",
                 len(screened), co.min_module_size)
    data = sv.CoxData(time, event)
    step_genes, trace = stepwise_cox(clin, expr[candidates], data, settings.ties,
                                     settings.max_steps, n_jobs)
    x = pd.concat([clin, expr[candidates]], axis=1)
    grid, importance, xgb_genes = xgboost_cox(x, time, event, candidates, settings.xgboost,
                                              seed, n_jobs)
    return Selection(screen, modules, candidates, trace, grid, importance,
                     {"clinical": [], "stepwise": step_genes, "xgboost": xgb_genes})


def selected_genes_table(genes_by_model: dict) -> pd.DataFrame:
    rows = [(m, rank + 1, g) for m in MODELS for rank, g in enumerate(genes_by_model[m])]
    return pd.DataFrame(rows, columns=["model", "rank", "gene_id"])


def genes_by_model(table: pd.DataFrame) -> dict:
    return {m: table.loc[table["model"] == m, "gene_id"].tolist() for m in MODELS}


def module_tables(selection: Selection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Module table of the screened genes and the soft-threshold fit (empty when the
    co-expression step was skipped: every screened gene is then an unassigned hub)."""
    if selection.modules is not None:
        return selection.modules.table, selection.modules.soft_threshold
    genes = selection.logrank.loc[selection.logrank["selected"], "gene_id"]
    modules = pd.DataFrame({"gene_id": genes, "module": 0, "kME": np.nan, "hub": True})
    return modules, pd.DataFrame(columns=["power", "sft_r2", "slope", "mean_k", "median_k",
                                          "max_k"])
