"""Expression QC on a simulated cohort with planted truth: which genes go, which samples are
mislabelled."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bloodsig.core.configcheck import section_defaults
from bloodsig.core.errors import InputError
from bloodsig.core.sheets import load_schema
from bloodsig.qc.expression import (
    fill_inferred_sex,
    globin_genes,
    kept_samples,
    low_expression_mask,
    normalise_sex,
    pca,
    read_gene_list,
    run_expression_qc,
    sex_check,
    single_prep_genes,
    stage_settings,
    two_means_threshold,
)
from bloodsig.stats.normalize import log2cpm_voom

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
N = 40  # samples: 20 male / 20 female, 20 polyA / 20 rRNA-depleted, crossed
FLIPPED = ["S03", "S18", "S31"]  # recorded sex planted wrong


def _nb(rng, mean, shape, dispersion=0.1):
    """Negative-binomial counts with the given mean and dispersion (variance mu + d mu^2)."""
    size = 1.0 / dispersion
    return rng.negative_binomial(size, size / (size + np.asarray(mean, dtype=float)), shape)


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(7)
    samples = pd.DataFrame({
        "sample_id": [f"S{i:02d}" for i in range(N)],
        "sex": np.where(np.arange(N) % 2 == 0, "M", "F"),
        "library_type": np.where(np.arange(N) < N // 2, "polyA", "rRNA"),
        "group": np.where(np.arange(N) % 4 < 2, "case", "control"),
    }).set_index("sample_id")
    male = (samples["sex"] == "M").to_numpy()
    polya = (samples["library_type"] == "polyA").to_numpy()
    truth_sex = samples["sex"].map({"M": "male", "F": "female"})
    samples.loc[FLIPPED, "sex"] = samples.loc[FLIPPED, "sex"].map({"M": "F", "F": "M"})

    rows, names, drops = [], [], {}

    def add(gid, name, counts, reason=""):
        rows.append(np.asarray(counts)), names.append((gid, name))
        drops[gid] = reason

    for i in range(200):
        add(f"G{i:04d}", f"GENE{i}", _nb(rng, rng.uniform(100, 2000), N))
    for i in range(10):
        add(f"L{i:04d}", f"LOW{i}", _nb(rng, 0.8, N), "low_expression")
    # Exactly half the samples below 5 counts: kept ("more than" 50% is the rule).
    add("B0000", "BORDER", np.where(np.arange(N) % 2 == 0, 0, 100))
    for i, sym in enumerate(["HBA1", "HBA2", "HBB", "HBD"]):
        add(f"H{i:04d}", sym, _nb(rng, 20000, N), "globin")
    add("H0009", "HBZP1", _nb(rng, 0.5, N), "globin;low_expression")
    # Detected in polyA libraries only; 50% of samples below 5, so only single_prep drops it.
    add("P0000", "PREPONLY", np.where(polya, _nb(rng, 300, N), 0), "single_prep")
    for i, sym in enumerate(["RPS4Y1", "DDX3Y", "KDM5D", "UTY"]):
        add(f"Y{i:04d}", sym, np.where(truth_sex == "male", _nb(rng, 150, N), 0))
    add("X0000", "XIST", np.where(truth_sex == "female", _nb(rng, 800, N), _nb(rng, 1, N)))

    ids = [g for g, _ in names]
    counts = pd.DataFrame(np.vstack(rows), index=pd.Index(ids, name="gene_id"),
                          columns=samples.index)
    annotation = pd.DataFrame({
        "gene_name": [n for _, n in names],
        "gene_type": "protein_coding",
        "chromosome": ["Y" if g.startswith("Y") else "X" if g.startswith("X") else "1"
                       for g in ids],
    }, index=counts.index)
    return dict(counts=counts, annotation=annotation, samples=samples, drops=drops,
                male=male, truth_sex=truth_sex)


@pytest.fixture(scope="module")
def settings():
    """The stage's settings as the schema's defaults make them."""
    schema = load_schema(RESOURCES.parent / "config/schemas/config.schema.yaml")["properties"]
    return stage_settings(section_defaults(schema["expression_qc"]),
                          section_defaults(schema["samples"]),
                          RESOURCES / "globin_genes.txt", RESOURCES / "chrY_genes.txt")


def test_resource_lists():
    globins = read_gene_list(RESOURCES / "globin_genes.txt")
    assert len(globins) == 13 == len(set(globins))
    assert {"HBA1", "HBA2", "HBB", "HBD", "HBG1", "HBG2"} <= set(globins)
    male = read_gene_list(RESOURCES / "chrY_genes.txt", role="male")
    assert {"RPS4Y1", "DDX3Y", "KDM5D", "UTY", "EIF1AY"} <= set(male)
    assert read_gene_list(RESOURCES / "chrY_genes.txt", role="female") == ["XIST"]


def test_run_expression_qc_drops_exactly_the_planted_genes(cohort, settings):
    filtered, genes, _ = run_expression_qc(cohort["counts"], cohort["annotation"],
                                           cohort["samples"], settings)
    planted = {g: r for g, r in cohort["drops"].items() if r}
    report = genes.set_index("gene_id")
    assert set(report.index[~report["kept"]]) == set(planted)
    assert report.loc[list(planted), "reason"].to_dict() == planted
    assert (report.loc[report["kept"], "reason"] == "").all()
    assert list(filtered.index) == list(report.index[report["kept"]])
    assert report.at["H0000", "gene_name"] == "HBA1"


def test_run_expression_qc_flags_exactly_the_planted_mislabels(cohort, settings):
    _, _, samples = run_expression_qc(cohort["counts"], cohort["annotation"],
                                      cohort["samples"], settings)
    assert sorted(samples.loc[samples["mismatch"], "sample_id"]) == FLIPPED
    assert (samples["predicted_sex"].to_numpy() == cohort["truth_sex"].to_numpy()).all()
    assert list(samples.columns[:3]) == ["sample_id", "library_size", "n_detected"]
    assert samples["library_size"].tolist() == cohort["counts"].sum().tolist()


def test_run_expression_qc_without_optional_columns(cohort, settings):
    samples = cohort["samples"].drop(columns=["sex", "library_type"])
    _, genes, report = run_expression_qc(cohort["counts"], cohort["annotation"], samples,
                                         settings)
    assert not report["mismatch"].any() and report["recorded_sex"].isna().all()
    assert "single_prep" not in set(genes["reason"])


def test_run_expression_qc_input_errors(cohort, settings):
    with pytest.raises(InputError, match="S39"):
        run_expression_qc(cohort["counts"], cohort["annotation"],
                          cohort["samples"].drop(index="S39"), settings)
    with pytest.raises(InputError, match="no column in the count matrix"):
        run_expression_qc(cohort["counts"].drop(columns="S39"), cohort["annotation"],
                          cohort["samples"], settings)


def test_low_expression_mask_boundary():
    counts = pd.DataFrame([[0, 0, 5, 5], [0, 0, 0, 5], [4, 4, 4, 4], [5, 5, 5, 5]],
                          index=["half", "most", "all_below", "at_min"])
    keep = low_expression_mask(counts, min_count=5, max_fraction_below=0.5)
    assert keep.to_dict() == {"half": True, "most": False, "all_below": False, "at_min": True}


def test_single_prep_genes_rule():
    counts = pd.DataFrame([[9, 9, 0, 0], [9, 0, 9, 0], [0, 0, 9, 9], [9, 9, 9, 9]],
                          index=["a_only", "both_half", "b_only", "both"],
                          columns=["s1", "s2", "s3", "s4"])
    prep = pd.Series(["A", "A", "B", "B"], index=counts.columns, name="library_type")
    assert list(single_prep_genes(counts, prep, min_count=5, min_fraction=0.5)) == [
        "a_only", "b_only"]
    # A stricter detection rule: half the samples of a preparation is no longer enough.
    assert list(single_prep_genes(counts, prep, min_count=5, min_fraction=0.75)) == [
        "a_only", "b_only"]
    one = pd.Series("A", index=counts.columns, name="library_type")
    assert len(single_prep_genes(counts, one)) == 0
    with pytest.raises(InputError, match="s4"):
        single_prep_genes(counts, prep.iloc[:3])


def test_globin_genes(cohort):
    ids = globin_genes(cohort["annotation"], read_gene_list(RESOURCES / "globin_genes.txt"))
    assert sorted(ids) == ["H0000", "H0001", "H0002", "H0003", "H0009"]


def test_sex_check_partial_genes_and_errors(cohort):
    lc = log2cpm_voom(cohort["counts"])
    ann = cohort["annotation"]
    truth = cohort["truth_sex"].to_numpy()
    only_y = sex_check(lc.drop(index="X0000"), ann, None, ["RPS4Y1", "ZFY"])
    assert only_y["xist"].isna().all() and only_y.attrs["n_chry_genes"] == 1
    assert (only_y["predicted_sex"].to_numpy() == truth).all()
    only_xist = sex_check(lc, ann, None, ["ZFY"])
    assert (only_xist["predicted_sex"].to_numpy() == truth).all()
    unknown = sex_check(lc, ann, None, ["ZFY"], xist_symbol="NOPE")
    assert unknown["predicted_sex"].isna().all() and not unknown["mismatch"].any()


def test_unknown_sex_is_inferred_and_marked(cohort):
    samples = cohort["samples"].copy()
    report = sex_check(log2cpm_voom(cohort["counts"]), cohort["annotation"], samples["sex"],
                       ["RPS4Y1", "ZFY"], sex_codes=("F", "M"))
    report.insert(0, "sample_id", report.pop("sample_id"))
    blank = samples.index[:7]
    samples.loc[blank, "sex"] = np.nan
    filled = fill_inferred_sex(samples, report, "sex", ("F", "M"))
    assert filled["sex_inferred"].sum() == 7 and not filled["sex_inferred"][7:].any()
    truth = cohort["truth_sex"].map({"male": "M", "female": "F"})
    assert (filled.loc[blank, "sex"] == truth[blank]).all()
    assert (filled["sex"][7:] == samples["sex"][7:]).all()  # recorded values untouched
    absent = fill_inferred_sex(samples.drop(columns="sex"), report, "sex", ("F", "M"))
    assert absent["sex_inferred"].all() and (absent["sex"] == truth).all()


def test_sex_check_single_sex_cohort_uses_fixed_threshold(cohort):
    lc = log2cpm_voom(cohort["counts"]).loc[:, ~cohort["male"]]
    table = sex_check(lc, cohort["annotation"], None, ["RPS4Y1", "DDX3Y"])
    assert (table["threshold"] == 0.0).all()
    assert (table["predicted_sex"] == "female").all()


def test_two_means_threshold_and_sex_codes():
    threshold, separation = two_means_threshold(np.array([-9.0, -8, -10, 7, 8, 9, 8.5]))
    assert -8 < threshold < 7 and separation > 15
    codes = normalise_sex(pd.Series(["M", " female", "Male", "f", "unknown", None]))
    assert codes.tolist()[:4] == ["male", "female", "male", "female"]
    assert codes.iloc[4:].isna().all()


def test_pca_matches_svd_and_is_deterministic():
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(300, 12)), columns=[f"s{i}" for i in range(12)])
    x.iloc[:20, :6] += 4.0  # a strong first component
    scores, explained = pca(x, n=5)
    centred = (x.to_numpy() - x.to_numpy().mean(axis=1, keepdims=True)).T
    sv = np.linalg.svd(centred, compute_uv=False)
    np.testing.assert_allclose(explained, sv[:5] ** 2 / np.sum(sv**2))
    np.testing.assert_allclose(scores.var(ddof=0) * 12, sv[:5] ** 2, rtol=1e-10)
    assert (np.sign(scores["PC1"].iloc[:6]) == np.sign(scores["PC1"].iloc[0])).all()
    again, _ = pca(x, n=5)
    pd.testing.assert_frame_equal(scores, again)
    top, top_explained = pca(x, n=3, top_genes=20)
    assert list(top.columns) == ["PC1", "PC2", "PC3"] and top_explained.iloc[0] > 0.8


def test_stage_settings_from_config_and_sheet(cohort):
    cfg = {"min_count": 10, "max_fraction_below": 0.2,
           "single_prep": {"min_count": 3, "min_fraction": 0.8}, "remove_globin": False}
    sheet = {"sex_column": "gender", "female": "F", "male": "M", "library_column": "prep"}
    s = stage_settings(cfg, sheet, RESOURCES / "globin_genes.txt", RESOURCES / "chrY_genes.txt")
    assert s.globin_symbols == [] and s.xist_symbol == "XIST"
    assert "RPS4Y1" in s.chry_symbols and "XIST" not in s.chry_symbols
    assert (s.min_count, s.max_fraction_below, s.prep_min_count,
            s.prep_min_fraction) == (10, 0.2, 3, 0.8)
    assert (s.sex_column, s.female_value, s.male_value, s.prep_column) == (
        "gender", "F", "M", "prep")
    globins = stage_settings({**cfg, "remove_globin": True}, sheet,
                             RESOURCES / "globin_genes.txt", RESOURCES / "chrY_genes.txt")
    assert len(globins.globin_symbols) == 13


def test_custom_sex_codes_and_kept_samples(cohort, settings):
    samples = cohort["samples"].assign(sex=cohort["samples"]["sex"].map({"M": "1", "F": "2"}))
    custom = dataclasses.replace(settings, female_value="2", male_value="1")
    _, _, report = run_expression_qc(cohort["counts"], cohort["annotation"], samples, custom)
    assert sorted(report.loc[report["mismatch"], "sample_id"]) == FLIPPED
    kept = kept_samples(report)
    assert len(kept) == N - 3 and not set(FLIPPED) & set(kept)
    assert len(kept_samples(report, drop_sex_mismatches=False)) == N
