"""bloodsig.survival (the stage): cases, input genes, expression, gene selection, models."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from bloodsig.core.errors import InputError
from bloodsig.survival import inputs, selection
from bloodsig.survival import models as pg

SHEET = {"id_column": "sample_id", "patient_column": "patient_id", "group_column": "group",
         "case": "ALS"}
SETTINGS = {
    "time_column": "survival_time", "event_column": "survival_event",
    "clinical": ["onset_segment", "onset_age", "sex"],
    "reference_levels": {"onset_segment": "spinal", "sex": "female"},
    "technical": ["batch"],
    "filters": {"filter_by_expr": True, "min_mean_cpm": 10, "min_cpm": 1, "min_fraction": 0.9,
                "gene_types": ["protein_coding"]},
    "logrank_p": 0.05,
    "coexpression": {"power": "auto", "r2_cutoff": 0.8, "cut_height": 0.95,
                     "min_module_size": 5, "hub_fraction": 0.1},
    "stepwise": {"max_steps": 20}, "ties": "breslow",
    "xgboost": {"folds": 3, "top_genes": 5,
                "grid": {"max_depth": [2], "learning_rate": [0.1], "n_rounds": [50, 100]}},
    "risk_model": "xgboost", "risk_quantiles": [0.25, 0.75],
    "auc_times": [12, 24, 36], "splits": 2, "test_fraction": 0.25, "time_unit": "months",
}
# the settings objects the stage's rules make from these keys
INPUTS = inputs.InputSettings.from_config(SETTINGS, SHEET)
CASES = INPUTS.cases
SELECTION = selection.SelectionSettings.from_config(SETTINGS)
PLANTED = ["G000", "G001", "G002", "G003"]


def simulate(n=220, n_genes=40, seed=4):
    """Cases with clinical hazards and four planted prognostic genes (log HR 0.6 per sd)."""
    rng = np.random.default_rng(seed)
    bulbar = rng.random(n) < 0.3
    age = rng.normal(60, 10, n).round(1)
    male = rng.random(n) < 0.6
    expr = pd.DataFrame(rng.normal(size=(n, n_genes)),
                        columns=[f"G{i:03d}" for i in range(n_genes)],
                        index=[f"S{i:03d}" for i in range(n)])
    eta = 0.8 * bulbar + 0.035 * (age - 60) + 0.15 * male
    eta += expr[PLANTED].to_numpy() @ np.array([0.6, -0.6, 0.6, -0.6])
    t = 30 * (rng.exponential(size=n) / np.exp(eta)) ** (1 / 1.3)
    c = rng.exponential(60, n)
    cases = pd.DataFrame({"time": np.minimum(t, c).round(1), "event": (t <= c).astype(int),
                          "onset_segment": np.where(bulbar, "bulbar", "spinal"),
                          "onset_age": age, "sex": np.where(male, "male", "female")},
                         index=expr.index)
    return expr, cases


def sample_sheet():
    return pd.DataFrame({
        "sample_id": ["S1", "S2", "S3", "S4", "S5", "S6"],
        "patient_id": ["P1", "P1", "P2", "P3", "P4", "P5"],
        "group": ["ALS", "ALS", "control", "ALS", "ALS", "ALS"],
        "onset_segment": ["bulbar", "bulbar", None, "spinal", "spinal", None],
        "onset_age": [55.0, 55.0, None, 61.0, 70.0, 50.0],
        "sex": ["male", "male", "female", "female", "male", "female"],
        "survival_time": [20.0, 20.0, None, 35.5, None, 10.0],
        "survival_event": [1, 1, None, 0, None, 1],
    }).set_index("sample_id", drop=False).rename_axis(None)


# ------------------------------------------------------------------------- cases

def test_survival_cases_one_per_patient_with_data(caplog):
    with caplog.at_level("INFO"):
        cases = inputs.survival_cases(sample_sheet(), INPUTS)
    # S2 repeats P1, S3 is a control, S5 has no survival data, S6 lacks its onset segment.
    assert cases.index.tolist() == ["S1", "S4"]
    assert cases["time"].tolist() == [20.0, 35.5] and cases["event"].tolist() == [1, 0]
    assert "patient P1: survival uses sample S1 (first in the sample table), not S2" in caplog.text
    # the first sample in the table's order is kept; missing patient ids are their own
    sheet = sample_sheet().iloc[[1, 0, 2, 3, 4, 5]]
    assert inputs.survival_cases(sheet, INPUTS).index.tolist() == ["S2", "S4"]
    sheet.loc[["S1", "S4"], "patient_id"] = None
    assert inputs.survival_cases(sheet, INPUTS).index.tolist() == ["S2", "S1", "S4"]


@pytest.mark.parametrize("column, row, value, words", [
    ("survival_time", 5, -3.0, "survival time -3 is not positive"),
    ("survival_event", 7, 2, "event indicator 2 is not 0"),
])
def test_survival_cases_refuses_bad_values_naming_the_sheet_row(column, row, value, words):
    sheet = sample_sheet()
    sheet.iloc[row - 2, sheet.columns.get_loc(column)] = value
    with pytest.raises(InputError) as err:
        inputs.survival_cases(sheet, INPUTS, path="samples.tsv")
    assert err.value.row == row and err.value.column == column and words in str(err.value)


def test_survival_cases_refuses_no_events_and_missing_columns():
    sheet = sample_sheet()
    sheet["survival_event"] = sheet["survival_event"].where(sheet["survival_event"].isna(), 0)
    with pytest.raises(InputError, match="no events"):
        inputs.survival_cases(sheet, INPUTS)
    with pytest.raises(InputError, match="clinical variable"):
        inputs.survival_cases(sample_sheet().drop(columns="onset_age"), INPUTS)
    with pytest.raises(InputError, match="no sample has group = ALS"):
        inputs.survival_cases(sample_sheet().assign(group="control"), INPUTS)


# ------------------------------------------------------------------ input genes

def test_input_gene_report_applies_every_filter():
    rng = np.random.default_rng(0)
    n = 30
    # Libraries of about a million reads (gene Z), so that CPMs are realistic.
    lam = np.array([500, 500, 500, 500, 2, 500.0, 1e6])
    counts = pd.DataFrame(rng.poisson(lam[:, None] * np.ones(n)),
                          index=["A", "B", "C", "D", "E", "F", "Z"],
                          columns=[f"S{i}" for i in range(n)])
    counts.loc["F"] = 0
    counts.loc["F", counts.columns[:5]] = 3000  # high mean, but detected in too few cases
    genes = pd.DataFrame({"gene_name": list("abcdefz"),
                          "gene_type": ["protein_coding", "lncRNA"] + ["protein_coding"] * 5},
                         index=counts.index)
    report = inputs.input_gene_report(counts, genes, ["A", "B", "E", "F"], INPUTS.filters)
    r = report.set_index("gene_id")
    assert r["kept"].tolist() == [True, False, False, False, False, False, False]
    assert not r.loc["B", "gene_type_ok"] and not r.loc["C", "in_external"]
    assert not r.loc["E", "expressed"] and not r.loc["F", "expressed"]
    with pytest.raises(InputError, match="no gene passes"):
        inputs.input_gene_report(counts, genes, [], INPUTS.filters)


def test_model_expression_removes_batch_and_standardises():
    rng = np.random.default_rng(1)
    n = 60
    samples = pd.DataFrame({"onset_segment": rng.choice(["spinal", "bulbar"], n),
                            "onset_age": rng.normal(60, 8, n), "sex": rng.choice(
                                ["female", "male"], n),
                            "batch": np.repeat(["b1", "b2"], n // 2)},
                           index=[f"S{i}" for i in range(n)])
    base = rng.uniform(200, 2000, 50)
    shift = np.where(samples["batch"] == "b2", 3.0, 1.0)  # gene G0 triples in batch b2
    mu = np.tile(base[:, None], (1, n))
    mu[0] *= shift
    counts = pd.DataFrame(rng.poisson(mu), index=[f"G{i}" for i in range(50)],
                          columns=samples.index)
    expr = inputs.model_expression(counts, samples, ["G0", "G1"], INPUTS)
    assert expr.shape == (n, 2)
    np.testing.assert_allclose(expr.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(expr.std(ddof=1), 1)
    by_batch = expr["G0"].groupby(samples["batch"]).mean()
    assert abs(by_batch["b1"] - by_batch["b2"]) < 0.1
    # Identical libraries: every gene has the same expression in every case.
    same = pd.DataFrame(np.tile(counts[["S0"]].to_numpy(), (1, n)), index=counts.index,
                        columns=samples.index)
    with pytest.raises(InputError, match="same expression"):
        inputs.model_expression(same, samples, ["G1"], dataclasses.replace(INPUTS, technical=[]))


# -------------------------------------------------------------------- selection

def test_logrank_screen_finds_planted_genes():
    expr, cases = simulate()
    table = selection.logrank_screen(expr, cases["time"], cases["event"], 0.01)
    assert set(PLANTED) <= set(table.loc[table["selected"], "gene_id"])
    assert table.loc[table["selected"], "gene_id"].isin(PLANTED).mean() >= 0.5
    high = table.set_index("gene_id")["high_risk"]
    assert high[PLANTED].tolist() == ["high", "low", "high", "low"]


def test_stepwise_keeps_clinical_and_picks_planted_genes():
    expr, cases = simulate()
    clin = inputs.clinical_matrix(cases, CASES.clinical, CASES.reference_levels)
    from bloodsig.stats.survival import CoxData

    genes, trace = selection.stepwise_cox(clin, expr.iloc[:, :15], CoxData(cases["time"],
                                                                     cases["event"]),
                                   "breslow", 20)
    assert set(PLANTED) <= set(genes)
    assert len(genes) <= 7
    assert (np.diff(trace["aic"]) < 0).all() and trace["action"].iloc[0] == "start"
    assert set(trace["gene_id"].iloc[1:]) <= set(expr.columns[:15])


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_stepwise_screening_picks_the_moves_that_fitting_every_move_picks(ties):
    # Only the moves whose one-step or Wald estimate comes near the best are fitted; with
    # every move fitted (margin inf) the trace is the same, on 60 genes and 40 steps.
    from bloodsig.stats.survival import CoxData

    expr, cases = simulate(n_genes=60, seed=7)
    clin = inputs.clinical_matrix(cases, CASES.clinical, CASES.reference_levels)
    data = CoxData(cases["time"].round(-1 if ties == "efron" else 3), cases["event"])
    screened = selection.stepwise_cox(clin, expr, data, ties, 40)
    every = selection.stepwise_cox(clin, expr, data, ties, 40, margin=np.inf)
    assert screened[0] == every[0] and len(every[0]) >= 6
    pd.testing.assert_frame_equal(screened[1], every[1])


def test_xgb_label_encodes_censoring_as_negative_time():
    np.testing.assert_array_equal(selection.xgb_label([5.0, 7.0, 0.0], [1, 0, 1]), [5.0, -7.0, 0.0])
    assert selection.xgb_label([0.0], [0])[0] < 0


def test_xgboost_grid_scores_fewer_rounds_on_the_first_trees_of_the_longest_run():
    # A 50-round setting scored on the first 50 trees of its 100-round booster has the fold
    # C-indices of a grid that trains it alone.
    expr, cases = simulate()
    clin = inputs.clinical_matrix(cases, CASES.clinical, CASES.reference_levels)
    x = pd.concat([clin, expr.iloc[:, :10]], axis=1)
    both = SELECTION.xgboost
    alone = dataclasses.replace(both, grid={**both.grid, "n_rounds": [50]})
    args = (x, cases["time"], cases["event"], list(expr.columns[:10]))
    shared = selection.xgboost_cox(*args, both, seed=3)[0]
    single = selection.xgboost_cox(*args, alone, seed=3)[0]
    assert shared["n_rounds"].tolist() == [50, 100]
    pd.testing.assert_frame_equal(shared.iloc[[0]], single)
    assert shared["cv_c_index"].iloc[0] != shared["cv_c_index"].iloc[1]


def test_select_genes_end_to_end_recovers_planted_genes():
    expr, cases = simulate()
    clin = inputs.clinical_matrix(cases, CASES.clinical, CASES.reference_levels)
    sel = selection.select_genes(expr, clin, cases["time"], cases["event"], SELECTION, seed=1)
    assert len(set(PLANTED) & set(sel.genes["stepwise"])) >= 3
    assert len(set(PLANTED) & set(sel.genes["xgboost"])) >= 3
    assert sel.genes["clinical"] == []
    assert len(sel.xgb_grid) == 2 and sel.xgb_grid["cv_c_index"].between(0.5, 1).all()
    imp = sel.xgb_importance
    assert imp["gain"].sum() == pytest.approx(1.0)
    # Reproducible: the same seed gives the same choices.
    again = selection.select_genes(expr, clin, cases["time"], cases["event"], SELECTION, seed=1)
    assert again.genes == sel.genes


def test_select_genes_in_parallel_equals_one_after_another():
    """The stepwise candidates and the XGBoost grid on worker processes: the same tables."""
    expr, cases = simulate()
    clin = inputs.clinical_matrix(cases, CASES.clinical, CASES.reference_levels)
    one, two = (selection.select_genes(expr, clin, cases["time"], cases["event"], SELECTION,
                                       seed=1, n_jobs=n_jobs) for n_jobs in (1, 2))
    assert one.genes == two.genes and one.candidates == two.candidates
    for table in ("logrank", "stepwise_trace", "xgb_grid", "xgb_importance"):
        pd.testing.assert_frame_equal(getattr(one, table), getattr(two, table),
                                      check_exact=True)


# --------------------------------------------------------------- models, groups

def test_final_models_gene_models_beat_clinical_and_groups_separate():
    expr, cases = simulate()
    genes = {"clinical": [], "stepwise": PLANTED, "xgboost": PLANTED[:2]}
    half = cases.index[:110], cases.index[110:]
    res = pg.final_models({"a": (expr.loc[half[0]], cases.loc[half[0]]),
                           "b": (expr.loc[half[1]], cases.loc[half[1]])}, genes,
                          pg.ModelSettings.from_config(SETTINGS))
    c = res.cindex.set_index(["cohort", "model"])["c_index"]
    for cohort in ("a", "b"):
        assert c[cohort, "stepwise"] > c[cohort, "clinical"] + 0.03
    assert (res.cindex["ci_lower"] < res.cindex["c_index"]).all()
    coefs = res.coefficients[res.coefficients["model"] == "stepwise"].set_index("term")
    assert np.sign(coefs.loc[PLANTED, "coef"]).tolist() == [1, -1, 1, -1]
    summary = res.group_summary[res.group_summary["cohort"] == "a"].set_index("group")
    assert summary.loc["shorter", "median_survival"] < summary.loc["longer", "median_survival"]
    assert summary["n"].sum() == 110
    tests = res.group_tests[res.group_tests["cohort"] == "a"]
    assert tests.loc[(tests["group_a"] == "shorter") & (tests["group_b"] == "longer"),
                     "p_value"].iloc[0] < 0.01
    assert set(res.tests["model_b"]) == {"clinical", "stepwise"}


def test_risk_groups_quartiles():
    groups = pg.risk_groups(np.arange(100.0))
    assert (groups == "shorter").sum() == 25 and (groups == "longer").sum() == 25
    assert groups[0] == "longer" and groups[-1] == "shorter"


def test_split_indices_are_seeded_stratified_and_disjoint():
    event = np.array([1] * 60 + [0] * 40)
    splits = list(pg.split_indices(event, 3, 0.2, seed=9))
    again = list(pg.split_indices(event, 3, 0.2, seed=9))
    for (_, train, test), (_, _, test2) in zip(splits, again, strict=True):
        np.testing.assert_array_equal(test, test2)
        assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 100
        assert event[test].sum() == 12 and len(test) == 20
    assert not np.array_equal(splits[0][2], splits[1][2])


def test_split_evaluation_and_tests():
    expr, cases = simulate(n=160, n_genes=12)
    clin = inputs.clinical_matrix(cases, CASES.clinical, CASES.reference_levels)
    fixed = {"clinical": [], "stepwise": PLANTED, "xgboost": PLANTED}
    splits = pg.split_evaluation(expr, clin, cases["time"], cases["event"], fixed,
                                 pg.SplitSettings.from_config(SETTINGS), 3)
    assert set(splits["variant"]) == {"fixed", "honest"}
    assert len(splits) == 2 * 2 * 3 * (len(SETTINGS["auc_times"]) + 1)
    auc = splits[(splits["metric"] == "auc") & (splits["variant"] == "fixed")]
    means = auc.groupby("model")["value"].mean()
    assert means["stepwise"] > means["clinical"]
    tests = pg.split_tests(splits)
    auc_tests = tests[tests["metric"] == "auc"]
    assert len(auc_tests) == 2 * 2 * len(SETTINGS["auc_times"])
    ok = auc_tests["p_value"].notna()
    np.testing.assert_allclose(auc_tests.loc[ok, "p_bonferroni"],
                               np.minimum(auc_tests.loc[ok, "p_value"] * 3, 1))


def test_split_evaluation_in_parallel_equals_one_after_another():
    """Each split's randomness comes from (seed, split) alone: the worker processes give
    the sequential table exactly, rows in the same order, and so the same bytes."""
    expr, cases = simulate(n=160, n_genes=12)
    clin = inputs.clinical_matrix(cases, CASES.clinical, CASES.reference_levels)
    fixed = {"clinical": [], "stepwise": PLANTED, "xgboost": PLANTED}
    settings = pg.SplitSettings.from_config({**SETTINGS, "splits": 3})
    one, two = (pg.split_evaluation(expr, clin, cases["time"], cases["event"], fixed, settings,
                                    3, n_jobs=n_jobs) for n_jobs in (1, 2))
    assert one["split"].tolist() == sorted(one["split"]) and set(one["split"]) == {1, 2, 3}
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert one.to_csv(sep="\t") == two.to_csv(sep="\t")
