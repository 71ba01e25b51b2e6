"""bloodsig.de.analysis: one analysis from counts to tables on simulated data with planted truth."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bloodsig.core.configcheck import fill_defaults, section_defaults
from bloodsig.core.errors import InputError
from bloodsig.core.sheets import load_schema
from bloodsig.de import analysis as de
from bloodsig.de.settings import Analysis, CovariateSettings, FitSettings

SCHEMA = load_schema(Path(__file__).parents[2] / "config/schemas/config.schema.yaml")["properties"]
# config de and samples as the schema fills them, with the test's values
CONFIG = fill_defaults({"analyses": {}, "fdr": 0.01, "min_abs_logfc": 0.1,
                        "reference_levels": {"batch": "B1"}, "technical": ["batch"]},
                       SCHEMA["de"])
SHEET = fill_defaults({"case": "ALS", "control": "control"}, SCHEMA["samples"])
SETTINGS = FitSettings.from_config(CONFIG, SHEET)
COVARIATES = CovariateSettings.from_config(CONFIG, SHEET)


def analysis(**keys) -> Analysis:
    """An analysis (config de.analyses.<name>) as the schema fills it."""
    return Analysis.from_config(fill_defaults(
        keys, SCHEMA["de"]["properties"]["analyses"]["additionalProperties"]))


ANALYSIS = analysis(formula="~ group + age + batch", coef="groupALS",
                    biological=["group", "age"])


def test_settings_from_config():
    assert SETTINGS.reference_levels == {"group": "control", "batch": "B1"}
    assert (SETTINGS.engine, SETTINGS.heatmap_genes, SETTINGS.technical) == ("limma", 10,
                                                                             ["batch"])
    assert COVARIATES.n_pcs is None and COVARIATES.method == "rna_pcs"
    assert (COVARIATES.batch_column, COVARIATES.library_column) == ("batch", "library_type")
    fixed = CovariateSettings.from_config({**CONFIG, "covariates": {
        **CONFIG["covariates"], "n_pcs": 3}}, SHEET)
    assert fixed.n_pcs == 3
    assert section_defaults(SCHEMA["de"]["properties"]["covariates"]) == CONFIG["covariates"]


def simulate(n_genes=1500, n=60, n_de=120, seed=3):
    """NB counts with a planted group effect (first n_de genes), a batch effect and a hidden
    technical factor that the RNA PCs should find."""
    rng = np.random.default_rng(seed)
    group = np.array(["ALS"] * (n // 2) + ["control"] * (n - n // 2))
    batch = np.tile(["B1", "B2", "B3"], n // 3 + 1)[:n]
    age = rng.normal(60, 10, n)
    hidden = rng.normal(0, 1, n)
    base = rng.normal(5, 1.5, n_genes)
    lfc = np.zeros(n_genes)
    lfc[:n_de] = rng.choice([-1, 1], n_de) * rng.uniform(0.5, 1.2, n_de)
    batch_eff = rng.normal(0, 0.4, (n_genes, 3))
    hidden_load = rng.normal(0, 0.5, n_genes)
    b = pd.Series(batch).map({"B1": 0, "B2": 1, "B3": 2}).to_numpy()
    log2mu = (base[:, None] + lfc[:, None] * (group == "ALS") + batch_eff[:, b]
              + hidden_load[:, None] * hidden)
    mu = 2.0 ** log2mu * rng.lognormal(0, 0.2, n)
    disp = 0.05
    counts = rng.negative_binomial(1 / disp, 1 / (1 + mu * disp))
    ids = [f"G{i:05d}" for i in range(n_genes)]
    samples = pd.DataFrame({"sample_id": [f"S{i:03d}" for i in range(n)], "group": group,
                            "age": age, "batch": batch, "sex": rng.choice(["female", "male"], n),
                            "score": rng.uniform(0, 48, n)})
    samples.index = samples["sample_id"]
    counts = pd.DataFrame(counts, index=ids, columns=samples.index)
    genes = pd.DataFrame({"gene_name": [f"N{i}" for i in range(n_genes)]}, index=ids)
    return counts, samples, genes, set(ids[:n_de]), hidden, batch_eff


@pytest.fixture(scope="module")
def data():
    return simulate()


def test_rna_pcs_find_hidden_factor_and_fit_recovers_truth(data):
    counts, samples, genes, truth, hidden, _ = data
    covs = de.technical_covariates(counts, samples, ANALYSIS, COVARIATES, seed=1)
    assert covs.values.shape[1] >= 1
    r = max(abs(np.corrcoef(covs.values[c], hidden)[0, 1]) for c in covs.values.columns)
    assert r > 0.9
    res = de.fit_analysis(counts, samples, covs.values, genes, ANALYSIS, SETTINGS)
    assert list(res.table.columns[:8]) == de.TABLE_COLUMNS
    assert (np.diff(res.table["P.Value"]) >= 0).all()
    called = set(res.table.loc[res.table["adj.P.Val"] < 0.01, "gene_id"])
    fdp = len(called - truth) / len(called)
    power = len(called & truth) / len(truth)
    assert fdp < 0.05 and power > 0.7
    degs = set(res.up["gene_id"]) | set(res.down["gene_id"])
    assert degs <= called and (res.up["logFC"] > 0.1).all() and (res.down["logFC"] < -0.1).all()
    assert res.table.set_index("gene_id").loc["G00000", "gene_name"] == "N0"


def test_adjusting_for_hidden_factor_gains_power(data):
    counts, samples, genes, truth, _, _ = data
    none = de.fit_analysis(counts, samples, pd.DataFrame(index=samples.index), genes, ANALYSIS,
                           SETTINGS)
    covs = de.technical_covariates(counts, samples, ANALYSIS, COVARIATES, seed=1)
    adj = de.fit_analysis(counts, samples, covs.values, genes, ANALYSIS, SETTINGS)

    def power(res):
        return len(set(res.table.loc[res.table["adj.P.Val"] < 0.01, "gene_id"]) & truth)

    assert power(adj) > power(none)


def test_residuals_remove_batch_keep_group_and_means(data):
    counts, samples, genes, truth, _, _ = data
    res = de.fit_analysis(counts, samples, pd.DataFrame(index=samples.index), genes, ANALYSIS,
                          SETTINGS)
    e, r = res.expression, res.residuals
    np.testing.assert_allclose(r.mean(axis=1), e.mean(axis=1), atol=1e-8)
    batch = samples["batch"]

    def batch_spread(x):
        means = x.T.groupby(batch.to_numpy()).mean().T
        return float((means.max(axis=1) - means.min(axis=1)).mean())

    assert batch_spread(r) < 0.2 * batch_spread(e)
    de_gene = sorted(truth)[0]
    group = samples["group"].to_numpy()
    diff = r.loc[de_gene, group == "ALS"].mean() - r.loc[de_gene, group == "control"].mean()
    planted = res.table.set_index("gene_id").loc[de_gene, "logFC"]
    assert diff == pytest.approx(planted, abs=0.25)


def test_sva_method_finds_hidden_factor(data):
    counts, samples, _, _, hidden, _ = data
    covs = de.technical_covariates(counts, samples, ANALYSIS, dataclasses.replace(
        COVARIATES, method="sva", sva_permutations=10), seed=1)
    assert covs.values.shape[1] >= 1
    r = max(abs(np.corrcoef(covs.values[c], hidden)[0, 1]) for c in covs.values.columns)
    assert r > 0.8


def test_analysis_samples_subset_cells_and_quantiles(data):
    _, samples, *_ = data
    cells = pd.DataFrame({"Neu": np.linspace(0.4, 0.7, len(samples))}, index=samples.index)
    sub = de.analysis_samples(samples, analysis(
        formula="~ score_q", coef="score_qlow", subset={"group": ["ALS"]}, cells=True,
        quantile_contrast={"column": "score", "name": "score_q", "quantile": 0.25}), cells)
    assert set(sub["group"]) == {"ALS"}
    als = samples[samples["group"] == "ALS"]
    lo, hi = als["score"].quantile(0.25), als["score"].quantile(0.75)
    assert set(sub.loc[sub["score_q"] == "low", "sample_id"]) == set(
        als.loc[als["score"] <= lo, "sample_id"])
    assert set(sub.loc[sub["score_q"] == "high", "sample_id"]) == set(
        als.loc[als["score"] >= hi, "sample_id"])
    assert "Neu" in sub.columns
    with pytest.raises(InputError, match="selects no sample"):
        de.analysis_samples(samples, dataclasses.replace(ANALYSIS, subset={"group": ["PLS"]}))
    with pytest.raises(InputError, match="has no cell fractions"):
        de.analysis_samples(samples, dataclasses.replace(ANALYSIS, cells=True), cells.iloc[:10])


def test_cell_terms_join_formula_and_biology(data):
    _, samples, *_ = data
    cells = pd.DataFrame({"Neu": np.linspace(0.4, 0.7, len(samples)),
                          "Mono": np.linspace(0.05, 0.1, len(samples))}, index=samples.index)
    adjusted = dataclasses.replace(ANALYSIS, cells=True)
    out = de.with_cell_terms(adjusted, cells)
    assert out.formula == "~ group + age + batch + Neu + Mono"
    assert out.biological == ["group", "age", "Neu", "Mono"]
    assert adjusted.biological == ["group", "age"]  # the analysis is left alone
    again = de.with_cell_terms(out, cells)
    assert again.formula == out.formula and again.biological == out.biological
    assert de.with_cell_terms(ANALYSIS, cells) is ANALYSIS
    assert de.with_cell_terms(dataclasses.replace(adjusted, biological=None),
                              cells).biological is None


def test_small_group_and_bad_coef_refused(data):
    counts, samples, genes, *_ = data
    tiny = samples[(samples["group"] == "control") | (samples.index.isin(samples.index[:2]))]
    with pytest.raises(InputError, match="at least 3 samples"):
        de.fit_analysis(counts, tiny, pd.DataFrame(index=tiny.index), genes, ANALYSIS, SETTINGS)
    with pytest.raises(InputError, match="does not belong to any term"):
        de.fit_analysis(counts, samples, pd.DataFrame(index=samples.index), genes,
                        dataclasses.replace(ANALYSIS, coef="sexmale"), SETTINGS)


@pytest.mark.slow  # fits pydeseq2 (tens of seconds on 2 cores)
def test_deseq2_engine_agrees_with_limma_on_calls(data):
    counts, samples, genes, truth, _, _ = data
    empty = pd.DataFrame(index=samples.index)
    lim = de.fit_analysis(counts, samples, empty, genes, ANALYSIS, SETTINGS)
    ds2 = de.fit_analysis(counts, samples, empty, genes, ANALYSIS,
                          dataclasses.replace(SETTINGS, engine="deseq2"))
    assert list(ds2.table.columns[:8]) == de.TABLE_COLUMNS
    merged = lim.table.set_index("gene_id").join(ds2.table.set_index("gene_id"), rsuffix="_d")
    assert np.corrcoef(merged["logFC"], merged["logFC_d"])[0, 1] > 0.95
    called = set(ds2.table.loc[ds2.table["adj.P.Val"] < 0.01, "gene_id"])
    assert len(called & truth) / len(truth) > 0.6
    assert len(called - truth) / len(called) < 0.05
