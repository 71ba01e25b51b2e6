"""CMap scoring against the Connectivity Map's own expected results (cmap/cmapM tests).

golden/: 10 queries (up/down GMT, Entrez ids) x 10 signatures (BING space, 10,174 genes):
the store built from the signatures' moderated z-scores must reproduce cmapM's rank matrix
exactly and its WTCS (contest_results_n10x10.gctx) to 1e-6. tsa/: trichostatin A in MCF7
against the HDAC queries, weighted and unweighted.
"""

import numpy as np
import pandas as pd
import pytest

from bloodsig.connectivity import enrichment
from bloodsig.connectivity import queries as cn
from bloodsig.connectivity import scores as cmap_scores
from bloodsig.connectivity import store as cs


def read_gmt(path):
    sets = {}
    for line in path.read_text().splitlines():
        fields = line.split("\t")
        sets[fields[0]] = [f for f in fields[2:] if f]
    return sets


@pytest.fixture(scope="module")
def golden(refdata, tmp_path_factory):
    d = refdata / "cmap" / "golden"
    genes, sigs = cs.read_gctx_ids(d / "contest_modzs_ezid_n10x10174.gctx")
    out = tmp_path_factory.mktemp("golden")
    siginfo = pd.DataFrame({"sig_id": sigs, "pert_id": "p", "pert_name": "p",
                            "pert_type": "trt_cp", "cell_id": "A375", "qc_pass": True,
                            "is_ncs_sig": True, "is_null_sig": False})
    geneinfo = pd.DataFrame({"gene_id": genes, "gene_symbol": genes,
                             "feature_space": "best inferred"})
    compounds = pd.DataFrame(columns=["pert_id", "pert_name", "moa", "target"])
    cs.build_store(d / "contest_modzs_ezid_n10x10174.gctx", siginfo, geneinfo, compounds,
                   out / "store", "bing", chunk=4)
    return d, cs.open_store(out / "store")


def test_store_ranks_equal_cmap_rank_matrix(golden):
    d, store = golden
    rank = cs.read_gctx(d / "contest_rank_ezid_n10x10174.gctx")
    rank = rank.loc[store.genes["gene_id"], store.signatures["sig_id"]]
    np.testing.assert_array_equal(store.ranks, rank.to_numpy())


def test_wtcs_matches_cmap_golden_results(golden):
    d, store = golden
    up = read_gmt(d / "contest_query_ezid_up_n10.gmt")
    down = read_gmt(d / "contest_query_ezid_down_n10.gmt")
    rows = []
    for name in up:
        query = name.removesuffix("_UP")
        for direction, genes in (("up", up[name]), ("down", down[f"{query}_DN"])):
            rows += [(query, direction, g, g) for g in genes]
    queries = pd.DataFrame(rows, columns=["query", "direction", "gene_name", "gene_id"])
    queries = queries[queries["gene_id"].isin(store.genes["gene_id"])]  # CMap drops the rest
    sets = cn.query_sets(store, queries)
    es = enrichment.enrichment_scores(store.ranks, store.scores,
                                      [g for q in sets.values() for g in q])
    wtcs = pd.DataFrame(cmap_scores.wtcs(es[0::2], es[1::2]).T, index=store.signatures["sig_id"],
                        columns=list(sets))
    expected = cs.read_gctx(d / "contest_results_n10x10.gctx")
    got = wtcs.loc[expected.index, [c.upper() for c in expected.columns]]
    assert (expected.to_numpy() == 0).sum() > 30  # the same-sign zero rule is exercised
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("weighted, expected", [(True, (0.7733, 0.7449, -0.8016)),
                                                (False, (0.5551, 0.5516, -0.5585))])
def test_trichostatin_a_hdac_query(refdata, weighted, expected):
    d = refdata / "cmap" / "tsa"

    def gct(name):
        return pd.read_csv(d / name, sep="\t", skiprows=2, index_col=0).iloc[:, 0]

    score = gct("trichostatina_mcf7_10um_score.gct")
    rank = gct("trichostatina_mcf7_10um_rank_full.gct").loc[score.index]
    row = pd.Series(np.arange(len(score)), index=score.index)

    def grp(name):
        ids = [x.strip() for x in (d / name).read_text().splitlines() if x.strip()]
        return row[[i for i in ids if i in row.index]].to_numpy()

    es = enrichment.enrichment_scores(rank.to_numpy(np.int32)[:, None],
                              score.to_numpy(np.float32)[:, None],
                              [grp("HDAC_UP.grp"), grp("HDAC_DN.grp")], weighted=weighted)
    got = (cmap_scores.wtcs(es[0], es[1])[0], es[0, 0], es[1, 0])
    # cmapM's test states 4 decimals: agree to their rounding.
    np.testing.assert_allclose(got, expected, atol=5e-5, rtol=0)
