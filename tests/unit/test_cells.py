"""bloodsig.cells: deconvolution, validation, VIF, PC association vs planted truth."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bloodsig.cells import adjustment
from bloodsig.cells import proportions as cells
from bloodsig.cells.settings import CellsSettings, CollinearitySettings, PCAssociationSettings
from bloodsig.core.errors import InputError
from bloodsig.plots.cells import pc_association_heatmap, validation_scatter

TYPES = ["CD8T", "CD4T", "NK", "Bcell", "Mono", "Neu"]
MEAN = np.array([0.08, 0.15, 0.05, 0.05, 0.08, 0.59])


def planted(n=150, markers=15, seed=7):
    """A signature of `markers` genes per type (high in its own type, 1-8% elsewhere),
    Dirichlet fractions and the mixed expression as counts with per-sample library sizes."""
    rng = np.random.default_rng(seed)
    k = len(TYPES)
    sig = rng.uniform(0.01, 0.08, (markers * k, k))
    for j in range(k):
        sig[j * markers:(j + 1) * markers, j] = 1.0
    sig *= 2.0 ** rng.uniform(5, 10, markers * k)[:, None]
    genes = [f"G{i:04d}" for i in range(markers * k)]
    signature = pd.DataFrame(sig, index=genes, columns=TYPES)
    props = rng.dirichlet(MEAN * 80, n)
    ids = [f"S{i:03d}" for i in range(n)]
    truth = pd.DataFrame(props, index=ids, columns=TYPES)
    return signature, truth, rng


def mixed(signature, truth, rng, noise_sd=0.0, extra_genes=50):
    """Counts: mixture x library size x log-normal noise, plus non-signature genes."""
    mu = signature.to_numpy() @ truth.to_numpy().T
    mu = mu * np.exp(rng.normal(0, noise_sd, mu.shape)) if noise_sd else mu
    other = rng.uniform(10, 1000, (extra_genes, mu.shape[1]))
    ids = list(signature.index) + [f"X{i:04d}" for i in range(extra_genes)]
    lib = rng.uniform(0.5, 2.0, mu.shape[1])
    values = np.vstack([mu, other]) * lib
    if noise_sd:
        values = rng.poisson(values * 50)
    return pd.DataFrame(values, index=ids, columns=truth.index)


@pytest.mark.parametrize("weighting", ["relative", "none"])
def test_deconvolve_exact_without_noise(weighting):
    signature, truth, rng = planted()
    res = cells.deconvolve(mixed(signature, truth, rng), signature.iloc[::-1], weighting)
    np.testing.assert_allclose(res.fractions.loc[truth.index, TYPES], truth, atol=1e-8)
    np.testing.assert_allclose(res.fractions.sum(axis=1), 1.0)
    assert (res.fit["residual"] < 1e-8).all() and (res.fit["fit_r"] > 1 - 1e-10).all()
    assert (res.fit["n_genes"] == len(signature)).all()


def test_deconvolve_recovers_planted_fractions_with_noise():
    signature, truth, rng = planted()
    counts = mixed(signature, truth, rng, noise_sd=0.2)
    rel = cells.deconvolve(counts, signature, "relative").fractions
    plain = cells.deconvolve(counts, signature, "none").fractions
    assert (rel >= 0).all().all()
    r_rel = [np.corrcoef(rel[c], truth[c])[0, 1] for c in TYPES]
    r_plain = [np.corrcoef(plain[c], truth[c])[0, 1] for c in TYPES]
    assert min(r_rel) > 0.9
    # Relative weights let every marker count, not only the most abundant ones.
    assert np.mean(r_rel) > np.mean(r_plain)


def test_deconvolve_refuses_unusable_signature():
    signature, truth, rng = planted()
    counts = mixed(signature, truth, rng)
    with pytest.raises(InputError, match="shares only 5 expressed genes"):
        cells.deconvolve(counts.iloc[:5], signature)
    twin = signature.assign(CD4T=signature["CD8T"] * 2)
    with pytest.raises(InputError, match="linearly dependent"):
        cells.deconvolve(counts, twin)
    silent = counts.copy()
    silent.loc[signature.index, "S003"] = 0
    with pytest.raises(InputError, match="'S003' expresses none"):
        cells.deconvolve(silent, signature)


def test_compare_and_choose_estimate():
    _, truth, rng = planted(n=80)
    good = truth * np.exp(rng.normal(0, 0.05, truth.shape))
    bad = truth * np.exp(rng.normal(0, 0.4, truth.shape))
    flow = truth.iloc[10:50]
    groups = {"Lymphocytes": ["CD8T", "CD4T", "NK", "Bcell"]}
    table = cells.compare({"supplied": bad, "rna": good}, flow, groups)
    assert len(table) == 2 * 7 and (table["n"] == 40).all()
    row = table.set_index(["estimate", "cell_type"]).loc[("rna", "Lymphocytes")]
    est = good.loc[flow.index, groups["Lymphocytes"]].sum(axis=1)
    ref = flow[groups["Lymphocytes"]].sum(axis=1)
    assert row["r"] == pytest.approx(np.corrcoef(est, ref)[0, 1], abs=1e-12)
    assert row["p_value"] == pytest.approx(stats.pearsonr(est, ref).pvalue, rel=1e-9)
    assert row["bias"] == pytest.approx((est - ref).mean(), abs=1e-12)
    assert row["rmse"] == pytest.approx(np.sqrt(((est - ref) ** 2).mean()), abs=1e-12)
    assert cells.choose_estimate("auto", ["supplied", "rna"], table, groups) == "rna"
    assert cells.choose_estimate("supplied", ["supplied", "rna"], table) == "supplied"
    assert cells.choose_estimate("auto", ["supplied", "rna"], None) == "supplied"
    with pytest.raises(InputError, match="no cell_signature"):
        cells.choose_estimate("rna", ["supplied"], table)
    with pytest.raises(InputError, match="shares 0 samples"):
        cells.compare({"rna": good}, flow.rename(index=lambda s: "x" + s))
    with pytest.raises(InputError, match="share no cell type"):
        cells.compare({"rna": good}, flow.rename(columns=str.lower))


def test_variance_inflation_matches_inverse_correlation():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 4))
    x[:, 3] = x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.3, 200)
    df = pd.DataFrame(x, columns=list("abcd"))
    expected = np.diag(np.linalg.inv(np.corrcoef(x.T)))
    np.testing.assert_allclose(adjustment.variance_inflation(df), expected, rtol=1e-9)


def test_drop_collinear_removes_one_type_of_a_simplex():
    _, truth, rng = planted(n=120)
    samples = pd.DataFrame({"age": rng.normal(60, 10, 120),
                            "batch": rng.choice(["B1", "B2", "B3"], 120)}, index=truth.index)
    res = adjustment.drop_collinear(truth, samples, CollinearitySettings(["age", "batch"], 10,
                                                                         "auto"))
    # Exact collinearity: every VIF is huge and, as in the near-collinear limit, proportional
    # to the type's variance, so the most variable type (neutrophils) goes.
    assert res.dropped == ["Neu"] and res.kept == TYPES[:5]
    first = res.table[res.table["step"] == 1].set_index("column")
    assert (first.loc[TYPES, "vif"] > 1e6).all()
    assert first.loc["Neu", "dropped"] and first["dropped"].sum() == 1
    last = res.table[res.table["step"] == 2]
    assert (last["vif"] < 10).all() and not last["dropped"].any()
    forced = adjustment.drop_collinear(truth, samples, CollinearitySettings(["age"], 10, "CD4T"))
    assert forced.dropped == ["CD4T"] and "CD4T" not in forced.kept
    with pytest.raises(InputError, match="not a cell type"):
        adjustment.drop_collinear(truth, samples, CollinearitySettings([], 10, "Eos"))
    with pytest.raises(InputError, match="'S000' of the expression has no cell fractions"):
        adjustment.drop_collinear(truth.iloc[1:], samples, CollinearitySettings([], 10, "auto"),
                                  source="f.tsv")


def test_pc_association_bonferroni_and_flags():
    rng = np.random.default_rng(5)
    n = 100
    pcs = pd.DataFrame(rng.normal(size=(n, 3)), columns=["RNA_PC1", "RNA_PC2", "RNA_PC3"])
    fr = pd.DataFrame({"Neu": 0.6 + 0.05 * pcs["RNA_PC2"] + rng.normal(0, 0.02, n),
                       "Mono": rng.uniform(0.05, 0.1, n)})
    out = adjustment.pc_association(fr, pcs, min_abs_r=0.25, alpha=0.05)
    assert len(out) == 6
    row = out[(out["cell_type"] == "Neu") & (out["pc"] == "RNA_PC2")].iloc[0]
    ref = stats.pearsonr(fr["Neu"], pcs["RNA_PC2"])
    assert row["r"] == pytest.approx(ref.statistic, abs=1e-12)
    assert row["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)
    np.testing.assert_allclose(out["p_bonferroni"], np.minimum(out["p_value"] * 6, 1))
    assert out["flagged"].sum() == 1 and row["flagged"]


def write(tmp_path, name, df):
    path = tmp_path / name
    df.to_csv(path, sep="\t", index=False)
    return path


def test_read_fractions_refuses_bad_tables(tmp_path):
    ok = pd.DataFrame({"sample_id": ["S1", "S2"], "Neu": [0.6, 0.7], "Lym": [0.4, 0.3]})
    got = cells.read_fractions(write(tmp_path, "ok.tsv", ok), ["S1", "S2", "S3"], 0.05)
    assert list(got.index) == ["S1", "S2"] and list(got.columns) == ["Neu", "Lym"]
    neg = ok.assign(Neu=[0.6, -0.01])
    with pytest.raises(InputError, match=r"neg.tsv, row 3, column 'Neu'.*'-0.01'"):
        cells.read_fractions(write(tmp_path, "neg.tsv", neg), None, 0.05)
    off = ok.assign(Lym=[0.4, 0.1])
    with pytest.raises(InputError, match=r"off.tsv, row 3: fractions of sample 'S2' sum to 0.8"):
        cells.read_fractions(write(tmp_path, "off.tsv", off), None, 0.05)
    assert len(cells.read_fractions(tmp_path / "off.tsv", None, sum_tolerance=0.25)) == 2
    with pytest.raises(InputError, match=r"row 3, column 'sample_id'.*'S2' is not in the"):
        cells.read_fractions(tmp_path / "ok.tsv", ["S1"], 0.05)
    bad_name = ok.rename(columns={"Lym": "T cells"})
    with pytest.raises(InputError, match="column 'T cells': cell-type name must be"):
        cells.read_fractions(write(tmp_path, "name.tsv", bad_name), None, 0.05)


def test_read_signature(tmp_path):
    sig = pd.DataFrame({"gene_id": ["G1", "G2", "G3"], "gene_name": ["A", "B", "C"],
                        "Neu": [10.0, 1.0, 2.0], "Mono": [1.0, 20.0, 2.0]})
    got = cells.read_signature(write(tmp_path, "sig.tsv", sig))
    assert list(got.columns) == ["Neu", "Mono"] and got.loc["G2", "Mono"] == 20.0
    with pytest.raises(InputError, match=r"row 4, column 'Mono'.*not a non-negative"):
        cells.read_signature(write(tmp_path, "neg.tsv", sig.assign(Mono=[1.0, 2.0, -1.0])))
    with pytest.raises(InputError, match="duplicated gene id 'G1'"):
        cells.read_signature(write(tmp_path, "dup.tsv", sig.assign(gene_id=["G1", "G2",
                                                                            "G1"])))


def test_adjustment_effect_and_summary():
    def tt(called):
        ids = [f"G{i}" for i in range(6)]
        return pd.DataFrame({"gene_id": ids, "logFC": 1.0,
                             "adj.P.Val": [0.001 if g in called else 0.5 for g in ids]})

    truth = pd.DataFrame({"gene_id": ["G0", "G1", "G2", "G3"],
                          "mechanism": ["cell_mediated", "cell_mediated", "direct", "direct"]})
    eff = adjustment.adjustment_effect(tt({"G0", "G1", "G2", "G3", "G5"}), tt({"G2", "G3", "G4"}),
                                  truth, 0.01, 0.1).set_index(["metric", "item"])["value"]
    assert eff[("degs_unadjusted", "all")] == 5 and eff[("degs_adjusted", "all")] == 3
    assert eff[("kept_share", "cell_mediated")] == 0 and eff[("kept_share", "direct")] == 1
    assert eff[("planted_called_unadjusted", "cell_mediated")] == 2
    vif = pd.DataFrame({"step": [1, 1], "column": ["Neu", "Mono"], "cell_type": True,
                        "vif": [1e9, 1e8], "dropped": [True, False]})
    val = pd.DataFrame({"estimate": ["rna"], "cell_type": ["Neu"], "r": [0.9]})
    s = cells.summary_table("rna", ["supplied", "rna"], val, vif,
                            adjustment=eff.reset_index())
    assert s.loc[s["metric"] == "used_for_de", "value"].tolist() == [0.0, 1.0]
    assert s.loc[s["metric"] == "dropped_for_collinearity", "item"].tolist() == ["Neu"]
    assert s.loc[s["metric"] == "flow_r", "value"].tolist() == [0.9]


def test_figures_draw_every_panel():
    _, truth, rng = planted(n=40)
    est = truth * np.exp(rng.normal(0, 0.1, truth.shape))
    table = cells.compare({"rna": est}, truth)
    fig = validation_scatter({"rna": est}, truth, table)
    gids = {c.get_gid() for ax in fig.axes for c in ax.collections}
    assert gids == {f"rna:{c}" for c in TYPES}
    pcs = pd.DataFrame(rng.normal(size=(40, 2)), index=truth.index, columns=["RNA_PC1", "PC2"])
    heat = pc_association_heatmap(adjustment.pc_association(truth, pcs, 0.25, 0.05))
    assert heat.axes[0].images[0].get_array().shape == (6, 2)


def test_settings_from_the_schema_defaults():
    from pathlib import Path

    from bloodsig.core.configcheck import section_defaults
    from bloodsig.core.sheets import load_schema

    schema = load_schema(Path(__file__).parents[2] / "config/schemas/config.schema.yaml")
    cfg = section_defaults(schema["properties"]["cells"])
    settings = CellsSettings.from_config(cfg)
    assert settings.collinearity == CollinearitySettings([], 10, "auto")
    assert (settings.estimate, settings.sum_tolerance, settings.groups) == ("auto", 0.05, {})
    pcs = PCAssociationSettings.from_config(cfg["pc_association"])
    assert (pcs.n_pcs, pcs.min_abs_r, pcs.alpha) == (10, 0.25, 0.05)
    no_block = {k: v for k, v in cfg.items() if k != "collinearity"}
    assert CellsSettings.from_config(no_block).collinearity is None
