"""bloodsig.connectivity.store: GCTX -> gene-major memmapped store, chunked, with gene spaces."""

import numpy as np
import pandas as pd
import pytest

from bloodsig.connectivity import release
from bloodsig.connectivity import store as cs
from bloodsig.core.errors import InputError
from bloodsig.simulate.cmapdb import write_gctx

SIG = release.COLUMNS["custom"]["siginfo"]  # the custom layout's column names


@pytest.fixture
def db(tmp_path):
    rng = np.random.default_rng(3)
    n_sig, n_genes = 11, 40
    mat = rng.standard_normal((n_sig, n_genes)).astype(np.float32)
    genes = [str(1000 + i) for i in range(n_genes)]
    sigs = [f"S{i}" for i in range(n_sig)]
    write_gctx(tmp_path / "db.gctx", mat, genes, sigs)
    siginfo = pd.DataFrame({"sig_id": sigs[::-1], "pert_id": "P", "pert_iname": "drug",
                            "pert_type": "trt_cp", "cell_id": "A375"})
    siginfo = siginfo[siginfo["sig_id"] != "S4"]  # a GCTX signature without info is left out
    siginfo.to_csv(tmp_path / "siginfo.tsv", sep="\t", index=False)
    siginfo = release.read_siginfo(tmp_path / "siginfo.tsv", SIG)
    geneinfo = pd.DataFrame({"gene_id": genes, "gene_symbol": [f"G{g}" for g in genes],
                             "feature_space": ["landmark"] * 10 + ["best inferred"] * 20
                             + ["inferred"] * 10})
    compounds = pd.DataFrame({"pert_id": ["P"], "pert_name": ["drug"], "moa": ["m"],
                              "target": ["G1000"]})
    return tmp_path, mat, genes, sigs, siginfo, geneinfo, compounds


def test_store_is_gene_major_ranks_and_scores_any_chunk(db):
    tmp, mat, genes, sigs, siginfo, geneinfo, compounds = db
    cs.build_store(tmp / "db.gctx", siginfo, geneinfo, compounds, tmp / "a", "all", chunk=3)
    cs.build_store(tmp / "db.gctx", siginfo, geneinfo, compounds, tmp / "b", "all", chunk=1000)
    for name in ("ranks.npy", "scores.npy", "signatures.tsv", "genes.tsv", "manifest.json"):
        assert (tmp / "a" / name).read_bytes() == (tmp / "b" / name).read_bytes()
    store = cs.open_store(tmp / "a")
    kept = [i for i, s in enumerate(sigs) if s != "S4"]  # GCTX order
    assert store.signatures["sig_id"].tolist() == [sigs[i] for i in kept]
    np.testing.assert_array_equal(store.scores, mat[kept].T)
    expected_ranks = np.argsort(np.argsort(-mat[kept], axis=1), axis=1).T + 1
    np.testing.assert_array_equal(store.ranks, expected_ranks)
    assert store.ranks.dtype == np.int16 and isinstance(store.ranks, np.memmap)
    assert store.manifest["n_signatures"] == 10 and store.manifest["n_genes"] == 40


def test_gene_space_ranks_within_the_space(db):
    tmp, mat, genes, sigs, siginfo, geneinfo, compounds = db
    cs.build_store(tmp / "db.gctx", siginfo, geneinfo, compounds, tmp / "bing", "bing")
    store = cs.open_store(tmp / "bing")
    assert store.genes["gene_id"].tolist() == genes[:30]
    assert store.ranks.max() == 30 and (np.sort(store.ranks, axis=0)
                                        == np.arange(1, 31)[:, None]).all()
    geneinfo_old = pd.DataFrame({"pr_gene_id": genes, "pr_gene_symbol": genes,
                                 "pr_is_lm": [1] * 10 + [0] * 30,
                                 "pr_is_bing": [1] * 30 + [0] * 10})
    path = tmp / "geneinfo_old.tsv"
    geneinfo_old.to_csv(path, sep="\t", index=False)
    read = release.read_geneinfo(path, {"gene_id": "pr_gene_id", "gene_symbol": "pr_gene_symbol"})
    assert (read["feature_space"] == geneinfo["feature_space"]).all()


def test_bad_inputs_stop_without_partial_store(db):
    tmp, mat, genes, sigs, siginfo, geneinfo, compounds = db
    with pytest.raises(InputError, match="lack gene info, e.g. '1039'"):
        cs.build_store(tmp / "db.gctx", siginfo, geneinfo.iloc[:-1], compounds, tmp / "x")
    bad = mat.copy()
    bad[5, 7] = np.nan
    write_gctx(tmp / "nan.gctx", bad, genes, sigs)
    with pytest.raises(InputError, match="non-finite score for gene 1007") as e:
        cs.build_store(tmp / "nan.gctx", siginfo, geneinfo, compounds, tmp / "y", chunk=4)
    assert "S5" in str(e.value)
    assert not any((tmp / "y").glob("*.npy*")) and not (tmp / "y" / "manifest.json").exists()
    (tmp / "junk.gctx").write_text("not hdf5")
    with pytest.raises(InputError, match="not a GCTX"):
        cs.read_gctx_ids(tmp / "junk.gctx")
    with pytest.raises(InputError, match="no manifest"):
        cs.open_store(tmp)


def test_siginfo_flags_and_duplicates(tmp_path):
    path = tmp_path / "siginfo.tsv"
    pd.DataFrame({"sig_id": ["a", "b"], "pert_id": "P", "pert_iname": "x", "pert_type": "t",
                  "cell_id": "c", "is_null_sig": ["1", "0"]}).to_csv(path, sep="\t", index=False)
    info = release.read_siginfo(path, SIG)
    assert info["is_null_sig"].tolist() == [True, False]
    assert info["is_ncs_sig"].all() and info["qc_pass"].all()
    pd.DataFrame({"sig_id": ["a", "a"], "pert_id": "P", "pert_iname": "x", "pert_type": "t",
                  "cell_id": "c"}).to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match="row 3.*duplicated signature id 'a'"):
        release.read_siginfo(path, SIG)


def test_write_gctx_round_trips_a_score_matrix(tmp_path):
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((7, 3))
    rows, cols = [f"sig{i}" for i in range(7)], ["qa", "qb", "qc"]
    cs.write_gctx(tmp_path / "ncs.gctx", matrix, rows, cols, {"cell_id": ["A375"] * 7})
    got = cs.read_gctx(tmp_path / "ncs.gctx")
    assert list(got.index) == rows and list(got.columns) == cols
    np.testing.assert_array_equal(got.to_numpy(), matrix.astype(np.float32))
    first = (tmp_path / "ncs.gctx").read_bytes()
    cs.write_gctx(tmp_path / "ncs.gctx", matrix, rows, cols, {"cell_id": ["A375"] * 7})
    assert (tmp_path / "ncs.gctx").read_bytes() == first  # byte-reproducible
