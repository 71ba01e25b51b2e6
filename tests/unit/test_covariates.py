"""RNA-PC covariates (modified SVA) against planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.core.errors import InputError
from bloodsig.de import covariates as cv


def simulate(n_genes=2000, n_samples=120, strengths=(3.0, 2.0, 1.2), group_corr=None, seed=0):
    """log-expression = gene mean + 3 hidden factors + group effect (5% of genes) + age + noise.

    group_corr=(j, r) makes hidden factor j correlate r with group. Returns expr (genes x
    samples), group, age (samples x 1) and the hidden factors (samples x 3).
    """
    rng = np.random.default_rng(seed)
    group = np.tile([0, 1], n_samples // 2)
    age = rng.normal(60, 10, n_samples)
    # Factors orthonormal in-sample and orthogonal to group, so that only a planted one
    # correlates with it.
    g = (group - group.mean()) / group.std()
    raw = np.column_stack([np.ones(n_samples), g, rng.standard_normal((n_samples, len(strengths)))])
    factors = np.linalg.qr(raw)[0][:, 2:] * np.sqrt(n_samples)
    if group_corr is not None:
        j, r = group_corr
        factors[:, j] = r * g + np.sqrt(1 - r**2) * factors[:, j]
    mask = rng.uniform(size=(n_genes, len(strengths))) < 0.3
    load = rng.standard_normal((n_genes, len(strengths))) * np.asarray(strengths) * mask
    de = rng.uniform(size=n_genes) < 0.05
    expr = (rng.normal(6, 1, (n_genes, 1)) + load @ factors.T + np.outer(de, group)
            + 0.02 * np.outer(rng.standard_normal(n_genes), age - 60)
            + rng.standard_normal((n_genes, n_samples)))
    samples = [f"S{i}" for i in range(n_samples)]
    return (pd.DataFrame(expr, index=[f"G{i}" for i in range(n_genes)], columns=samples),
            pd.Series(group, index=samples, name="group"),
            pd.DataFrame({"age": age}, index=samples),
            pd.DataFrame(factors, index=samples))


def canonical_correlations(a, b) -> np.ndarray:
    qa = np.linalg.qr(a - a.mean(axis=0))[0]
    qb = np.linalg.qr(b - b.mean(axis=0))[0]
    return np.linalg.svd(qa.T @ qb, compute_uv=False)


def design(age, group=None):
    d = pd.DataFrame({"Intercept": 1.0, "age": age["age"]})
    if group is not None:
        d["group"] = group
    return d


def test_residualize_matches_per_gene_ols_and_is_orthogonal_to_design():
    expr, group, age, _ = simulate(n_genes=50, seed=1)
    d = design(age, group)
    resid = cv.residualize(expr, d.iloc[::-1])  # design rows in another order
    x = d.to_numpy()
    for gene in ["G0", "G17"]:
        y = expr.loc[gene].to_numpy()
        expected = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
        np.testing.assert_allclose(resid.loc[gene].to_numpy(), expected, atol=1e-9)
    np.testing.assert_allclose(resid.to_numpy() @ x, 0, atol=1e-7)
    with pytest.raises(InputError, match="no row for samples"):
        cv.residualize(expr, d.iloc[1:])


def test_residual_pca_equals_scaled_svd_and_drops_constant_genes():
    expr, group, age, _ = simulate(n_genes=300, n_samples=40, seed=2)
    resid = cv.residualize(expr, design(age, group))
    resid.loc["G5"] = 0.0  # zero variance: must be dropped, not turn the result into NaN
    scores, explained = cv.residual_pca(resid, n_max=10)
    assert list(scores.columns) == [f"RNA_PC{i}" for i in range(1, 11)]
    assert list(scores.index) == list(expr.columns)
    z = resid.drop(index="G5").to_numpy().T
    z = (z - z.mean(0)) / z.std(0, ddof=1)
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    np.testing.assert_allclose(np.abs(scores.to_numpy()), np.abs(u[:, :10] * s[:10]), atol=1e-8)
    np.testing.assert_allclose(explained.to_numpy(), s[:10] ** 2 / np.sum(s**2), rtol=1e-10)
    # prcomp's sdev^2 sums to the number of scaled genes
    assert np.isclose(np.sum(s**2) / (40 - 1), 299)


def test_residual_pcs_recover_three_hidden_factors_and_kneedle_finds_the_elbow():
    expr, group, age, factors = simulate(seed=3)
    scores, explained = cv.residual_pca(cv.residualize(expr, design(age, group)))
    cc = canonical_correlations(scores.iloc[:, :3].to_numpy(), factors.to_numpy())
    assert cc.min() > 0.95
    # decreasing strengths give decreasing explained variance, then a noise floor
    assert explained.iloc[0] > explained.iloc[1] > explained.iloc[2] > 5 * explained.iloc[3]
    # kneedle's knee on a sharp scree is the first PC after the drop
    assert cv.choose_n_pcs(explained) in (3, 4)
    assert cv.choose_n_pcs(explained, method="fixed", fixed=7) == 7
    with pytest.raises(InputError):
        cv.choose_n_pcs(explained, method="fixed")


def test_kneedle_on_a_known_curve():
    # two strong components then a flat floor: the elbow sits at PC 3
    curve = np.array([0.4, 0.3, 0.05, 0.04, 0.035, 0.03, 0.028, 0.026, 0.025, 0.024])
    assert cv.choose_n_pcs(curve) == 3


def test_pc_correlated_with_group_is_flagged_and_removed():
    expr, group, age, factors = simulate(group_corr=(1, 0.6), seed=4)
    res = cv.rna_pc_covariates(expr, design(age), group, age)
    assoc = res.association.set_index("pc")
    assert res.n_pcs == len(assoc) >= 3
    # the PC that carries hidden factor 2 (planted to correlate with group)
    scores = cv.residual_pca(cv.residualize(expr, design(age)))[0]
    corr = scores.iloc[:, :3].corrwith(factors[1]).abs()
    planted = corr.idxmax()
    assert corr[planted] > 0.8
    assert assoc.loc[planted, "associated"]
    assert assoc.loc[planted, "p_bonferroni"] < 1e-3
    # the two pure technical factors stay as covariates, the planted one does not
    others = [pc for pc in scores.columns[:3] if pc != planted]
    assert not assoc.loc[others, "associated"].any()
    assert planted not in res.covariates.columns
    assert set(others) <= set(res.covariates.columns)
    assert list(res.covariates.columns) == assoc.index[~assoc["associated"]].tolist()
    np.testing.assert_allclose(
        assoc["p_bonferroni"], np.minimum(assoc["p_value"] * len(assoc), 1.0))


def test_logistic_wald_matches_known_fit():
    # A fit whose answer is known in closed form: one binary covariate, so the MLE of its
    # coefficient is the log odds ratio of the 2x2 table and its SE is sqrt(sum 1/cells).
    x = np.repeat([0.0, 1.0], 100)
    y = np.concatenate([np.repeat([0, 1], [70, 30]), np.repeat([0, 1], [40, 60])])
    idx = [f"S{i}" for i in range(200)]
    table = cv.group_associated_pcs(pd.DataFrame({"RNA_PC1": x}, index=idx),
                                    pd.Series(y, index=idx, name="group"))
    row = table.iloc[0]
    assert np.isclose(row["coef"], np.log((60 / 40) / (30 / 70)), atol=1e-8)
    assert np.isclose(row["se"], np.sqrt(1 / 70 + 1 / 30 + 1 / 40 + 1 / 60), atol=1e-6)
    assert not row["separated"]


def test_perfect_separation_is_flagged_not_crashed():
    rng = np.random.default_rng(5)
    idx = [f"S{i}" for i in range(60)]
    group = pd.Series(np.repeat(["case", "control"], 30), index=idx, name="group")
    pcs = pd.DataFrame({"RNA_PC1": rng.standard_normal(60),
                        "RNA_PC2": np.r_[rng.uniform(-3, -1, 30), rng.uniform(1, 3, 30)]},
                       index=idx)
    table = cv.group_associated_pcs(pcs, group, pd.DataFrame({"age": rng.normal(size=60)},
                                                             index=idx))
    sep = table.set_index("pc")
    assert bool(sep.loc["RNA_PC2", "separated"]) and bool(sep.loc["RNA_PC2", "associated"])
    assert not sep.loc["RNA_PC1", "separated"] and not sep.loc["RNA_PC1", "associated"]
    with pytest.raises(InputError, match="separate the groups"):
        cv.group_associated_pcs(pcs[["RNA_PC1"]], group,
                                pd.DataFrame({"batch": (group == "case") * 1.0}))
    with pytest.raises(InputError, match="two levels"):
        cv.group_associated_pcs(pcs, pd.Series("case", index=idx, name="group"))


def test_zero_pcs_gives_empty_covariates():
    expr, group, age, _ = simulate(n_genes=200, n_samples=40, seed=6)
    res = cv.rna_pc_covariates(expr, design(age), group, age, n_pcs=0)
    assert res.n_pcs == 0 and res.covariates.shape == (40, 0) and res.association.empty
