"""The demo simulator: layout, determinism, and that every planted property is measurable."""

from __future__ import annotations

import dataclasses
import gzip
import re

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bloodsig.simulate import SCALES, external, longitudinal, write_demo
from bloodsig.simulate.__main__ import main
from bloodsig.simulate.cohort import SAMPLE_COLUMNS, make_biology
from bloodsig.simulate.genes import CELL_TYPES, CHRY_GENES, GLOBINS, make_genes

SEED = 11
FILES = [
    "discovery/counts.tsv", "discovery/genes.tsv", "discovery/samples.tsv",
    "discovery/cells_dnam.tsv", "discovery/cells_flow.tsv", "discovery/cell_signature.tsv",
    "external/samples.tsv", "external/units.tsv", "external/true_counts.tsv",
    "genesets/pathways.gmt", "genesets/go_bp.gmt", "genesets/immune_signatures.gmt",
    "disease_tissue/tdp43_neurons.tsv", "disease_tissue/spinal_cord.tsv",
    "cmap/signatures.gctx", "cmap/siginfo.tsv", "cmap/geneinfo.tsv", "cmap/compoundinfo.tsv",
    "validation/counts.tsv", "validation/genes.tsv", "validation/samples.tsv",
    "truth/de_genes.tsv", "truth/modules.tsv", "truth/survival_risk.tsv",
    "truth/sex_mislabels.tsv", "truth/survival_genes.tsv",
    "truth/subgroups.tsv", "truth/pathways.tsv", "truth/compounds.tsv", "truth/repeats.tsv",
    "truth/params.yaml",
]


def _tsv(path, **kwargs) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", **kwargs)


def _gmt(path) -> dict[str, list[str]]:
    lines = path.read_text().splitlines()
    return {f[0]: f[2:] for f in (line.split("\t") for line in lines)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    write_demo(out, SEED, reads=False)
    return out


@pytest.fixture(scope="module")
def data(demo):
    """Discovery tables, log2 CPM (library size without globins) and truth."""
    counts = _tsv(demo / "discovery/counts.tsv", index_col="gene_id")
    genes = _tsv(demo / "discovery/genes.tsv", index_col="gene_id")
    samples = _tsv(demo / "discovery/samples.tsv")
    non_globin = ~genes["gene_name"].isin(list(GLOBINS)).to_numpy()
    lib = counts.to_numpy()[non_globin].sum(axis=0)
    logcpm = pd.DataFrame(np.log2((counts.to_numpy() + 0.5) / lib * 1e6), index=counts.index,
                          columns=counts.columns)
    truth = {name: _tsv(demo / f"truth/{name}.tsv") for name in
             ("de_genes", "modules", "survival_risk", "sex_mislabels", "survival_genes",
              "subgroups", "subgroup_genes",
              "cell_proportions", "repeats", "pathways", "compounds")}
    return {"counts": counts, "genes": genes, "samples": samples, "logcpm": logcpm,
            "truth": truth}


def _group_effect(logcpm: pd.DataFrame, samples: pd.DataFrame, extra=None) -> pd.Series:
    """Per-gene least-squares coefficient of ALS vs control, adjusting for batch (which nests
    library type) and optional extra covariates."""
    design = [(samples["group"] == "ALS").to_numpy(float),
              pd.get_dummies(samples["batch"]).to_numpy(float)]
    if extra is not None:
        design.append(extra)
    beta = np.linalg.lstsq(np.column_stack(design), logcpm.to_numpy().T, rcond=None)[0]
    return pd.Series(beta[0], index=logcpm.index)


def test_layout_and_shapes(demo, data):
    for name in FILES:
        assert (demo / name).is_file(), name
    counts, genes, samples = data["counts"], data["genes"], data["samples"]
    n_samples, n_genes = SCALES["demo"]["n_samples"], SCALES["demo"]["n_genes"]
    n_followup = longitudinal.N_FOLLOWUP * longitudinal.FOLLOWUP_VISITS
    assert counts.shape == (n_genes, n_samples + n_followup)
    assert list(counts.columns) == samples["sample_id"].tolist()
    assert list(counts.index) == genes.index.tolist()
    assert all(re.fullmatch(r"ENSG\d{11}", g) for g in genes.index)
    assert genes.index.is_unique and genes["gene_name"].is_unique
    assert counts.dtypes.map(pd.api.types.is_integer_dtype).all() and (counts >= 0).all().all()
    assert 0.65 < (genes["gene_type"] == "protein_coding").mean() < 0.75
    assert set(genes["chromosome"].astype(str)) == {*map(str, range(1, 23)), "X", "Y", "MT"}
    assert set(GLOBINS) | set(CHRY_GENES) | {"XIST"} <= set(genes["gene_name"])
    assert list(samples.columns) == [*SAMPLE_COLUMNS, longitudinal.TIME_COLUMN]
    assert 0.55 < (samples["group"] == "ALS").mean() < 0.65
    assert set(samples["batch"]) == {f"B{i}" for i in range(1, 7)}
    # every batch mixes both preparations (mostly one), so batch + library_type has full rank
    main_share = samples.groupby("batch")["library_type"].agg(
        lambda x: x.value_counts(normalize=True).iloc[0])
    assert samples.groupby("batch")["library_type"].nunique().eq(2).all()
    assert main_share.between(0.7, 0.97).all()
    cases, controls = samples[samples["group"] == "ALS"], samples[samples["group"] == "control"]
    clinical = ["onset_segment", "onset_age", "alsfrs_r", "el_escorial", "c9orf72",
                "survival_time", "survival_event"]
    assert controls[clinical].isna().all().all() and cases[clinical].notna().all().all()
    assert cases["alsfrs_r"].between(0, 48).all() and (cases["survival_time"] > 0).all()
    assert (cases["onset_age"] < cases["age"]).all()
    assert 0.2 < (cases["onset_segment"] == "bulbar").mean() < 0.4
    assert 0.2 < (cases["survival_event"] == 0).mean() < 0.4
    # Globins dominate the libraries, and less so after rRNA depletion (globin depletion).
    globin = counts[genes["gene_name"].isin(list(GLOBINS))].sum() / counts.sum()
    lib = samples.set_index("sample_id")["library_type"]
    assert globin[lib == "polyA"].median() > globin[lib == "rRNA_depletion"].median() > 0.05


def test_same_seed_same_bytes_other_seed_differs(demo, tmp_path):
    write_demo(tmp_path / "again", SEED, reads=False)
    for name in FILES:
        first, second = (demo / name).read_bytes(), (tmp_path / "again" / name).read_bytes()
        if name == "external/units.tsv":  # FASTQ paths start with outdir
            second = second.replace(str(tmp_path / "again").encode(), str(demo).encode())
        assert first == second, name
    write_demo(tmp_path / "other", SEED + 1, reads=False)
    for name in ("discovery/counts.tsv", "discovery/samples.tsv"):
        assert (demo / name).read_bytes() != (tmp_path / "other" / name).read_bytes()


def test_planted_de_recovered_from_counts(data):
    de = data["truth"]["de_genes"].set_index("gene_id")
    samples, logcpm = data["samples"], data["logcpm"]
    assert 0.1 < len(de) / len(logcpm) < 0.2
    estimate = _group_effect(logcpm, samples)
    direct = de[de["mechanism"] == "direct"]
    # module genes: loading (0.2-0.5) x case shift (0.3-0.65) / ln 2, most of them small
    assert direct["logFC"].abs().between(0.08, 0.5).all()
    assert 0.15 < direct["logFC"].abs().median() < 0.3
    assert 0.5 < (direct["logFC"] > 0).mean() < 0.65
    slope, _, r, _, _ = stats.linregress(direct["logFC"], estimate[direct.index])
    assert r > 0.8 and 0.75 < slope < 1.25
    null = estimate.drop(de.index)[logcpm.drop(de.index).mean(axis=1) > 3]
    assert null.abs().median() < 0.1

    # Composition-mediated genes differ between groups, and not once cells are adjusted for.
    mediated = de[de["mechanism"] == "cell_mediated"]
    slope_raw = stats.linregress(mediated["logFC"], estimate[mediated.index]).slope
    props = data["truth"]["cell_proportions"].set_index("sample_id").loc[samples["sample_id"]]
    adjusted = _group_effect(logcpm.loc[mediated.index], samples,
                             extra=props[["CD8T", "CD4T", "NK", "Bcell", "Mono"]].to_numpy())
    slope_adj = stats.linregress(mediated["logFC"], adjusted).slope
    assert slope_raw > 0.8 and abs(slope_adj) < 0.3


def test_modules_are_coexpressed_and_carry_the_case_differences(data):
    """Genes of one module move together within each group; the disease modules' genes are
    the direct DEGs; the groups are no easier to separate with many module genes than with
    the modules' factors (a few directions, so AUCs stay realistic)."""
    modules, de = data["truth"]["modules"], data["truth"]["de_genes"]
    samples, logcpm = data["samples"], data["logcpm"]
    controls = samples["sample_id"][samples["group"] == "control"]
    disease = modules[modules["case_shift"] != 0]
    assert set(disease["gene_id"]) == set(de["gene_id"][de["mechanism"] == "direct"])
    assert disease["module"].nunique() == 8
    # correlations within controls, after the library preparation and batch effects
    sheet = samples.set_index("sample_id").loc[controls]
    tech = pd.get_dummies(sheet[["batch", "library_type"]]).to_numpy(float)
    x = logcpm[controls].to_numpy().T
    resid = pd.DataFrame(x - tech @ np.linalg.lstsq(tech, x, rcond=None)[0],
                         columns=logcpm.index)
    within = []
    for _, genes in modules.groupby("module"):
        g = genes.sort_values("loading", key=abs).tail(20)
        r = np.corrcoef(resid[g["gene_id"]].to_numpy() * np.sign(g["loading"].to_numpy()),
                        rowvar=False)
        within.append(np.median(r[np.triu_indices_from(r, 1)]))
    free = logcpm.index.difference(modules["gene_id"]).difference(de["gene_id"])
    free = free[logcpm.loc[free].mean(axis=1) > 5][:200]
    r = np.corrcoef(resid[free].to_numpy(), rowvar=False)
    between = np.median(np.abs(r[np.triu_indices_from(r, 1)]))
    assert np.median(within) > 0.3 and between < 0.1
    # The latent prognosis: some modules carry it, with couplings in the planted range.
    coupling = modules.groupby("module")["prognosis_coupling"].first()
    assert 0.3 < (coupling > 0).mean() < 0.7 and coupling[coupling > 0].between(0.5, 0.9).all()


def test_survival_risk_truth_orders_the_cases(data):
    from lifelines.utils import concordance_index

    risk = data["truth"]["survival_risk"]
    samples = data["samples"].set_index("sample_id")
    disc = risk[risk["cohort"] == "discovery"].set_index("sample_id")
    assert set(disc.index) == set(samples.index[samples["group"] == "ALS"])
    cases = samples.loc[disc.index].drop_duplicates("patient_id")
    c = concordance_index(cases["survival_time"], -disc.loc[cases.index, "log_hazard"],
                          cases["survival_event"])
    assert 0.65 < c < 0.8  # the true risk: an upper bound for every model of the stage


def test_validation_cohort_covers_most_genes(demo, data):
    counts = _tsv(demo / "validation/counts.tsv", index_col="gene_id")
    genes = _tsv(demo / "validation/genes.tsv", index_col="gene_id")
    samples = _tsv(demo / "validation/samples.tsv")
    assert list(counts.columns) == samples["sample_id"].tolist()
    assert list(counts.index) == genes.index.tolist()
    assert counts.shape == (int(0.6 * len(data["genes"])), external.VALIDATION_SAMPLES)
    assert set(counts.index) <= set(data["genes"].index)
    # the best-expressed genes: nearly every planted DEG and every survival gene is there
    de = data["truth"]["de_genes"]
    assert de["gene_id"].isin(counts.index).mean() > 0.8
    assert set(data["truth"]["survival_genes"]["gene_id"]) <= set(counts.index)
    assert set(samples["batch"]) == {"V1", "V2", "V3"} and samples["patient_id"].is_unique
    cases = samples[samples["group"] == "ALS"]
    assert 0.45 < len(cases) / len(samples) < 0.65 and cases["survival_time"].notna().all()


def test_cases_have_more_neutrophils(demo, data):
    samples = data["samples"].set_index("sample_id")
    for table in (data["truth"]["cell_proportions"], _tsv(demo / "discovery/cells_dnam.tsv")):
        neu = table.set_index("sample_id")["Neu"]
        is_case = samples.loc[neu.index, "group"] == "ALS"
        test = stats.mannwhitneyu(neu[is_case], neu[~is_case], alternative="greater")
        assert test.pvalue < 1e-6
        np.testing.assert_allclose(table[list(CELL_TYPES)].sum(axis=1), 1, atol=1e-5)


def test_marker_genes_follow_cell_proportions(demo, data):
    signature = _tsv(demo / "discovery/cell_signature.tsv", index_col="gene_id")
    props = data["truth"]["cell_proportions"].set_index("sample_id")
    for cell in CELL_TYPES:
        markers = signature.index[signature[list(CELL_TYPES)].idxmax(axis=1) == cell]
        assert 15 <= len(markers) <= 30
        score = data["logcpm"].loc[markers].mean()
        assert stats.spearmanr(score, props.loc[score.index, cell]).statistic > 0.5, cell


def test_flow_and_dnam_agree_but_differ(demo, data):
    dnam = _tsv(demo / "discovery/cells_dnam.tsv", index_col="sample_id")
    flow = _tsv(demo / "discovery/cells_flow.tsv", index_col="sample_id")
    truth = data["truth"]["cell_proportions"].set_index("sample_id").loc[flow.index]
    assert 40 <= len(flow) <= 80 and set(flow.index) <= set(dnam.index)

    def corr(a, b):
        return np.array([np.corrcoef(a[c], b.loc[a.index, c])[0, 1] for c in CELL_TYPES])

    assert 0.8 < corr(flow, dnam).min() and corr(flow, dnam).max() < 0.995
    assert (corr(truth, flow) > corr(truth, dnam)).all()  # flow is the better measurement


def test_survival_follows_planted_hazards(data):
    from lifelines.statistics import logrank_test
    from lifelines.utils import concordance_index

    samples = data["samples"]
    cases = samples[samples["group"] == "ALS"].drop_duplicates("patient_id")
    bulbar = cases["onset_segment"] == "bulbar"
    result = logrank_test(cases["survival_time"][bulbar], cases["survival_time"][~bulbar],
                          cases["survival_event"][bulbar], cases["survival_event"][~bulbar])
    assert result.p_value < 0.01
    assert cases["survival_time"][bulbar].median() < cases["survival_time"][~bulbar].median()

    genes = data["truth"]["survival_genes"]
    assert len(genes) == 10
    expr = data["logcpm"].loc[genes["gene_id"], cases["sample_id"]]
    # Concordance of -expression with time > 0.5 means high expression dies sooner.
    cindex = [concordance_index(cases["survival_time"], -expr.loc[g].to_numpy(),
                                cases["survival_event"]) for g in genes["gene_id"]]
    agree = np.sign(np.array(cindex) - 0.5) == np.sign(genes["log_hazard_ratio"])
    assert agree.sum() >= 8


def test_clinical_hazard_and_decline_recover_their_weights():
    """20,000 cases without survival genes: a Cox fit on the time from sampling recovers the
    hazard's log HRs, and a regression of the log ALSFRS-R decline rate the decline's smaller
    clinical weights (so ALSFRS-R does not carry all of the clinical prognosis)."""
    from lifelines import CoxPHFitter

    from bloodsig.simulate import clinical as c

    rng = np.random.default_rng(3)
    n = 20000
    male = rng.random(n) < 0.6
    age = rng.normal(62, 10, n)
    df, _ = c.simulate_clinical(np.ones(n, bool), male, age, np.zeros(n), rng)
    x = pd.DataFrame({"bulbar": (df["onset_segment"] == "bulbar").astype(float),
                      "onset": (df["onset_age"] - 60) / 10, "male": male.astype(float)})
    delay_years = age - df["onset_age"].to_numpy()
    fit = CoxPHFitter().fit(x.assign(t=np.maximum(df["survival_time"] - 12 * delay_years, 0.01),
                                     e=df["survival_event"].astype(int)), "t", "e")
    hazard = [c.LOG_HR_BULBAR, c.LOG_HR_ONSET_AGE_PER_10Y, c.LOG_HR_MALE]
    np.testing.assert_allclose(fit.params_[["bulbar", "onset", "male"]], hazard, atol=0.06)

    alsfrs = df["alsfrs_r"].to_numpy(dtype=float)
    ok = (alsfrs > 0) & (alsfrs < 47)  # not clipped, and a decline to take the log of
    log_rate = np.log((47 - alsfrs[ok]) / (12 * delay_years[ok]))
    design = np.column_stack([np.ones(ok.sum()), x.to_numpy()[ok]])
    slopes = np.linalg.lstsq(design, log_rate, rcond=None)[0][1:]
    decline = c.DECLINE_SPREAD * np.array([c.DECLINE_BULBAR, c.DECLINE_ONSET_AGE_PER_10Y,
                                           c.LOG_HR_MALE])
    np.testing.assert_allclose(slopes, decline, atol=0.03)


def test_sex_genes_reveal_planted_mislabels(data):
    genes, logcpm, samples = data["genes"], data["logcpm"], data["samples"]
    xist = logcpm.loc[genes.index[genes["gene_name"] == "XIST"][0]]
    chry = logcpm.loc[genes.index[genes["chromosome"].astype(str) == "Y"]].mean()
    genetic = np.where(xist > chry, "female", "male")
    assert (np.abs(xist - chry) > 4).all()  # two clean clusters
    mismatch = samples["sample_id"][genetic != samples["sex"].to_numpy()]
    mislabels = data["truth"]["sex_mislabels"]
    assert len(mislabels) == 6 and set(mismatch) == set(mislabels["sample_id"])
    true_sex = pd.Series(genetic, index=samples["sample_id"])
    assert (true_sex[mislabels["sample_id"]].to_numpy() == mislabels["true_sex"]).all()


def test_repeat_samples(data):
    """The cohort's own repeats (2-4 patients sequenced 2-3 times) and the follow-up
    visits (N_FOLLOWUP case patients sampled once, then FOLLOWUP_VISITS more times, appended
    after the cohort's samples)."""
    repeats, samples = data["truth"]["repeats"], data["samples"].set_index("sample_id")
    n_own = SCALES["demo"]["n_samples"]
    followup = repeats["sample_id"].isin(samples.index[n_own:])
    own = repeats[~repeats["patient_id"].isin(repeats.loc[followup, "patient_id"])]
    assert 2 <= own["patient_id"].nunique() <= 4
    assert (own.groupby("patient_id").size().between(2, 3)).all()
    visits = repeats[repeats["patient_id"].isin(repeats.loc[followup, "patient_id"])]
    assert visits["patient_id"].nunique() == longitudinal.N_FOLLOWUP
    assert visits.groupby("patient_id").size().eq(longitudinal.FOLLOWUP_VISITS + 1).all()
    assert set(samples.loc[visits["sample_id"], "group"]) == {"ALS"}
    for _, group in samples.loc[repeats["sample_id"]].groupby("patient_id"):
        assert group[["group", "age", "gPC1"]].nunique().eq(1).all()
    assert samples["patient_id"].nunique() == len(samples) - len(repeats) + repeats[
        "patient_id"].nunique()


def test_immune_subgroups(demo, data):
    sub = data["truth"]["subgroups"]
    sub = sub[sub["cohort"] == "discovery"].set_index("sample_id")["subgroup"]
    samples = data["samples"]
    assert set(sub.index) == set(samples["sample_id"][samples["group"] == "ALS"])
    modules = data["truth"]["subgroup_genes"]
    for subgroup in ("inflammatory", "non_inflammatory"):
        score = data["logcpm"].loc[modules["gene_id"][modules["subgroup"] == subgroup],
                                   sub.index].mean()
        own = sub == subgroup
        assert stats.mannwhitneyu(score[own], score[~own], alternative="greater").pvalue < 1e-10
    immune = _gmt(demo / "genesets/immune_signatures.gmt")
    assert sorted(immune) == sorted(["IL4", "IL10", "IL15", "NOD2", "TLR2_1", "VITAMIN_A",
                                     "VITAMIN_D", "IFN_BETA", "IFN_GAMMA"])
    assert all(len(v) == 50 for v in immune.values())
    inflammatory = set(modules["gene_name"][modules["subgroup"] == "inflammatory"])
    assert len(set(immune["NOD2"]) & inflammatory) >= 15


def test_gene_sets_plant_enrichment(demo, data):
    de = data["truth"]["de_genes"]
    up, down = set(de["gene_name"][de["logFC"] > 0]), set(de["gene_name"][de["logFC"] < 0])
    truth = data["truth"]["pathways"].set_index("set_name")
    pathways = _gmt(demo / "genesets/pathways.gmt")
    assert 50 <= len(pathways) <= 70
    assert all(15 <= len(v) <= 300 for v in pathways.values())
    names = set(data["genes"]["gene_name"])
    for name, members in pathways.items():
        assert set(members) <= names
        row = truth.loc[name]
        share = len(set(members) & (up if row["direction"] == "up" else down)) / len(members)
        if row["planted"]:
            assert share > 0.5, name
        else:
            assert len(set(members) & (up | down)) == 0, name
    assert truth["planted"][truth["collection"] == "pathways"].sum() == 8

    # GO terms of one theme share members (enrichment-map clusters).
    go = _gmt(demo / "genesets/go_bp.gmt")
    jaccard = {(a, b): len(set(go[a]) & set(go[b])) / len(set(go[a]) | set(go[b]))
               for a in go for b in go if a < b}
    assert sum(j > 0.2 for j in jaccard.values()) >= 20


def test_disease_tissue_overlaps_planted_degs(demo, data):
    de = data["truth"]["de_genes"].set_index("gene_name")["logFC"]
    neurons = _tsv(demo / "disease_tissue/tdp43_neurons.tsv")
    assert list(neurons.columns) == ["gene_name", "baseMean", "log2FoldChange", "lfcSE", "stat",
                                     "pvalue", "padj"]
    cord = _tsv(demo / "disease_tissue/spinal_cord.tsv")
    assert list(cord.columns) == ["gene_name", "logFC", "FDR"]
    for table, lfc, fdr, share in ((neurons, "log2FoldChange", "padj", 0.3),
                                   (cord, "logFC", "FDR", 0.4)):
        assert (table[fdr] < 0.05).all()
        shared = table[table["gene_name"].isin(de.index)]
        assert abs(len(shared) / len(de) - share) < 0.05
        assert (np.sign(shared[lfc].to_numpy()) == np.sign(de[shared["gene_name"]])).all()
        assert len(table) > 2 * len(shared)  # the tissue's own DEGs


def test_cmap_database(demo, data):
    siginfo = _tsv(demo / "cmap/siginfo.tsv")
    geneinfo = _tsv(demo / "cmap/geneinfo.tsv", dtype={"gene_id": str})
    with h5py.File(demo / "cmap/signatures.gctx", "r") as f:
        matrix = f["0/DATA/0/matrix"][:]
        row_ids = [x.decode() for x in f["0/META/ROW/id"][:]]
        col_ids = [x.decode() for x in f["0/META/COL/id"][:]]
    assert matrix.dtype == np.float32 and matrix.shape == (len(siginfo), len(geneinfo))
    assert 150 <= len(siginfo) <= 250 and 800 <= len(geneinfo) <= 1200
    assert row_ids == geneinfo["gene_id"].tolist() and col_ids == siginfo["sig_id"].tolist()
    assert set(geneinfo["gene_symbol"]) <= set(data["genes"]["gene_name"])
    assert set(geneinfo["feature_space"]) == {"landmark", "best inferred", "inferred"}
    assert (siginfo["pert_type"] == "trt_cp").all()
    compounds = _tsv(demo / "cmap/compoundinfo.tsv")
    assert set(siginfo["pert_iname"]) == set(compounds["pert_iname"])

    de = data["truth"]["de_genes"].set_index("gene_name")["logFC"]
    in_de = geneinfo["gene_symbol"].isin(de.index).to_numpy()
    lfc = de[geneinfo["gene_symbol"][in_de]].to_numpy()
    corr = pd.Series([np.corrcoef(row[in_de], lfc)[0, 1] for row in matrix],
                     index=siginfo["pert_iname"]).groupby(level=0).mean()
    roles = data["truth"]["compounds"].set_index("pert_iname")["role"]
    assert (roles == "reversing").sum() >= 3
    assert (corr[roles.index[roles == "reversing"]] < -0.3).all()
    assert (corr[roles.index[roles == "mimicking"]] > 0.3).all()
    assert (corr[roles.index[roles == "null"]].abs() < 0.2).all()


def test_external_cohort_tables(demo, data):
    samples = _tsv(demo / "external/samples.tsv")
    assert list(samples.columns) == list(SAMPLE_COLUMNS) and len(samples) == external.N_SAMPLES
    assert 0.45 < (samples["group"] == "ALS").mean() < 0.65
    assert not set(samples["sample_id"]) & set(data["samples"]["sample_id"])
    units = _tsv(demo / "external/units.tsv")
    assert list(units.columns) == ["sample_id", "unit", "fq1", "fq2"]
    assert units["fq1"].str.endswith("_R1.fastq.gz").all()
    assert units["fq1"].str.startswith(str(demo / "external" / "fastq")).all()
    true_counts = _tsv(demo / "external/true_counts.tsv", index_col="gene_id")
    assert list(true_counts.columns) == samples["sample_id"].tolist()
    assert 200 <= len(true_counts) <= 800
    names = data["genes"]["gene_name"].loc[true_counts.index]
    assert set(GLOBINS) | set(CHRY_GENES) | {"XIST"} <= set(names)
    assert set(data["truth"]["survival_genes"]["gene_id"]) <= set(true_counts.index)
    assert 15_000 < true_counts.sum().median() < 60_000
    # Same biology: the planted direct effects show in the external cohort too.
    de = data["truth"]["de_genes"].set_index("gene_id")
    direct = de.index[(de["mechanism"] == "direct")].intersection(true_counts.index)
    assert len(direct) >= 150
    non_globin = ~names.isin(list(GLOBINS)).to_numpy()
    logcpm = np.log2((true_counts + 0.5) / true_counts[non_globin].sum() * 1e6)
    is_case = (samples["group"] == "ALS").to_numpy()
    estimate = logcpm.loc[direct].iloc[:, is_case].mean(axis=1) - logcpm.loc[direct].iloc[
        :, ~is_case].mean(axis=1)
    # (12 samples: the estimates are noisy, the direction is not)
    assert np.corrcoef(estimate, de.loc[direct, "logFC"])[0, 1] > 0.3


def test_external_reads_are_written_for_the_true_counts(tmp_path):
    rng = np.random.default_rng(5)
    bio = make_biology(make_genes(3000, rng), rng)
    cohort, rows = external.simulate_external(bio, rng)
    small = dataclasses.replace(cohort, samples=cohort.samples.iloc[:2],
                                counts=cohort.counts[:, :2] // 10)
    external.write_external_reads(tmp_path, bio, small, rows, np.random.default_rng(6))
    ext = tmp_path / "external"
    gtf_ids = set(re.findall(r'gene_id "([^"]+)"', (ext / "genes.gtf").read_text()))
    assert gtf_ids == set(bio.genes["gene_id"].iloc[rows])
    sample = small.samples["sample_id"].iloc[0]
    with gzip.open(ext / "fastq" / f"{sample}_R1.fastq.gz", "rt") as fh:
        n_reads = sum(1 for _ in fh) // 4
    assert n_reads == small.counts[:, 0].sum()


def test_paper_scale_shapes(tmp_path):
    main([str(tmp_path), "--seed", "3", "--scale", "paper", "--no-reads"])
    samples = _tsv(tmp_path / "discovery/samples.tsv")
    with open(tmp_path / "discovery/counts.tsv") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        n_genes = sum(1 for _ in fh)
    assert (len(samples), n_genes) == (694, 22_332) and len(header) == 695
    with pytest.raises(ValueError, match="scale"):
        write_demo(tmp_path, 3, scale="huge")


def test_longitudinal_followup_recovers_what_was_planted(demo, data):
    """Follow-up visits: times, within-patient correlation, the two unstable patients, the
    therapy effect on inflammatory genes and the qPCR subgroups over time."""
    from bloodsig.de import qpcr
    from bloodsig.subtypes import longitudinal as lg
    from bloodsig.subtypes.immune import transcriptome_neighbours

    samples = data["samples"].set_index("sample_id")
    visits = _tsv(demo / "truth/longitudinal.tsv").set_index("sample_id")
    patients = _tsv(demo / "truth/longitudinal_patients.tsv").set_index("patient_id")
    cases = samples["group"] == "ALS"
    assert samples.loc[cases, longitudinal.TIME_COLUMN].notna().all()
    assert samples.loc[~cases, longitudinal.TIME_COLUMN].isna().all()
    assert patients["unstable"].sum() == 2 and (patients["drug"].notna()).sum() == 4

    # Within-patient correlation: a visit's nearest neighbour (whole transcriptome, batch and
    # library regressed out) is another visit of its own patient.
    ids = samples.index[cases]
    nb = transcriptome_neighbours(data["logcpm"][ids], samples.loc[ids].assign(
        patient_id=samples.loc[ids, "patient_id"]), "patient_id", 2000,
        ["batch", "library_type"]).table.set_index("sample_id")
    rate = nb.loc[visits.index, "same_patient"].mean()
    print(f"follow-up visits whose nearest neighbour is their own patient: {rate:.3f}")
    assert rate >= 0.9

    # Subgroup at each visit, from the planted modules' mean log2-CPM (inflammatory minus
    # non-inflammatory, split at the cases' median): exactly the planted per-visit subgroup,
    # so exactly the unstable patients change.
    modules = data["truth"]["subgroup_genes"].set_index("gene_id")["subgroup"]
    score = (data["logcpm"].loc[modules.index[modules == "inflammatory"], ids].mean()
             - data["logcpm"].loc[modules.index[modules == "non_inflammatory"], ids].mean())
    called = pd.Series(np.where(score > score.median(), "inflammatory", "non_inflammatory"),
                       index=ids)
    assert (called[visits.index] == visits["subgroup"]).all()
    changed = called[visits.index].groupby(visits["patient_id"]).nunique() > 1
    assert set(changed.index[changed]) == set(patients.index[patients["unstable"]])

    # Therapy: within-patient change of the treatment genes during the period.
    logcpm = lg.log_cpm(data["counts"][ids])
    genes = data["genes"]
    names = genes["gene_name"].reindex(logcpm.index)
    target = logcpm.loc[names.isin(longitudinal.TREATMENT_GENES).to_numpy()].T.rename(
        columns=names)
    times = lg.sample_times(samples.loc[ids], "patient_id", longitudinal.TIME_COLUMN)
    eff = lg.treatment_effects(target, times, lg.read_treatments(demo /
                                                                  "discovery/treatments.tsv"),
                               called)
    eff["subgroup"] = patients["subgroup"].reindex(eff["patient_id"]).to_numpy()
    mean = eff.groupby("subgroup")["difference"].mean()
    print(f"therapy: mean within-patient log2-CPM change {mean.to_dict()} "
          f"(planted {longitudinal.TREATMENT_LOG2FC} in inflammatory patients, 0 otherwise)")
    assert abs(mean["inflammatory"] - longitudinal.TREATMENT_LOG2FC) < 0.4
    assert abs(mean["non_inflammatory"]) < 0.4
    assert eff.loc[eff["subgroup"] == "inflammatory", "patient_id"].nunique() == 3

    # qPCR over time: the study's rule (IL1B and IL6 Ct < 24 at most time points) recovers
    # the subgroup each patient had at most of its time points.
    ct = qpcr.read_ct_series(demo / "discovery/qpcr_followup.tsv")
    calls = qpcr.subgroup_calls(ct, ["IL1B", "IL6"], 24, 0.5).set_index("patient_id")
    truth = _tsv(demo / "truth/qpcr_subgroups.tsv").set_index("patient_id")
    assert len(calls) == longitudinal.N_FOLLOWUP + longitudinal.N_QPCR_ONLY
    agree = (calls["qpcr_subgroup"] == truth["subgroup"].reindex(calls.index)).mean()
    print(f"qPCR subgroup = planted subgroup for {agree:.3f} of {len(calls)} patients")
    assert agree >= 0.9
