"""Stage subtypes on the embedded demo (fixture `demo`): the planted immune subgroups and the
repeat samples of a patient are recovered, and the subgroup top genes are the planted modules."""

import pandas as pd

SUBTYPES = "results/discovery/subtypes"


def _summary(demo) -> pd.Series:
    table = pd.read_csv(demo / SUBTYPES / "summary.tsv", sep="\t", index_col="metric")
    return table["value"]


def test_outputs_exist(demo):
    for name in ["summary.tsv", "scores.tsv", "zscores.tsv", "clusters.tsv",
                 "cluster_signatures.tsv", "silhouette.tsv", "repeat_clusters.tsv",
                 "neighbours.tsv", "toptable.tsv", "degs_up.tsv", "degs_down.tsv",
                 "heatmap.png", "markers.png", "correlation.png", "volcano.png"]:
        assert (demo / SUBTYPES / name).stat().st_size > 0
    up = pd.read_csv(demo / SUBTYPES / "degs_up.tsv", sep="\t")
    assert list(up.columns[:8]) == ["gene_id", "gene_name", "logFC", "AveExpr", "t",
                                    "P.Value", "adj.P.Val", "B"]


def test_planted_subgroups_recovered(demo):
    """Cases only, k = 2: adjusted Rand index >= 0.8 against the planted subgroups, and each
    cluster is labelled by the signatures built on its own module."""
    summary = _summary(demo)
    ari = float(summary["adjusted_rand_index"])
    print(f"ARI {ari:.4f} over {summary['known_subgroups_samples']} samples, k {summary['k']}")
    assert ari >= 0.8
    truth = pd.read_csv(demo / "results/demo/truth/subgroups.tsv", sep="\t")
    truth = truth[truth["cohort"] == "discovery"].set_index("sample_id")["subgroup"]
    clusters = pd.read_csv(demo / SUBTYPES / "clusters.tsv", sep="\t", index_col="sample_id")
    assert set(clusters.index) <= set(truth.index)  # cases only
    majority = pd.crosstab(clusters["cluster"], truth.reindex(clusters.index)).idxmax(axis=1)
    labels = pd.read_csv(demo / SUBTYPES / "cluster_signatures.tsv", sep="\t",
                         index_col="cluster")["label"]
    inflammatory = {"IL15", "NOD2", "TLR2_1", "IFN_BETA", "IFN_GAMMA"}  # simulate.genesets
    for cluster, subgroup in majority.items():
        high = set(labels[cluster].split("+"))
        assert high == (inflammatory if subgroup == "inflammatory" else
                        {"IL4", "IL10", "VITAMIN_A", "VITAMIN_D"})


def test_repeat_samples_cluster_with_their_patient(demo):
    summary = _summary(demo)
    rate = float(summary["repeat_nearest_neighbour_rate"])
    repeats = pd.read_csv(demo / "results/demo/truth/repeats.tsv", sep="\t")
    neighbours = pd.read_csv(demo / SUBTYPES / "neighbours.tsv", sep="\t", index_col="sample_id")
    kept = repeats[repeats["sample_id"].isin(neighbours.index)]
    print(f"repeat samples: {len(kept)}, nearest neighbour of the same patient: {rate:.3f}")
    assert int(summary["repeat_samples"]) == len(kept) >= 4
    assert rate >= 0.8
    conc = pd.read_csv(demo / SUBTYPES / "repeat_clusters.tsv", sep="\t")
    assert conc["concordant"].all()


def test_subgroup_top_genes_are_the_planted_modules(demo):
    genes = pd.read_csv(demo / "results/demo/truth/subgroup_genes.tsv", sep="\t")
    module = genes.set_index("gene_id")["subgroup"]
    clusters = pd.read_csv(demo / SUBTYPES / "clusters.tsv", sep="\t", index_col="sample_id")
    truth = pd.read_csv(demo / "results/demo/truth/subgroups.tsv", sep="\t")
    truth = truth[truth["cohort"] == "discovery"].set_index("sample_id")["subgroup"]
    c1 = truth.reindex(clusters.index[clusters["cluster"] == "C1"]).mode()[0]
    other = ({"inflammatory", "non_inflammatory"} - {c1}).pop()
    for name, subgroup in (("degs_up.tsv", c1), ("degs_down.tsv", other)):
        called = pd.read_csv(demo / SUBTYPES / name, sep="\t")["gene_id"]
        planted = module.index[module == subgroup]
        precision = called.isin(planted).mean()
        recall = pd.Index(planted).isin(called).mean()
        print(f"{name} ({subgroup}): {len(called)} genes, precision {precision:.3f}, "
              f"recall {recall:.3f}")
        assert precision >= 0.9
        assert recall >= 0.8
