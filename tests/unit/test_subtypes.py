"""Immune subtypes: normalisation, signature scores, correlation clustering, repeat samples,
subgroup DE and the stage summary, on small data with planted structure."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.cluster import hierarchy

from bloodsig.core.errors import InputError
from bloodsig.plots import subtypes as plots
from bloodsig.subtypes import immune as st


def _counts(rng, n_genes, n_samples, mu=200.0):
    x = rng.negative_binomial(20, 20 / (20 + mu * np.ones((n_genes, n_samples))))
    return pd.DataFrame(x, index=pd.Index([f"G{i:03d}" for i in range(n_genes)],
                                          name="gene_id"),
                        columns=[f"S{j:02d}" for j in range(n_samples)])


def test_size_factors_match_pydeseq2():
    from pydeseq2.preprocessing import deseq2_norm

    rng = np.random.default_rng(1)
    counts = _counts(rng, 200, 8) * np.array([1, 2, 1, 3, 1, 1, 5, 1])
    counts.iloc[0, 3] = 0  # a gene with a zero is left out of the geometric means
    _, expected = deseq2_norm(counts.T.to_numpy())
    np.testing.assert_allclose(st.size_factors(counts), expected, rtol=1e-12)
    norm = st.log10_normalised(counts)
    np.testing.assert_allclose(norm.to_numpy(),
                               np.log10(counts.to_numpy() / expected + 1), rtol=1e-12)
    with pytest.raises(InputError, match="positive count in every sample"):
        st.size_factors(counts.assign(S00=0))


def test_signature_scores_are_gene_means_matched_by_name_or_id():
    expr = pd.DataFrame(np.arange(12, dtype=float).reshape(4, 3), index=["G0", "G1", "G2", "G3"],
                        columns=["a", "b", "c"])
    names = pd.Series(["IL1B", "IL6", "CCL2", None], index=expr.index)
    sets = {"infl": ("IL1B", "IL6", "ABSENT"), "other": ("CCL2", "G3"), "tiny": ("IL6",)}
    scores = st.signature_scores(expr, names, sets, min_genes=2)
    assert list(scores.columns) == ["infl", "other"]  # tiny has one measured gene (< 2)
    np.testing.assert_allclose(scores["infl"], expr.loc[["G0", "G1"]].mean())
    np.testing.assert_allclose(scores["other"], expr.loc[["G2", "G3"]].mean())
    with pytest.raises(InputError, match="fewer than two signatures"):
        st.signature_scores(expr, names, sets, min_genes=3)


def test_zscore_and_constant_signature():
    scores = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [2.0, 2.0, 5.0]})
    z = st.zscore(scores)
    np.testing.assert_allclose(z.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(ddof=1), 1)
    with pytest.raises(InputError, match="column 'c'"):
        st.zscore(scores.assign(c=1.0))


def _planted_profiles(rng, sizes, n_sig=9, noise=0.4):
    """Samples of len(sizes) groups, each with its own signature pattern plus noise."""
    patterns = rng.normal(0, 1, (len(sizes), n_sig))
    truth = np.repeat(np.arange(len(sizes)), sizes)
    x = patterns[truth] + rng.normal(0, noise, (len(truth), n_sig))
    order = rng.permutation(len(truth))
    index = [f"S{i:03d}" for i in range(len(truth))]
    return (pd.DataFrame(x[order], index=index, columns=[f"sig{j}" for j in range(n_sig)]),
            pd.Series(truth[order], index=index))


def test_cluster_samples_recovers_planted_groups_and_chooses_k():
    rng = np.random.default_rng(2)
    z, truth = _planted_profiles(rng, [30, 20, 12])
    res = st.cluster_samples(z, "auto", max_k=6)
    assert res.k == 3
    assert st.agreement(res.labels, truth)[0] == pytest.approx(1.0)
    assert list(res.silhouette["k"]) == [2, 3, 4, 5, 6]
    assert res.silhouette.loc[res.silhouette["chosen"], "k"].item() == 3
    # C1 is the largest cluster, C3 the smallest
    assert res.labels.value_counts().to_dict() == {"C1": 30, "C2": 20, "C3": 12}
    fixed = st.cluster_samples(z, 2, method="complete")
    assert fixed.k == 2 and fixed.silhouette["chosen"].all()
    with pytest.raises(InputError, match="linkage 'ward'"):
        st.cluster_samples(z, 2, method="ward")
    with pytest.raises(InputError, match="k must be between"):
        st.cluster_samples(z.iloc[:3], 3)
    flat = z.copy()
    flat.iloc[4] = 0.3
    with pytest.raises(InputError, match=f"column '{z.index[4]}'"):
        st.cluster_samples(flat, 2)


def test_describe_clusters_labels_high_signatures():
    z = pd.DataFrame({"IL4": [1.0, 1.2, -1.0, -1.2], "IFNG": [-1.0, -0.8, 1.0, 0.8],
                      "NOD2": [0.1, 0.0, 0.9, 1.1]}, index=list("abcd"))
    labels = pd.Series(["C2", "C2", "C1", "C1"], index=z.index)
    out = st.describe_clusters(z, labels, min_z=0.5)
    assert list(out["cluster"]) == ["C1", "C2"]
    assert list(out["label"]) == ["NOD2+IFNG", "IL4"]
    assert list(out["n_samples"]) == [2, 2]
    assert out.loc[0, "IL4"] == pytest.approx(-1.1)
    assert st.describe_clusters(z, labels, min_z=5)["label"].tolist() == ["none", "none"]


def test_repeat_concordance_and_patients():
    samples = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P3", "P3", None]},
                           index=list("abcdef"))
    patients = st.patients_of(samples, "patient_id")
    assert patients["f"] == "f"
    assert list(st.patients_of(samples, "absent")) == list("abcdef")
    labels = pd.Series(["C1", "C1", "C2", "C1", "C2", "C1"], index=samples.index)
    out = st.repeat_concordance(labels, patients)
    assert out.to_dict("list") == {"patient_id": ["P1", "P3"], "n_samples": [2, 2],
                                   "clusters": ["C1", "C1,C2"], "concordant": [True, False]}


def test_transcriptome_neighbours_find_repeats_across_batches():
    """Repeat samples of a patient sit in different batches with strong batch effects: their
    nearest neighbours are other patients until the batch is regressed out."""
    rng = np.random.default_rng(3)
    n_genes, n_patients = 400, 30
    patient = rng.normal(0, 0.3, (n_genes, n_patients))
    batch_effect = rng.normal(0, 1.0, (n_genes, 2))
    pidx = np.concatenate([np.arange(n_patients), [0, 1, 2]])
    batch = np.concatenate([np.zeros(n_patients, int), [1, 1, 1]])
    batch[n_patients // 2:n_patients] = 1
    expr = pd.DataFrame(8 + patient[:, pidx] + batch_effect[:, batch]
                        + rng.normal(0, 0.1, (n_genes, len(pidx))),
                        columns=[f"S{j:02d}" for j in range(len(pidx))])
    samples = pd.DataFrame({"patient_id": [f"P{i}" for i in pidx],
                            "batch": np.array(["b1", "b2"])[batch]}, index=expr.columns)
    raw = st.transcriptome_neighbours(expr, samples, "patient_id", top_genes=0)
    adjusted = st.transcriptome_neighbours(expr, samples, "patient_id", top_genes=200,
                                           remove=["batch"])
    assert raw.table["repeat"].sum() == 6
    assert raw.repeat_rate < 0.5
    assert adjusted.repeat_rate == 1.0
    row = adjusted.table.set_index("sample_id").loc["S30"]
    assert row["nearest_sample"] == "S00" and row["nearest_patient"] == "P0"
    assert adjusted.correlation.shape == (33, 33)
    assert adjusted.linkage.shape == (32, 4)


def test_subgroup_de_finds_planted_genes():
    rng = np.random.default_rng(4)
    counts = _counts(rng, 300, 24)
    labels = pd.Series(np.repeat(["C1", "C2", "C3"], 8), index=counts.columns)
    counts.iloc[:15, :8] *= 8  # 15 genes up in C1
    counts.iloc[15:25, 8:] *= 8  # 10 genes up in the other clusters
    samples = pd.DataFrame({"library_type": np.tile(["a", "b"], 12)}, index=counts.columns)
    genes = pd.DataFrame({"gene_name": [f"N{i}" for i in range(300)]}, index=counts.index)
    settings = st.SubgroupDESettings("~ library_type + subtype", fdr=0.05, min_abs_log2fc=1.0)
    table, up, down = st.subgroup_de(counts, samples, labels, genes, settings)
    assert list(table.columns[:8]) == ["gene_id", "gene_name", "logFC", "AveExpr", "t",
                                       "P.Value", "adj.P.Val", "B"]
    assert set(up["gene_id"]) == set(counts.index[:15])
    assert set(down["gene_id"]) == set(counts.index[15:25])
    assert table["P.Value"].is_monotonic_increasing
    with pytest.raises(InputError, match="must contain the term 'subtype'"):
        st.subgroup_de(counts, samples, labels, genes,
                       dataclasses.replace(settings, formula="~ library_type"))
    with pytest.raises(InputError, match="already has a column 'subtype'"):
        st.subgroup_de(counts, samples.assign(subtype="x"), labels, genes,
                       dataclasses.replace(settings, formula="~ subtype"))


def test_select_samples():
    samples = pd.DataFrame({"group": ["ALS"] * 4 + ["control"] * 2}, index=list("abcdef"))
    assert list(st.select_samples(samples, {"group": ["ALS"]}).index) == list("abcd")
    assert len(st.select_samples(samples, {})) == 6
    with pytest.raises(InputError, match="column 'sex'"):
        st.select_samples(samples, {"sex": ["male"]})
    with pytest.raises(InputError, match="keeps 2 samples"):
        st.select_samples(samples, {"group": ["control"]})


def test_known_subgroups_and_agreement(tmp_path):
    path = tmp_path / "known.tsv"
    path.write_text("cohort\tsample_id\tsubgroup\nd\ta\tx\nd\tb\tx\nd\tc\ty\ne\ta\ty\n")
    known = st.read_known_subgroups(path, "d")
    assert known.to_dict() == {"a": "x", "b": "x", "c": "y"}
    labels = pd.Series(["C2", "C2", "C1", "C1"], index=list("abcz"))
    assert st.agreement(labels, known) == (pytest.approx(1.0), 3)
    with pytest.raises(InputError, match="row 5, column 'sample_id'"):
        st.read_known_subgroups(path, None)


def test_summarise_reports_the_stage_numbers():
    labels = pd.Series(["C1", "C1", "C2", "C2"], index=list("abcd"))
    sil = pd.DataFrame({"k": [2, 3], "silhouette": [0.9, 0.4], "chosen": [True, False]})
    clusters = pd.DataFrame({"cluster": ["C1", "C2"], "n_samples": [2, 2],
                             "label": ["IL4", "IFNG+NOD2"]})
    neighbours = pd.DataFrame({"repeat": [True, True, False, True],
                               "same_patient": [True, True, False, False]})
    conc = pd.DataFrame({"patient_id": ["P1"], "concordant": [True]})
    out = st.summarise(labels, sil, clusters, neighbours, conc, 5, 3,
                       pd.Series(["x", "x", "y", "y"], index=list("abcd"))).set_index("metric")
    value = out["value"]
    assert value["k"] == "2" and value["silhouette"] == "0.9"
    assert value["cluster_C2"] == "2 samples, high: IFNG+NOD2"
    assert value["adjusted_rand_index"] == "1"
    assert value["repeat_nearest_neighbour_rate"] == "0.6666666667"
    assert value["repeat_patients_same_cluster"] == "1"
    assert (value["de_up_in_C1"], value["de_down_in_C1"]) == ("5", "3")


def test_figures():
    rng = np.random.default_rng(5)
    z, _ = _planted_profiles(rng, [10, 8])
    res = st.cluster_samples(z, 2)
    fig = plots.signature_heatmap(z, res.linkage, res.labels)
    heat = [im for ax in fig.axes for im in ax.get_images() if im.get_gid() == "zscores"][0]
    np.testing.assert_allclose(heat.get_array(), z.to_numpy()[hierarchy.leaves_list(
        res.linkage)].T)
    corr = pd.DataFrame(np.corrcoef(rng.normal(size=(18, 50))), index=z.index, columns=z.index)
    repeat = pd.Series(np.arange(18) < 2, index=z.index)
    fig = plots.correlation_heatmap(corr, res.linkage, pd.Series("P1", index=z.index), repeat)
    strip = [im for ax in fig.axes for im in ax.get_images() if im.get_gid() == "repeat"][0]
    assert (strip.get_array()[0, :, :3] < 1).any(axis=1).sum() == 2  # two coloured samples
    expr = pd.DataFrame(rng.normal(size=(2, 18)), index=["G1", "G2"], columns=z.index)
    fig = plots.marker_panels(expr, ["IL6", "CCL2"], res.labels)
    points = [c for ax in fig.axes for c in ax.collections if c.get_gid() == "C1"]
    assert sum(len(c.get_offsets()) for c in points) == 2 * (res.labels == "C1").sum()
