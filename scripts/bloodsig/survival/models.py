"""The final survival models and their evaluation: Cox models clinical only and with each
selection's genes, C-indices and their tests, risk groups, and the td-AUC over seeded
train/test splits with the genes fixed or re-selected in each split."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..core.parallel import process_map
from ..stats import discrimination
from ..stats import survival as sv
from .inputs import EVENT, TIME, CaseSettings, clinical_matrix
from .selection import MODELS, SelectionSettings, select_genes

log = logging.getLogger(__name__)


GROUPS = ("shorter", "intermediate", "longer")


@dataclass(frozen=True)
class ModelSettings:
    """Rule survival_models: the final models and their risk groups (config `survival`)."""

    cases: CaseSettings
    ties: str  # Cox partial likelihood: breslow or efron
    risk_model: str  # the model whose linear predictor makes the risk groups
    risk_quantiles: tuple[float, float]  # longer at or below the first, shorter above the second
    time_unit: str  # of the survival times, for the figures

    @classmethod
    def from_config(cls, survival: Mapping) -> ModelSettings:
        """From the rule's params (config `survival`)."""
        low, high = survival["risk_quantiles"]
        return cls(cases=CaseSettings.from_config(survival), ties=survival["ties"],
                   risk_model=survival["risk_model"], risk_quantiles=(low, high),
                   time_unit=survival["time_unit"])


@dataclass(frozen=True)
class SplitSettings:
    """Rule survival_splits: the seeded train/test splits and the time-dependent AUC (config
    `survival`); each split reselects its genes with `selection`."""

    cases: CaseSettings
    selection: SelectionSettings
    auc_times: list[float]  # AUC(t) at these times
    splits: int
    test_fraction: float
    time_unit: str  # of the survival times, for the figure

    @classmethod
    def from_config(cls, survival: Mapping) -> SplitSettings:
        """From the rule's params (config `survival`)."""
        return cls(cases=CaseSettings.from_config(survival),
                   selection=SelectionSettings.from_config(survival),
                   auc_times=[float(t) for t in survival["auc_times"]],
                   splits=int(survival["splits"]), test_fraction=float(survival["test_fraction"]),
                   time_unit=survival["time_unit"])


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
        c, se = discrimination.concordance(time, event, risk[m])
        rows.append((cohort, m, len(risk), int(np.sum(event)), c, se,
                     max(c - 1.959964 * se, 0.0), min(c + 1.959964 * se, 1.0)))
    return pd.DataFrame(rows, columns=["cohort", "model", "n", "events", "c_index", "se",
                                       "ci_lower", "ci_upper"])


def cindex_tests(risk: pd.DataFrame, time, event, cohort: str) -> pd.DataFrame:
    """Kang et al. (2015) tests: each gene model against the clinical one, and between them."""
    pairs = [("stepwise", "clinical"), ("xgboost", "clinical"), ("xgboost", "stepwise")]
    rows = []
    for a, b in pairs:
        r = discrimination.compare_concordance(time, event, risk[a], risk[b])
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


def _evaluate_split(expr, clin, time, event, fixed, settings: SplitSettings, seed, indices):
    """The rows of one split (see split_evaluation); indices: (split, train, test)."""
    split, train, test = indices
    times = np.asarray(settings.auc_times, float)
    tr = (expr.iloc[train], clin.iloc[train], time[train], event[train])
    honest = select_genes(*tr, settings.selection, seed + split).genes
    rows = []
    for variant, genes in (("fixed", fixed), ("honest", honest)):
        fits = fit_models(*tr, genes, settings.selection.ties)
        risk = predict(fits, expr.iloc[test], clin.iloc[test])
        for m in MODELS:
            auc = discrimination.cumulative_dynamic_auc(time[test], event[test], risk[m], times)
            rows += [(variant, split, m, "auc", t, a) for t, a in zip(times, auc, strict=True)]
            rows.append((variant, split, m, "c_index", np.nan,
                         discrimination.harrell_c(time[test], event[test], risk[m])))
    log.info("split %d done", split)
    return rows


def split_evaluation(expr: pd.DataFrame, clin: pd.DataFrame, time, event, fixed: dict,
                     settings: SplitSettings, seed: int, n_jobs: int = 1) -> pd.DataFrame:
    """AUC(t) and C-index on the test part of each split, for each model and variant.

    Variant "fixed" refits the models on the training part with the genes selected on all
    cases (optimistic, as the reference study); "honest" re-selects the genes inside each
    training part. Rows: variant, split, model, metric (auc | c_index), time, value.
    The splits run on up to n_jobs worker processes; a split's randomness comes only from
    (seed, split), so the table is the same with any n_jobs.
    """
    time, event = np.asarray(time, float), np.asarray(event, int)
    splits = list(split_indices(event, settings.splits, settings.test_fraction, seed))
    parts = process_map(_evaluate_split, splits, n_jobs,
                        shared=(expr, clin, time, event, fixed, settings, seed))
    rows = [row for part in parts for row in part]
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


@dataclass(frozen=True)
class Evaluation:
    """Final models and their evaluation in each cohort."""

    coefficients: pd.DataFrame
    cindex: pd.DataFrame
    tests: pd.DataFrame
    risk: pd.DataFrame          # cohort, sample_id, time, event, one risk column per model, group
    group_summary: pd.DataFrame
    group_tests: pd.DataFrame


def final_models(cohorts: dict, genes: dict, settings: ModelSettings) -> Evaluation:
    """Fit MODELS on the first cohort (discovery) and evaluate them on every cohort.

    cohorts: name -> (expression samples x genes, cases table); the first is the discovery.
    Risk groups use each cohort's own quantiles of the `risk_model`'s linear predictor.
    """
    names = list(cohorts)
    expr, cases = cohorts[names[0]]
    clinical, ref = settings.cases.clinical, settings.cases.reference_levels
    clin = clinical_matrix(cases, clinical, ref)
    fits = fit_models(expr, clin, cases[TIME], cases[EVENT], genes, settings.ties)
    coefficients = pd.concat([fit.table().assign(model=m) for m, fit in fits.items()])
    coefficients = coefficients[["model", *coefficients.columns[:-1]]]
    parts: dict[str, list] = {"cindex": [], "tests": [], "risk": [], "summary": [], "group": []}
    for name in names:
        e, c = cohorts[name]
        x = clinical_matrix(c, clinical, ref, columns=clin.columns)
        risk = predict(fits, e, x)
        t, d = c[TIME].to_numpy(), c[EVENT].to_numpy()
        parts["cindex"].append(cindex_table(risk, t, d, name))
        parts["tests"].append(cindex_tests(risk, t, d, name))
        group = risk_groups(risk[settings.risk_model], settings.risk_quantiles)
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
