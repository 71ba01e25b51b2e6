"""The connectivity stage on the embedded demo: core genes against the planted DEGs, query
lists, the store, and the planted reversing / mimicking compounds recovered by CMap scoring."""

import json

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # runs Snakemake

QUERIES = ["core_primary", "core_cell_adjusted", "tdp43_neurons", "spinal_cord"]


def read(demo, path, **kw):
    return pd.read_csv(demo / path, sep="\t", **kw)


def test_core_genes_are_planted_blood_degs_shared_with_the_tissues(demo):
    truth = read(demo, "results/demo/truth/de_genes.tsv")
    for analysis in ("primary", "cell_adjusted"):
        core = read(demo, f"results/discovery/connectivity/{analysis}/core_genes.tsv")
        counts = read(demo, f"results/discovery/connectivity/{analysis}/overlaps.tsv")
        n = dict(zip(counts["list"], counts["n_genes"], strict=True))
        assert n["core"] == len(core) >= 20
        assert n["core"] <= min(n["blood & tdp43_neurons"], n["blood & spinal_cord"])
        planted = core["gene_name"].isin(truth["gene_name"]).mean()
        print(f"{analysis}: {len(core)} core genes, {planted:.1%} planted")
        assert planted >= 0.95
        assert core["concordant"].mean() >= 0.95  # the tissues share the planted direction


def test_queries_and_store(demo):
    manifest = json.loads((demo / "results/connectivity_store/manifest.json").read_text())
    assert (manifest["n_genes"], manifest["n_signatures"]) == (1000, 200)
    queries = read(demo, "results/discovery/connectivity/queries.tsv", dtype={"gene_id": str})
    store_genes = read(demo, "results/connectivity_store/genes.tsv", dtype={"gene_id": str})
    assert set(queries["gene_id"]) <= set(store_genes["gene_id"])
    sizes = queries.groupby(["query", "direction"]).size()
    assert set(sizes.index.get_level_values(0)) == set(QUERIES)
    assert sizes.between(10, 150).all()
    assert (queries.loc[queries["direction"] == "up", "logFC"] > 0).all()


def test_planted_reversers_rank_first_with_negative_scores(demo):
    truth = read(demo, "results/demo/truth/compounds.tsv").set_index("pert_iname")["role"]
    reversing = set(truth[truth == "reversing"].index)
    mimicking = set(truth[truth == "mimicking"].index)
    for query in QUERIES:
        d = f"results/discovery/connectivity/{query}"
        perts = read(demo, f"{d}/perturbagens.tsv")  # ordered by summary NCS, lowest first
        assert set(perts["pert_name"].head(len(reversing))) == reversing
        assert (perts.set_index("pert_name").loc[sorted(reversing), "ncs"] < -1).all()
        assert (perts.set_index("pert_name").loc[sorted(mimicking), "ncs"] > 1).all()
        cands = read(demo, f"{d}/candidates.tsv")
        assert set(cands["pert_name"].head(len(reversing))) == reversing
        assert (cands["min_fdr_q"] < 0.05).all() and (cands["ncs"] < 0).all()
        sigs = read(demo, f"{d}/signatures.tsv")
        assert sigs["tau"].between(-100, 100).all() and sigs["fdr_q"].between(0, 1).all()
        assert np.isfinite(sigs[["es_up", "es_down", "wtcs", "ncs"]].to_numpy()).all()
        assert (demo / d / "network.png").stat().st_size > 0
