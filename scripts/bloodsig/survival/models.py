"""Survival prognosis from blood expression plus clinical variables: the `survival` stage.

Among cases with survival data (one sample per patient):

1. `survival_cases`, `input_gene_report`, `model_expression`: edgeR's filterByExpr, then mean
   CPM and detection filters, protein-coding genes present in the external cohort; TMM
   log2-CPM with technical covariates regressed out (limma removeBatchEffect, clinical
   variables protected), each gene standardised within its cohort;
2. `select_genes`: per-gene log-rank screen on a median split, co-expression hubs
   (`bloodsig.stats.coexpression`, WGCNA-like), stepwise Cox by AIC with the clinical variables
   always in, and XGBoost-Cox (censoring encoded as negative times) tuned by cross-validated
   C-index, its top genes by gain;
3. `final_models`: Cox models clinical only, clinical + stepwise genes, clinical + XGBoost
   genes; C-index with 95% CI and Kang et al. (2015) tests of correlated C-indices; risk
   groups with Kaplan-Meier medians and pairwise log-rank tests, internally and externally;
4. `split_evaluation`: time-dependent AUC (IPCW, as timeROC) over seeded train/test splits,
   with the genes as selected on all cases ("fixed") and re-selected inside each training
   set ("honest"), and paired Wilcoxon tests against the clinical model (Bonferroni over
   time points).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..core.errors import InputError
from ..core.io import read_tsv
from ..stats import survival as sv
from ..stats.coexpression import Modules, coexpression_hubs
from ..stats.design import model_matrix
from ..stats.limma import remove_batch_effect
from ..stats.normalize import calc_norm_factors, cpm, log2cpm_voom

log = logging.getLogger(__name__)

MODELS = ("clinical", "stepwise", "xgboost")
GROUPS = ("shorter", "intermediate", "longer")
TIME, EVENT = "time", "event"


# ------------------------------------------------------------------------------ inputs

def survival_cases(samples: pd.DataFrame, sheet: dict, settings: dict,
                   path=None) -> pd.DataFrame:
    """Cases with survival data and complete clinical variables, one sample per patient.

    One sample per patient (config `samples.patient_column`; without it every sample is its
    own patient): of a patient's cases with valid survival values, the first in the sample
    table's row order is kept and the others are left out; each such choice is logged
    (patient, kept sample, left-out samples). Returns a table indexed by sample id with
    `time`, `event` and the clinical columns. Bad survival values (negative times, events
    not 0/1, no event) raise InputError.
    """
    group, case = sheet["group_column"], sheet["case"]
    if group not in samples.columns:
        raise InputError("sample table lacks the group column", path=path, column=group)
    cases = samples[samples[group].astype(str) == str(case)]
    if cases.empty:
        raise InputError(f"no sample has {group} = {case}", path=path, column=group)
    clinical = list(settings["clinical"])
    missing = [c for c in clinical if c not in cases.columns]
    if missing:
        raise InputError("clinical variable is not in the sample table", path=path,
                         column=missing[0])
    # Row numbers in messages refer to the whole file, so check before subsetting rows.
    checked = sv.check_survival(samples.where(samples[group].astype(str) == str(case)),
                                settings["time_column"], settings["event_column"], path)
    cases = cases.loc[cases.index.intersection(checked.index)]
    patient = sheet.get("patient_column")
    if patient and patient in cases.columns:
        repeat = cases[patient].notna() & cases[patient].duplicated(keep=False)
        for pid, grp in cases[repeat].groupby(patient, sort=False):
            log.info("patient %s: survival uses sample %s (first in the sample table), not "
                     "%s", pid, grp.index[0], ", ".join(map(str, grp.index[1:])))
        cases = cases[~(cases[patient].notna() & cases[patient].duplicated())]
    complete = cases[clinical].notna().all(axis=1)
    if (~complete).any():
        log.info("%d cases lack a clinical variable and are left out", int((~complete).sum()))
    cases = cases[complete]
    out = pd.DataFrame({TIME: checked.loc[cases.index, settings["time_column"]],
                        EVENT: checked.loc[cases.index, settings["event_column"]]})
    out = out.join(cases[clinical])
    if out[EVENT].sum() == 0:
        raise InputError("no events among the cases with complete clinical data", path=path,
                         column=settings["event_column"])
    log.info("%d cases with survival data, %d events", len(out), int(out[EVENT].sum()))
    return out


def filter_by_expr(counts, min_count: float = 10, min_total_count: float = 15,
                   large_n: int = 10, min_prop: float = 0.7) -> np.ndarray:
    """edgeR 3.40 filterByExpr (no group or design: all samples one group).

    Keeps genes with CPM >= min_count / median(library size) * 1e6 in at least
    large_n + (n - large_n) * min_prop samples (n when n <= large_n) and a total count of at
    least min_total_count.
    """
    y = np.asarray(counts, dtype=float)
    lib = y.sum(axis=0)
    n_min = y.shape[1]
    if n_min > large_n:
        n_min = large_n + (n_min - large_n) * min_prop
    cutoff = min_count / np.median(lib) * 1e6
    tol = 1e-14
    keep_cpm = (cpm(y, lib_size=lib) >= cutoff).sum(axis=1) >= n_min - tol
    return keep_cpm & (y.sum(axis=1) >= min_total_count - tol)


def input_gene_report(counts: pd.DataFrame, genes: pd.DataFrame, external_genes,
                      filters: dict) -> pd.DataFrame:
    """One row per gene of `counts` (cases' columns) with each filter's verdict and `kept`.

    filters: filter_by_expr (bool), min_mean_cpm, min_cpm, min_fraction, gene_types (list or
    null for all). external_genes: gene ids of the external cohort, or None.
    """
    y = counts.to_numpy(dtype=float)
    c = cpm(y)
    report = pd.DataFrame({
        "gene_id": counts.index,
        "gene_name": genes["gene_name"].reindex(counts.index).to_numpy(),
        "gene_type": genes["gene_type"].reindex(counts.index).to_numpy(),
        "mean_cpm": c.mean(axis=1),
        "fraction_cpm": (c >= filters["min_cpm"]).mean(axis=1),
    })
    report["filter_by_expr"] = (filter_by_expr(y) if filters["filter_by_expr"]
                                else np.ones(len(y), bool))
    report["expressed"] = ((report["mean_cpm"] >= filters["min_mean_cpm"])
                           & (report["fraction_cpm"] >= filters["min_fraction"]))
    types = filters.get("gene_types")
    if types and report["gene_type"].isna().all():
        log.warning("no gene has a known gene_type (no annotation or GTF): the gene-type "
                    "filter %s is skipped", types)
        types = None
    report["gene_type_ok"] = report["gene_type"].isin(types) if types else True
    report["in_external"] = (report["gene_id"].isin(list(external_genes))
                             if external_genes is not None else True)
    report["kept"] = report[["filter_by_expr", "expressed", "gene_type_ok",
                             "in_external"]].all(axis=1)
    if not report["kept"].any():
        raise InputError("no gene passes the survival input filters (filterByExpr, mean CPM, "
                         "detection, gene type, presence in the external cohort); relax "
                         "config survival.filters")
    log.info("input genes: %d of %d kept", int(report["kept"].sum()), len(report))
    return report


def model_expression(counts: pd.DataFrame, cases: pd.DataFrame, genes, settings: dict,
                     reference_levels: dict) -> pd.DataFrame:
    """Standardised TMM log2-CPM (samples x genes) of `genes` with technical effects removed.

    TMM uses all genes of `counts`; technical columns (config survival.technical) that vary
    within the cohort are regressed out with the clinical variables protected, then each
    gene is centred and scaled to unit variance within the cohort.
    """
    y = counts[cases.index]
    expr = log2cpm_voom(y, norm_factors=calc_norm_factors(y.to_numpy())).loc[list(genes)]
    technical = [t for t in settings.get("technical") or []
                 if t in cases.columns and cases[t].nunique(dropna=True) > 1]
    if technical:
        keep = model_matrix("~ " + " + ".join(settings["clinical"]), cases, reference_levels)
        rem = model_matrix("~ " + " + ".join(technical), cases).drop(columns="(Intercept)")
        expr = remove_batch_effect(expr, keep.to_numpy(), (rem - rem.mean()).to_numpy())
    x = expr.T
    sd = x.std(axis=0, ddof=1)
    flat = sd <= 1e-10
    if flat.any():
        raise InputError(f"gene '{x.columns[flat.to_numpy()][0]}' has the same expression in "
                         "every case of the cohort", column="gene_id")
    return (x - x.mean(axis=0)) / sd


def clinical_matrix(cases: pd.DataFrame, clinical: list[str], reference_levels: dict,
                    columns=None) -> pd.DataFrame:
    """Numeric clinical covariates (factors treatment-coded), optionally on given columns."""
    design = model_matrix("~ " + " + ".join(clinical), cases, reference_levels)
    design = design.drop(columns="(Intercept)")
    return design if columns is None else design.reindex(columns=columns, fill_value=0.0)


# --------------------------------------------------------------------------- selection

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


def stepwise_cox(clin: pd.DataFrame, genes: pd.DataFrame, data: sv.CoxData, ties: str,
                 max_steps: int) -> tuple[list[str], pd.DataFrame]:
    """Stepwise Cox selection in both directions by AIC (as R's step), starting from and
    never leaving the clinical model: each step adds or drops the one gene that lowers the
    AIC most, until no change lowers it."""
    xc, xg = clin.to_numpy(dtype=float), genes.to_numpy(dtype=float)
    column = {g: j for j, g in enumerate(genes.columns)}

    def fit(chosen, init):
        x = np.hstack([xc, xg[:, [column[g] for g in chosen]]])
        return sv.cox_fit(x, data=data, ties=ties, init=init)

    current: list[str] = []
    best = fit(current, None)
    trace = [(0, "start", "", best.aic)]
    n_clin = clin.shape[1]
    for step in range(1, max_steps + 1):
        # Each candidate model starts from the current estimate (the new gene at 0), so
        # Newton-Raphson needs only a few iterations to the same maximum.
        moves = [("add", g, current + [g], np.r_[best.coef, 0.0])
                 for g in genes.columns if g not in current]
        moves += [("drop", g, [c for c in current if c != g],
                   np.delete(best.coef, n_clin + current.index(g))) for g in current]
        if not moves:
            break
        fits = [fit(chosen, init) for _, _, chosen, init in moves]
        k = int(np.argmin([f.aic for f in fits]))
        if fits[k].aic >= best.aic - 1e-9:
            break
        action, gene, current, _ = moves[k]
        best = fits[k]
        trace.append((step, action, gene, best.aic))
    log.info("stepwise Cox: %d genes, AIC %.2f", len(current), best.aic)
    return current, pd.DataFrame(trace, columns=["step", "action", "gene_id", "aic"])


def xgb_label(time, event) -> np.ndarray:
    """XGBoost survival:cox labels: the time for deaths, minus the time for censored cases
    (the reference study's tuning code labelled every case a death)."""
    time = np.asarray(time, float)
    return np.where(np.asarray(event) == 1, time, -np.maximum(time, 1e-9))


def _xgb_params(combo: dict, seed: int) -> tuple[dict, int]:
    # One thread: on a few hundred cases OpenMP threads only contend (10-20x slower on a
    # busy 2-core machine), and a single thread keeps the trees reproducible.
    params = {"objective": "survival:cox", "eval_metric": "cox-nloglik", "tree_method": "exact",
              "nthread": 1, "seed": seed}
    params.update({k: v for k, v in combo.items() if k != "n_rounds"})
    return params, int(combo["n_rounds"])


def xgboost_cox(x: pd.DataFrame, time, event, gene_columns, settings: dict,
                seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Grid search by k-fold CV C-index, refit on all cases, genes ranked by gain.

    Returns the grid (one row per setting: mean and sd of the fold C-indices), the gain of
    every feature (xgboost total_gain as a share, R's xgb.importance Gain) and the top
    `top_genes` genes with positive gain.
    """
    import xgboost as xgb

    time, event = np.asarray(time, float), np.asarray(event, int)
    grid = settings["grid"]
    keys = sorted(grid)
    combos = [dict(zip(keys, values, strict=True))
              for values in itertools.product(*(grid[k] for k in keys))]
    folds = _stratified_folds(event, int(settings["folds"]), seed)
    label = xgb_label(time, event)
    xv = x.to_numpy(dtype=float)
    names = list(x.columns)
    rows = []
    for combo in combos:
        params, rounds = _xgb_params(combo, seed)
        scores = []
        for test in folds:
            train = np.setdiff1d(np.arange(len(time)), test)
            booster = xgb.train(params, xgb.DMatrix(xv[train], label=label[train],
                                                    feature_names=names), rounds)
            risk = booster.predict(xgb.DMatrix(xv[test], feature_names=names),
                                   output_margin=True)
            scores.append(harrell_c(time[test], event[test], risk))
        rows.append({**combo, "cv_c_index": float(np.nanmean(scores)),
                     "cv_c_index_sd": float(np.nanstd(scores, ddof=1))})
    table = pd.DataFrame(rows)
    best = combos[int(np.nanargmax(table["cv_c_index"].to_numpy()))]
    params, rounds = _xgb_params(best, seed)
    booster = xgb.train(params, xgb.DMatrix(xv, label=label, feature_names=names), rounds)
    gain = booster.get_score(importance_type="total_gain")
    total = sum(gain.values()) or 1.0
    imp = pd.DataFrame({"feature": names, "gain": [gain.get(f, 0.0) / total for f in names]})
    imp["is_gene"] = imp["feature"].isin(list(gene_columns))
    imp = imp.sort_values(["gain", "feature"], ascending=[False, True], kind="stable")
    top = imp[imp["is_gene"] & (imp["gain"] > 0)]["feature"].head(int(settings["top_genes"]))
    log.info("XGBoost-Cox: best %s (CV C %.3f); %d genes kept", best,
             table["cv_c_index"].max(), len(top))
    return table, imp.reset_index(drop=True), top.tolist()


def _stratified_folds(event: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """k test folds, deaths and censored cases dealt out evenly in a seeded order."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(event), dtype=int)
    for value in (0, 1):
        idx = rng.permutation(np.flatnonzero(event == value))
        fold[idx] = np.arange(len(idx)) % k
    return [np.flatnonzero(fold == f) for f in range(k)]


def harrell_c(time, event, risk) -> float:
    """Harrell's C (higher risk = shorter survival; score ties count one half)."""
    time, event = np.asarray(time, float), np.asarray(event, float)
    r = np.asarray(risk, float)
    a = (time[:, None] < time[None, :]) * event[:, None]
    a += (time[:, None] == time[None, :]) * event[:, None] * (1 - event[None, :])
    total = a.sum()
    if total == 0:
        return float("nan")
    s = np.sign(r[:, None] - r[None, :])
    return float(((s > 0) * a).sum() + 0.5 * ((s == 0) * a).sum()) / total


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


def select_genes(expr: pd.DataFrame, clin: pd.DataFrame, time, event, settings: dict,
                 seed: int) -> Selection:
    """Log-rank screen -> co-expression hubs -> stepwise Cox and XGBoost-Cox gene lists."""
    screen = logrank_screen(expr, time, event, settings["logrank_p"])
    screened = screen.loc[screen["selected"], "gene_id"].tolist()
    co = settings["coexpression"]
    modules = None
    candidates = screened
    if len(screened) >= max(3, int(co["min_module_size"])):
        modules = coexpression_hubs(expr[screened], power=co["power"],
                                    r2_cutoff=co["r2_cutoff"], cut_height=co["cut_height"],
                                    min_module_size=int(co["min_module_size"]),
                                    hub_fraction=co["hub_fraction"])
        candidates = modules.table.loc[modules.table["hub"], "gene_id"].tolist()
    else:
        log.info("co-expression skipped: %d screened genes, fewer than a module (%s)",
                 len(screened), co["min_module_size"])
    data = sv.CoxData(time, event)
    step_genes, trace = stepwise_cox(clin, expr[candidates], data, settings["ties"],
                                     int(settings["stepwise"]["max_steps"]))
    x = pd.concat([clin, expr[candidates]], axis=1)
    grid, importance, xgb_genes = xgboost_cox(x, time, event, candidates, settings["xgboost"],
                                              seed)
    return Selection(screen, modules, candidates, trace, grid, importance,
                     {"clinical": [], "stepwise": step_genes, "xgboost": xgb_genes})


def selected_genes_table(genes_by_model: dict) -> pd.DataFrame:
    rows = [(m, rank + 1, g) for m in MODELS for rank, g in enumerate(genes_by_model[m])]
    return pd.DataFrame(rows, columns=["model", "rank", "gene_id"])


def genes_by_model(table: pd.DataFrame) -> dict:
    return {m: table.loc[table["model"] == m, "gene_id"].tolist() for m in MODELS}


# ---------------------------------------------------------------------- final models

def fit_models(expr: pd.DataFrame, clin: pd.DataFrame, time, event, genes: dict,
               ties: str) -> dict:
    """Cox model of each of MODELS: clinical covariates plus that model's genes."""
    data = sv.CoxData(time, event)
    return {m: sv.cox_fit(pd.concat([clin, expr[genes[m]]], axis=1), data=data, ties=ties)
            for m in MODELS}


def predict(fits: dict, expr: pd.DataFrame, clin: pd.DataFrame) -> pd.DataFrame:
    """Linear predictor of every model for the samples of expr/clin (same columns)."""
    return pd.DataFrame({m: fit.predict(pd.concat([clin, expr], axis=1)[fit.names])
                         for m, fit in fits.items()}, index=clin.index)


def cindex_table(risk: pd.DataFrame, time, event, cohort: str) -> pd.DataFrame:
    """C-index of each model with its SE and 95% CI (normal approximation, Kang 2015 SE)."""
    rows = []
    for m in risk.columns:
        c, se = sv.concordance(time, event, risk[m])
        rows.append((cohort, m, len(risk), int(np.sum(event)), c, se,
                     max(c - 1.959964 * se, 0.0), min(c + 1.959964 * se, 1.0)))
    return pd.DataFrame(rows, columns=["cohort", "model", "n", "events", "c_index", "se",
                                       "ci_lower", "ci_upper"])


def cindex_tests(risk: pd.DataFrame, time, event, cohort: str) -> pd.DataFrame:
    """Kang et al. (2015) tests: each gene model against the clinical one, and between them."""
    pairs = [("stepwise", "clinical"), ("xgboost", "clinical"), ("xgboost", "stepwise")]
    rows = []
    for a, b in pairs:
        r = sv.compare_concordance(time, event, risk[a], risk[b])
        rows.append((cohort, a, b, r["c_a"], r["c_b"], r["diff"], np.sqrt(r["var_diff"]),
                     r["z"], r["p_value"]))
    return pd.DataFrame(rows, columns=["cohort", "model_a", "model_b", "c_a", "c_b",
                                       "difference", "se", "z", "p_value"])


def risk_groups(risk, quantiles=(0.25, 0.75)) -> np.ndarray:
    """'shorter' (risk above the upper quantile), 'longer' (at or below the lower one) or
    'intermediate' survival, from a risk score (higher = shorter survival)."""
    r = np.asarray(risk, float)
    lo, hi = np.quantile(r, quantiles)
    return np.where(r > hi, "shorter", np.where(r <= lo, "longer", "intermediate"))


def risk_group_tables(groups, time, event, cohort: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per group: n, events, Kaplan-Meier median; per pair: median difference and log-rank."""
    groups, time, event = np.asarray(groups), np.asarray(time, float), np.asarray(event, int)
    present = [g for g in GROUPS if (groups == g).any()]
    medians = {g: sv.km_median(time[groups == g], event[groups == g]) for g in present}
    summary = pd.DataFrame({"cohort": cohort, "group": present,
                            "n": [int((groups == g).sum()) for g in present],
                            "events": [int(event[groups == g].sum()) for g in present],
                            "median_survival": [medians[g] for g in present]})
    order = np.argsort([GROUPS.index(g) for g in groups], kind="stable")
    tests = sv.pairwise_logrank(time[order], event[order], groups[order])
    tests.insert(0, "cohort", cohort)
    tests.insert(3, "median_a", tests["group_a"].map(medians))
    tests.insert(4, "median_b", tests["group_b"].map(medians))
    tests.insert(5, "median_difference", tests["median_b"] - tests["median_a"])
    return summary, tests


# ------------------------------------------------------------------ split evaluation

def split_indices(event, n_splits: int, test_fraction: float, seed: int):
    """Seeded train/test splits, stratified by event status; split s draws from [seed, s]."""
    event = np.asarray(event, int)
    for s in range(n_splits):
        rng = np.random.default_rng([seed, s])
        test = []
        for value in (0, 1):
            idx = np.flatnonzero(event == value)
            test.append(rng.choice(idx, size=int(round(test_fraction * len(idx))),
                                   replace=False))
        test = np.sort(np.concatenate(test))
        yield s + 1, np.setdiff1d(np.arange(len(event)), test), test


def _evaluate_split(expr, clin, time, event, fixed, settings, seed, split, train, test):
    """The rows of one split (see split_evaluation)."""
    times = np.asarray(settings["auc_times"], float)
    tr = (expr.iloc[train], clin.iloc[train], time[train], event[train])
    honest = select_genes(*tr, settings, seed + split).genes
    rows = []
    for variant, genes in (("fixed", fixed), ("honest", honest)):
        fits = fit_models(*tr, genes, settings["ties"])
        risk = predict(fits, expr.iloc[test], clin.iloc[test])
        for m in MODELS:
            auc = sv.cumulative_dynamic_auc(time[test], event[test], risk[m], times)
            rows += [(variant, split, m, "auc", t, a) for t, a in zip(times, auc, strict=True)]
            rows.append((variant, split, m, "c_index", np.nan,
                         harrell_c(time[test], event[test], risk[m])))
    log.info("split %d done", split)
    return rows


def split_evaluation(expr: pd.DataFrame, clin: pd.DataFrame, time, event, fixed: dict,
                     settings: dict, seed: int) -> pd.DataFrame:
    """AUC(t) and C-index on the test part of each split, for each model and variant.

    Variant "fixed" refits the models on the training part with the genes selected on all
    cases (optimistic, as the reference study); "honest" re-selects the genes inside each
    training part. Rows: variant, split, model, metric (auc | c_index), time, value.
    """
    time, event = np.asarray(time, float), np.asarray(event, int)
    rows = []
    for split, train, test in split_indices(event, int(settings["splits"]),
                                            float(settings["test_fraction"]), seed):
        rows += _evaluate_split(expr, clin, time, event, fixed, settings, seed, split, train,
                                test)
    return pd.DataFrame(rows, columns=["variant", "split", "model", "metric", "time", "value"])


def split_tests(splits: pd.DataFrame) -> pd.DataFrame:
    """Paired Wilcoxon signed-rank test of each gene model against the clinical one over the
    splits, per variant, metric and time; Bonferroni over the time points of the AUC."""
    rows = []
    keys = ["variant", "metric", "time"]
    splits = splits.assign(time=splits["time"].fillna(-1))
    for (variant, metric, t), part in splits.groupby(keys, sort=True):
        wide = part.pivot(index="split", columns="model", values="value")
        for m in ("stepwise", "xgboost"):
            pair = wide[[m, "clinical"]].dropna()
            diff = (pair[m] - pair["clinical"]).to_numpy()
            p = (stats.wilcoxon(diff).pvalue if len(diff) >= 2 and np.any(diff != 0)
                 else np.nan)
            rows.append((variant, metric, np.nan if t < 0 else t, m, len(pair),
                         pair[m].mean(), pair["clinical"].mean(), p))
    out = pd.DataFrame(rows, columns=["variant", "metric", "time", "model", "n_splits",
                                      "mean", "mean_clinical", "p_value"])
    n_times = out[out["metric"] == "auc"].groupby(["variant", "model"])["time"].transform(
        "nunique")
    out["p_bonferroni"] = np.minimum(out["p_value"] * n_times.reindex(out.index).fillna(1), 1)
    return out


# ------------------------------------------------------------------- stage tables

def expression_table(expr: pd.DataFrame) -> pd.DataFrame:
    """samples x genes -> the house layout: gene_id + one column per sample."""
    return expr.T.rename_axis("gene_id").reset_index()


def read_case_data(expression, cases, settings: dict
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The stage's expression (samples x genes), case table and clinical design matrix."""
    table = read_cases(cases, settings)
    clin = clinical_matrix(table, settings["clinical"], settings.get("reference_levels") or {})
    return read_expression(expression), table, clin


def read_expression(path) -> pd.DataFrame:
    """A stage expression table back as samples x genes."""
    df = read_tsv(path, required=["gene_id"], what="expression table", dtype={"gene_id": str})
    return df.set_index("gene_id").T


def cases_table(cases: pd.DataFrame) -> pd.DataFrame:
    return cases.rename_axis("sample_id").reset_index()


def read_cases(path, settings: dict) -> pd.DataFrame:
    """A stage case table (sample_id, time, event, clinical columns) indexed by sample id."""
    df = read_tsv(path, required=["sample_id", TIME, EVENT, *settings["clinical"]],
                  what="survival case table", dtype={"sample_id": str})
    return df.set_index("sample_id").rename_axis(None)


def name_genes(table: pd.DataFrame, genes: pd.DataFrame, column: str = "gene_id"):
    """Insert gene_name after the gene id column (ids of non-genes, e.g. clinical terms, stay
    without a name)."""
    out = table.copy()
    out.insert(out.columns.get_loc(column) + 1, "gene_name",
               genes["gene_name"].reindex(out[column]).to_numpy())
    return out


def module_tables(selection: Selection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Module table of the screened genes and the soft-threshold fit (empty when the
    co-expression step was skipped: every screened gene is then an unassigned hub)."""
    if selection.modules is not None:
        return selection.modules.table, selection.modules.soft_threshold
    genes = selection.logrank.loc[selection.logrank["selected"], "gene_id"]
    modules = pd.DataFrame({"gene_id": genes, "module": 0, "kME": np.nan, "hub": True})
    return modules, pd.DataFrame(columns=["power", "sft_r2", "slope", "mean_k", "median_k",
                                          "max_k"])


@dataclass(frozen=True)
class Evaluation:
    """Final models and their evaluation in each cohort."""

    coefficients: pd.DataFrame
    cindex: pd.DataFrame
    tests: pd.DataFrame
    risk: pd.DataFrame          # cohort, sample_id, time, event, one risk column per model, group
    group_summary: pd.DataFrame
    group_tests: pd.DataFrame


def final_models(cohorts: dict, genes: dict, settings: dict) -> Evaluation:
    """Fit MODELS on the first cohort (discovery) and evaluate them on every cohort.

    cohorts: name -> (expression samples x genes, cases table); the first is the discovery.
    Risk groups use each cohort's own quantiles of the `risk_model`'s linear predictor.
    """
    names = list(cohorts)
    expr, cases = cohorts[names[0]]
    ref = settings.get("reference_levels") or {}
    clin = clinical_matrix(cases, settings["clinical"], ref)
    fits = fit_models(expr, clin, cases[TIME], cases[EVENT], genes, settings["ties"])
    coefficients = pd.concat([fit.table().assign(model=m) for m, fit in fits.items()])
    coefficients = coefficients[["model", *coefficients.columns[:-1]]]
    parts: dict[str, list] = {"cindex": [], "tests": [], "risk": [], "summary": [], "group": []}
    for name in names:
        e, c = cohorts[name]
        x = clinical_matrix(c, settings["clinical"], ref, columns=clin.columns)
        risk = predict(fits, e, x)
        t, d = c[TIME].to_numpy(), c[EVENT].to_numpy()
        parts["cindex"].append(cindex_table(risk, t, d, name))
        parts["tests"].append(cindex_tests(risk, t, d, name))
        group = risk_groups(risk[settings["risk_model"]], settings["risk_quantiles"])
        parts["risk"].append(pd.concat([pd.DataFrame({"cohort": name, "sample_id": c.index,
                                                      TIME: t, EVENT: d}, index=c.index),
                                        risk, pd.Series(group, index=c.index, name="group")],
                                       axis=1))
        summary, tests = risk_group_tables(group, t, d, name)
        parts["summary"].append(summary)
        parts["group"].append(tests)
    return Evaluation(coefficients.reset_index(drop=True), *(
        pd.concat(parts[k], ignore_index=True) for k in ("cindex", "tests", "risk", "summary",
                                                          "group")))
