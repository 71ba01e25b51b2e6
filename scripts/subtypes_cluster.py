"""Rule subtypes_cluster: immune-signature scores, correlation clustering, heatmap, markers."""

from bloodsig.core.cohort import load_annotation, read_samples
from bloodsig.core.gmt import read_gmt
from bloodsig.core.io import read_counts, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots import subtypes as plots
from bloodsig.subtypes import immune as st


def main(smk):
    cfg, sheet = st.ClusterSettings.from_config(smk.params.settings), smk.params.sheet
    genes = load_annotation(smk.input.genes)
    samples = st.select_samples(read_samples(smk.input.samples, sheet), cfg.subset)
    expr = st.log10_normalised(read_counts(smk.input.counts)[samples.index])
    signatures, _ = read_gmt(smk.input.signatures)
    scores = st.signature_scores(expr, genes["gene_name"], signatures, cfg.min_genes)
    z = st.zscore(scores)
    res = st.cluster_samples(z, cfg.k, cfg.max_k, cfg.linkage)
    described = st.describe_clusters(z, res.labels, cfg.label_min_z)
    patients = st.patients_of(samples, sheet["patient_column"])
    clusters = st.cluster_table(res, described, patients)
    markers = st.find_genes(cfg.markers, genes, expr.index)
    write_tsv(scores.reset_index(), smk.output.scores)
    write_tsv(z.reset_index(), smk.output.zscores)
    write_tsv(clusters, smk.output.clusters)
    write_tsv(described, smk.output.signatures)
    write_tsv(res.silhouette, smk.output.silhouette)
    write_tsv(st.repeat_concordance(res.labels, patients), smk.output.repeats)
    save_figure(plots.signature_heatmap(z, res.linkage, res.labels), smk.output.heatmap)
    save_figure(plots.marker_panels(expr.loc[markers.index], list(markers), res.labels),
                smk.output.markers)


run(main, snakemake)  # noqa: F821
