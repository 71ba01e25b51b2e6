"""Stage subtypes on the embedded demo (fixture `demo`): the planted immune subgroups and the
repeat samples of a patient are recovered, and the subgroup top genes are the planted modules;
the longitudinal view flags exactly the planted unstable patients, measures the planted
therapy effect and assigns qPCR subgroups as planted and as the RNA-seq clusters."""

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow  # runs Snakemake

SUBTYPES = "results/discovery/subtypes"


def _summary(demo) -> pd.Series:
    table = pd.read_csv(demo / SUBTYPES / "summary.tsv", sep="\t", index_col="metric")
    return table["value"]


def test_outputs_exist(demo):
    for name in ["summary.tsv", "scores.tsv", "zscores.tsv", "clusters.tsv",
                 "cluster_signatures.tsv", "silhouette.tsv", "repeat_clusters.tsv",
                 "neighbours.tsv", "toptable.tsv", "degs_up.tsv", "degs_down.tsv",
                 "heatmap.png", "markers.png", "correlation.png", "volcano.png",
                 "trajectories.tsv", "stability.tsv", "treatment_effects.tsv",
                 "trajectories.png", "qpcr_subgroups.tsv", "qpcr_agreement.tsv",
                 "qpcr_timecourse.png"]:
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
    unstable = _planted_patients(demo)
    assert set(conc.loc[~conc["concordant"], "patient_id"]) == set(unstable[unstable].index)


def _planted_patients(demo) -> pd.Series:
    """Follow-up patients of the demo -> whether their subgroup was planted to change."""
    truth = pd.read_csv(demo / "results/demo/truth/longitudinal_patients.tsv", sep="\t")
    return truth.set_index("patient_id")["unstable"].astype(bool)


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


def test_stability_flags_exactly_the_planted_unstable_patients(demo):
    """Every case patient sampled more than once has a stability row (the follow-up patients
    and the cohort's own repeats); exactly the planted unstable ones changed cluster, between
    their last two visits, and the summary names them."""
    visits = pd.read_csv(demo / "results/demo/truth/longitudinal.tsv", sep="\t")
    stability = pd.read_csv(demo / SUBTYPES / "stability.tsv", sep="\t",
                            index_col="patient_id")
    clusters = pd.read_csv(demo / SUBTYPES / "clusters.tsv", sep="\t", index_col="sample_id")
    kept = visits[visits["sample_id"].isin(clusters.index)]
    several = kept.groupby("patient_id").size()
    assert set(stability.index) == set(several.index[several >= 2])
    unstable = _planted_patients(demo)
    changed = set(stability.index[~stability["stable"]])
    print(f"stability: {len(stability)} patients, changed {sorted(changed)}, planted "
          f"{sorted(unstable.index[unstable])}")
    assert changed == set(unstable.index[unstable]) and len(changed) == 2
    assert (stability.loc[sorted(changed), "n_changes"] == 1).all()
    last = kept.sort_values("days_from_onset").groupby("patient_id")["days_from_onset"]
    for patient in changed:
        days = last.get_group(patient).to_numpy()
        assert stability.loc[patient, "first_change"] == f"{days[-2]:g}-{days[-1]:g}"
    assert _summary(demo)["longitudinal_changed"] == ",".join(sorted(changed))


def test_trajectories_cover_the_followup_with_therapy_marked(demo):
    traj = pd.read_csv(demo / SUBTYPES / "trajectories.tsv", sep="\t")
    visits = pd.read_csv(demo / "results/demo/truth/longitudinal.tsv", sep="\t")
    clusters = pd.read_csv(demo / SUBTYPES / "clusters.tsv", sep="\t", index_col="sample_id")
    kept = visits[visits["sample_id"].isin(clusters.index)]
    assert set(traj["sample_id"]) == set(kept["sample_id"])
    assert set(traj.loc[traj["kind"] == "marker", "feature"]) == {"IL1B", "IL6", "CCL2",
                                                                   "TNFRSF17"}
    assert traj.loc[traj["kind"] == "signature", "feature"].nunique() == 2
    treated = traj.drop_duplicates("sample_id").set_index("sample_id")["treatment"].fillna("")
    planted = kept.set_index("sample_id")["treatment"].fillna("")
    assert (treated == planted.reindex(treated.index)).all()
    assert (planted != "").sum() == 4
    assert (demo / SUBTYPES / "trajectories.png").stat().st_size > 50_000


def test_therapy_lowers_inflammatory_markers_by_the_planted_amount(demo):
    """Within-patient log2-CPM change of IL1B, IL6 and CCL2 during the tocilizumab period:
    about the planted -1.5 in the inflammatory patients, about 0 in the other treated
    patient, and TNFRSF17 (not a therapy gene) unchanged."""
    params = yaml.safe_load((demo / "results/demo/truth/params.yaml").read_text())
    planted = params["longitudinal"]["treatment_log2fc_inflammatory"]
    eff = pd.read_csv(demo / SUBTYPES / "treatment_effects.tsv", sep="\t")
    truth = pd.read_csv(demo / "results/demo/truth/longitudinal_patients.tsv", sep="\t")
    eff["subgroup"] = truth.set_index("patient_id")["subgroup"].reindex(
        eff["patient_id"]).to_numpy()
    therapy = eff[eff["feature"].isin(["IL1B", "IL6", "CCL2"])]
    # Median over the genes: a visit in another batch moves a gene with a strong batch effect
    # (5% of genes) by itself (the demo's untreated patient: IL6 +1.7, IL1B and CCL2 ~0).
    change = therapy.groupby("subgroup")["difference"].agg(["mean", "median"])
    other = eff.loc[eff["feature"] == "TNFRSF17", "difference"].abs().max()
    print(f"therapy: change {change.to_dict()} (planted {planted} in inflammatory "
          f"patients); TNFRSF17 |change| <= {other:.2f}")
    assert therapy.loc[therapy["subgroup"] == "inflammatory", "patient_id"].nunique() == 3
    assert abs(change.loc["inflammatory", "mean"] - planted) < 0.4
    assert abs(change.loc["non_inflammatory", "median"]) < 0.5
    assert other < 0.6


def test_qpcr_subgroups_recover_the_planted_and_agree_with_rnaseq(demo):
    calls = pd.read_csv(demo / SUBTYPES / "qpcr_subgroups.tsv", sep="\t",
                        index_col="patient_id")
    truth = pd.read_csv(demo / "results/demo/truth/qpcr_subgroups.tsv", sep="\t",
                        index_col="patient_id")
    assert set(calls.index) == set(truth.index)
    planted = (calls["qpcr_subgroup"] == truth["subgroup"].reindex(calls.index)).mean()
    summary = _summary(demo)
    agreement = float(summary["qpcr_rnaseq_agreement"])
    print(f"qPCR subgroup = planted for {planted:.3f} of {len(calls)} patients; agrees with "
          f"the RNA-seq cluster for {agreement:.3f} of "
          f"{summary['qpcr_patients_with_clusters']} (kappa {summary['qpcr_rnaseq_kappa']})")
    assert planted >= 0.9
    assert int(summary["qpcr_patients_with_clusters"]) == len(calls)
    assert agreement >= 0.9
    table = pd.read_csv(demo / SUBTYPES / "qpcr_agreement.tsv", sep="\t", dtype=str)
    pairs = table[~table["qpcr_subgroup"].isin(["all", "agreement", "cohen_kappa"])]
    # the RNA-seq cluster labelled by the inflammatory signatures is the qPCR-inflammatory one
    labels = pd.read_csv(demo / SUBTYPES / "cluster_signatures.tsv", sep="\t",
                         index_col="cluster")["label"]
    inflammatory = pairs.loc[pairs["rnaseq_subgroup"] == "inflammatory", "rnaseq_cluster"]
    assert "NOD2" in labels[inflammatory.iloc[0]].split("+")
    assert (demo / SUBTYPES / "qpcr_timecourse.png").stat().st_size > 50_000
