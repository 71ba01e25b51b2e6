"""bloodsig.connectivity.release: LINCS release folders read as the Broad publishes them (fixtures
with the releases' exact headers, a few rows each) score exactly as the same data in the custom
layout."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bloodsig.connectivity import queries as cn
from bloodsig.connectivity import release as cr
from bloodsig.connectivity import results as cres
from bloodsig.connectivity import store as cs
from bloodsig.core.errors import InputError
from bloodsig.simulate.cmapdb import write_gctx

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "cmap_releases"
HEADERS = {  # the published headers (see the module doc for where each was confirmed)
    "lincs2017/GSE92742_Broad_LINCS_sig_info.txt":
        "sig_id pert_id pert_iname pert_type cell_id pert_dose pert_dose_unit pert_idose "
        "pert_time pert_time_unit pert_itime distil_id",
    "lincs2017/GSE92742_Broad_LINCS_gene_info.txt":
        "pr_gene_id pr_gene_symbol pr_gene_title pr_is_lm pr_is_bing",
    "lincs2017/GSE92742_Broad_LINCS_pert_info.txt":
        "pert_id pert_iname pert_type is_touchstone inchi_key_prefix inchi_key "
        "canonical_smiles pubchem_cid",
    "lincs2020/geneinfo_beta.txt":
        "gene_id gene_symbol ensembl_id gene_title gene_type src feature_space",
    "lincs2020/compoundinfo_beta.txt":
        "pert_id cmap_name target moa canonical_smiles inchi_key compound_aliases",
    "lincs2020/siginfo_beta.txt":
        "bead_batch nearest_dose pert_dose pert_dose_unit pert_idose pert_itime pert_time "
        "pert_time_unit cell_mfc_name pert_mfc_id nsample cc_q75 ss_ngene tas "
        "pct_self_rank_q25 wt median_recall_rank_spearman median_recall_rank_wtcs_50 "
        "median_recall_score_spearman median_recall_score_wtcs_50 batch_effect_tstat "
        "batch_effect_tstat_pct is_hiq qc_pass pert_id sig_id pert_type cell_iname det_wells "
        "det_plates distil_ids build_name project_code cmap_name is_exemplar_sig is_ncs_sig "
        "is_null_sig",
}


def test_fixtures_carry_the_published_headers():
    for name, header in HEADERS.items():
        first = (FIXTURES / name).read_text(encoding="utf-8").splitlines()[0]
        assert first.split("\t") == header.split(), name


def release_folder(tmp_path, release):
    """A copy of the fixture folder plus its GCTX files (scores for the fixture's signatures
    over all 14 genes, written as the release names them)."""
    folder = shutil.copytree(FIXTURES / release, tmp_path / release)
    rng = np.random.default_rng(5)
    if release == "lincs2017":
        genes = pd.read_csv(folder / "GSE92742_Broad_LINCS_gene_info.txt", sep="\t",
                            dtype=str)["pr_gene_id"]
        sigs = pd.read_csv(folder / "GSE92742_Broad_LINCS_sig_info.txt", sep="\t")["sig_id"]
        write_gctx(folder / f"GSE92742_Broad_LINCS_Level5_COMPZ.MODZ_n{len(sigs)}x{len(genes)}"
                   ".gctx", rng.standard_normal((len(sigs), len(genes))), genes, sigs)
    else:
        genes = pd.read_csv(folder / "geneinfo_beta.txt", sep="\t", dtype=str)["gene_id"]
        info = pd.read_csv(folder / "siginfo_beta.txt", sep="\t")
        for kind, sel in (("trt_cp", info["pert_type"] == "trt_cp"),
                          ("ctl", info["pert_type"] != "trt_cp")):
            sigs = info.loc[sel, "sig_id"]
            write_gctx(folder / f"level5_beta_{kind}_n{len(sigs)}x{len(genes)}.gctx",
                       rng.standard_normal((len(sigs), len(genes))), genes, sigs)
    return folder


def build(spec, outdir, gene_space="bing"):
    siginfo, geneinfo, compounds = cr.load_tables(spec)
    cs.build_store(spec["files"]["gctx"], siginfo, geneinfo, compounds, outdir, gene_space)
    return cs.open_store(outdir)


def as_custom(spec, store, tmp_path):
    """The same data in the custom layout: standard column names, explicit flags."""
    d = tmp_path / "custom"
    d.mkdir()
    sig = store.signatures[["sig_id", "pert_id", "pert_name", "pert_type", "cell_id", "qc_pass",
                            "is_ncs_sig", "is_null_sig"]].rename(columns={"pert_name":
                                                                           "pert_iname"})
    sig.astype({c: int for c in ("qc_pass", "is_ncs_sig", "is_null_sig")}).to_csv(
        d / "siginfo.tsv", sep="\t", index=False)
    _, geneinfo, compounds = cr.load_tables(spec)
    geneinfo.to_csv(d / "geneinfo.tsv", sep="\t", index=False)
    compounds.rename(columns={"pert_name": "pert_iname"}).drop(columns="is_touchstone").to_csv(
        d / "compoundinfo.tsv", sep="\t", index=False)
    return cr.resolve({"release": "custom", "gctx": spec["files"]["gctx"],
                       "siginfo": str(d / "siginfo.tsv"), "geneinfo": str(d / "geneinfo.tsv"),
                       "compoundinfo": str(d / "compoundinfo.tsv")})


def score(store):
    sym = store.genes.set_index("gene_symbol")["gene_id"]
    rows = [("q", "up", g, sym[g]) for g in ("PSME1", "ATF1", "IL1B", "TNF")]
    rows += [("q", "down", g, sym[g]) for g in ("FOXO3", "RHOA", "EGFR", "PTGS2")]
    queries = pd.DataFrame(rows, columns=["query", "direction", "gene_name", "gene_id"])
    bg = cn.reference_background(store, cn.reference_queries(store, 5, 2, seed=1), True)
    settings = cn.ScoringSettings.from_config(
        {"weighted": True, "ncs_floor": 0.01, "null_queries": 10, "null_signatures": 50,
         "summary_quantiles": [33, 67],
         "candidates": {"direction": "reversing", "max_fdr": 1.0, "require_moa": False,
                        "qc_pass": True, "top": 20}})
    tables = cn.analyse_queries(store, queries, bg, settings, seed=3)["q"]
    return {**tables, "signatures": cres.signature_table(store, tables)}


@pytest.mark.parametrize("release", ["lincs2017", "lincs2020"])
def test_preset_reads_the_release_folder_and_scores_as_the_custom_layout(tmp_path, release):
    folder = release_folder(tmp_path, release)
    spec = cr.resolve({"release": release, "folder": str(folder)})
    store = build(spec, tmp_path / "preset")
    assert store.n_genes == 10  # BING: landmark (5) + best inferred (5) of the 14 genes
    info = store.signatures.set_index("sig_id")
    null = info.index[info["is_null_sig"]]
    assert len(null) == 3 and set(info.loc[null, "pert_id"]) == {"DMSO"}  # controls: the null
    if release == "lincs2017":  # reference = treatments of touchstone perturbagens
        assert set(info.index[info["is_ncs_sig"]].str.split(":").str[1]) == {
            "BRD-K21680192-001-01-1", "BRD-K81418486-001-01-1", "TRCN0000010389"}
        assert len(spec["files"]["gctx"]) == 1 and not info["qc_pass"].eq(False).any()
    else:  # the release's own flags; trt_cp and ctl files in one store
        assert len(spec["files"]["gctx"]) == 2 and (~info["qc_pass"]).sum() == 1
        assert (~info["is_ncs_sig"]).sum() == 4  # 3 controls + one flagged 0
        moa = store.compounds.set_index("pert_id")
        assert moa.loc["BRD-K81418486", "target"] == "HDAC1|HDAC2"
        assert moa.loc["BRD-K81418486", "pert_name"] == "vorinostat"
    custom = build(as_custom(spec, store, tmp_path), tmp_path / "custom_store")
    a, b = score(store), score(custom)
    for table in ("signatures", "perturbagens", "candidates", "ncs_means"):
        pd.testing.assert_frame_equal(a[table], b[table], check_exact=True)
    assert np.isfinite(a["signatures"][["es_up", "es_down", "ncs", "tau"]].to_numpy()).all()


def test_lincs2017_takes_mechanisms_from_an_annotation_table(tmp_path):
    folder = release_folder(tmp_path, "lincs2017")
    spec = cr.resolve({"release": "lincs2017", "folder": str(folder),
                       "annotations": str(FIXTURES / "lincs2020" / "compoundinfo_beta.txt")})
    _, _, compounds = cr.load_tables(spec)
    got = compounds.set_index("pert_id")
    assert got.loc["BRD-K21680192", "moa"] == "Topoisomerase inhibitor"
    assert got.loc["BRD-K21680192", "target"] == "TOP2A|TOP2B"
    assert got.loc["DMSO", "moa"] == "" and bool(got.loc["BRD-K81418486", "is_touchstone"])


def test_preset_ignores_the_custom_file_keys_and_takes_select(tmp_path):
    folder = release_folder(tmp_path, "lincs2020")
    db = {"release": "lincs2020", "folder": str(folder), "gctx": "results/demo/x.gctx",
          "siginfo": "results/demo/siginfo.tsv"}  # the demo's keys, merged in from the default
    spec = cr.resolve(db)
    assert [Path(f).name for f in spec["files"]["gctx"]] == [
        "level5_beta_trt_cp_n8x14.gctx", "level5_beta_ctl_n3x14.gctx"]
    assert Path(spec["files"]["siginfo"][0]).name == "siginfo_beta.txt"
    spec = cr.resolve(dict(db, select={"gctx": ["level5_beta_ctl_n3x14.gctx"]}))
    assert spec["files"]["gctx"] == [str(folder / "level5_beta_ctl_n3x14.gctx")]


def test_user_flag_columns_and_missing_files(tmp_path):
    folder = release_folder(tmp_path, "lincs2017")
    info = pd.read_csv(folder / "GSE92742_Broad_LINCS_sig_info.txt", sep="\t")
    info["my_ref"] = (info["cell_id"] == "A375").astype(int)
    info.to_csv(folder / "GSE92742_Broad_LINCS_sig_info.txt", sep="\t", index=False)
    spec = cr.resolve({"release": "lincs2017", "folder": str(folder),
                       "columns": {"siginfo": {"is_ncs_sig": "my_ref"}}})
    sig, _, _ = cr.load_tables(spec)
    assert sig["is_ncs_sig"].tolist() == (info["cell_id"] == "A375").tolist()
    spec["columns"]["siginfo"]["is_ncs_sig"] = "absent"
    with pytest.raises(InputError, match="no column 'absent'"):
        cr.load_tables(spec)
    with pytest.raises(InputError, match="no gctx file in the lincs2020 folder"):
        cr.resolve({"release": "lincs2020", "folder": str(folder)})
    with pytest.raises(InputError, match="folder is required"):
        cr.resolve({"release": "lincs2020"})
    with pytest.raises(InputError, match="siginfo is required"):
        cr.resolve({"release": "custom", "gctx": "x.gctx"})
    gz = tmp_path / "gz"
    gz.mkdir()
    (gz / "GSE92742_Broad_LINCS_Level5_COMPZ.MODZ_n473647x12328.gctx.gz").write_bytes(b"")
    with pytest.raises(InputError, match="gunzip it first"):
        cr.resolve({"release": "lincs2017", "folder": str(gz)})
