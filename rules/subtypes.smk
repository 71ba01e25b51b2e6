# Stage subtypes: immune-signature scores and correlation clustering of patients, whole-
# transcriptome clustering with repeat samples, DESeq2 between subgroups, marker panels.


LONGITUDINAL = config["subtypes"]["longitudinal"]
QPCR_SERIES = LONGITUDINAL["qpcr"] or {}

STAGE_TARGETS["subtypes"] = lambda: expand(
    "results/{cohort}/subtypes/{name}",
    cohort=DISCOVERY,
    name=["summary.tsv", "scores.tsv", "clusters.tsv", "cluster_signatures.tsv", "heatmap.png",
          "markers.png", "neighbours.tsv", "correlation.png", "toptable.tsv", "degs_up.tsv",
          "degs_down.tsv", "volcano.png", "trajectories.tsv", "stability.tsv",
          "treatment_effects.tsv", "trajectories.png"]
    + (["qpcr_subgroups.tsv", "qpcr_agreement.tsv", "qpcr_timecourse.png"] if QPCR_SERIES
       else []),
)


rule subtypes_cluster:
    input:
        counts="results/{cohort}/expression_qc/counts.tsv",
        samples="results/{cohort}/expression_qc/samples.tsv",
        genes="results/{cohort}/counts/genes.tsv",
        signatures=lambda wc: config["subtypes"]["signatures"],
    output:
        scores="results/{cohort}/subtypes/scores.tsv",
        zscores="results/{cohort}/subtypes/zscores.tsv",
        clusters="results/{cohort}/subtypes/clusters.tsv",
        signatures="results/{cohort}/subtypes/cluster_signatures.tsv",
        silhouette="results/{cohort}/subtypes/silhouette.tsv",
        repeats="results/{cohort}/subtypes/repeat_clusters.tsv",
        heatmap=figure("results/{cohort}/subtypes/heatmap.png",
                       "subtypes_heatmap", "Immune subtypes", "{cohort}"),
        markers=figure("results/{cohort}/subtypes/markers.png",
                       "subtypes_markers", "Immune subtypes", "{cohort}"),
    params:
        settings=settings("subtypes", "subset", "min_genes", "k", "max_k", "linkage",
                          "label_min_z", "markers"),
        sheet=SHEET,
    log:
        "logs/{cohort}/subtypes/subtypes_cluster.log",
    benchmark:
        "logs/{cohort}/subtypes/subtypes_cluster.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(4000),
        runtime=15,
    conda:
        PYENV
    script:
        "../scripts/subtypes_cluster.py"


rule subtypes_transcriptome:
    input:
        counts="results/{cohort}/expression_qc/counts.tsv",
        samples="results/{cohort}/expression_qc/samples.tsv",
    output:
        neighbours="results/{cohort}/subtypes/neighbours.tsv",
        heatmap=figure("results/{cohort}/subtypes/correlation.png",
                       "subtypes_correlation", "Immune subtypes", "{cohort}"),
    params:
        settings=canonical(config["subtypes"]["transcriptome"]),
        sheet=SHEET,
    log:
        "logs/{cohort}/subtypes/subtypes_transcriptome.log",
    benchmark:
        "logs/{cohort}/subtypes/subtypes_transcriptome.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(6000),
        runtime=15,
    conda:
        PYENV
    script:
        "../scripts/subtypes_transcriptome.py"


rule subtypes_de:
    input:
        counts="results/{cohort}/expression_qc/counts.tsv",
        samples="results/{cohort}/expression_qc/samples.tsv",
        genes="results/{cohort}/counts/genes.tsv",
        clusters="results/{cohort}/subtypes/clusters.tsv",
    output:
        toptable="results/{cohort}/subtypes/toptable.tsv",
        up="results/{cohort}/subtypes/degs_up.tsv",
        down="results/{cohort}/subtypes/degs_down.tsv",
        volcano=figure("results/{cohort}/subtypes/volcano.png",
                       "subtypes_volcano", "Immune subtypes", "{cohort}"),
    params:
        settings=canonical(config["subtypes"]["de"]),
        sheet=SHEET,
    log:
        "logs/{cohort}/subtypes/subtypes_de.log",
    benchmark:
        "logs/{cohort}/subtypes/subtypes_de.benchmark.tsv"
    threads: 2
    resources:
        mem_mb=attempt_mem(6000),
        runtime=30,
    conda:
        PYENV
    script:
        "../scripts/subtypes_de.py"


rule subtypes_longitudinal:
    input:
        counts="results/{cohort}/expression_qc/counts.tsv",
        samples="results/{cohort}/expression_qc/samples.tsv",
        genes="results/{cohort}/counts/genes.tsv",
        zscores="results/{cohort}/subtypes/zscores.tsv",
        clusters="results/{cohort}/subtypes/clusters.tsv",
        signatures="results/{cohort}/subtypes/cluster_signatures.tsv",
        treatments=lambda wc: [LONGITUDINAL["treatments"]] if "treatments" in LONGITUDINAL
        else [],
        ct=lambda wc: [QPCR_SERIES["ct"]] if QPCR_SERIES else [],
    output:
        trajectories="results/{cohort}/subtypes/trajectories.tsv",
        stability="results/{cohort}/subtypes/stability.tsv",
        effects="results/{cohort}/subtypes/treatment_effects.tsv",
        figure=figure("results/{cohort}/subtypes/trajectories.png",
                      "subtypes_trajectories", "Immune subtypes", "{cohort}"),
    params:
        settings=canonical({k: LONGITUDINAL[k] for k in ("min_samples", "markers")}),
        reference_genes=QPCR_SERIES.get("reference_genes"),
        sheet={k: SHEET[k] for k in ("id_column", "patient_column", "time_column")},
    log:
        "logs/{cohort}/subtypes/subtypes_longitudinal.log",
    benchmark:
        "logs/{cohort}/subtypes/subtypes_longitudinal.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(4000),
        runtime=15,
    conda:
        PYENV
    script:
        "../scripts/subtypes_longitudinal.py"


rule subtypes_qpcr:
    input:
        ct=lambda wc: [QPCR_SERIES["ct"]] if QPCR_SERIES else [],
        counts="results/{cohort}/expression_qc/counts.tsv",
        samples="results/{cohort}/expression_qc/samples.tsv",
        genes="results/{cohort}/counts/genes.tsv",
        clusters="results/{cohort}/subtypes/clusters.tsv",
        treatments=lambda wc: [LONGITUDINAL["treatments"]] if "treatments" in LONGITUDINAL
        else [],
    output:
        subgroups="results/{cohort}/subtypes/qpcr_subgroups.tsv",
        agreement="results/{cohort}/subtypes/qpcr_agreement.tsv",
        figure=figure("results/{cohort}/subtypes/qpcr_timecourse.png",
                      "subtypes_qpcr", "Immune subtypes", "{cohort}"),
    params:
        settings=canonical({k: QPCR_SERIES.get(k) for k in ("genes", "max_ct", "min_fraction")}),
        sheet={k: SHEET[k] for k in ("id_column", "patient_column", "time_column")},
    log:
        "logs/{cohort}/subtypes/subtypes_qpcr.log",
    benchmark:
        "logs/{cohort}/subtypes/subtypes_qpcr.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(3000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/subtypes_qpcr.py"


rule subtypes_summary:
    input:
        clusters="results/{cohort}/subtypes/clusters.tsv",
        silhouette="results/{cohort}/subtypes/silhouette.tsv",
        signatures="results/{cohort}/subtypes/cluster_signatures.tsv",
        repeats="results/{cohort}/subtypes/repeat_clusters.tsv",
        neighbours="results/{cohort}/subtypes/neighbours.tsv",
        up="results/{cohort}/subtypes/degs_up.tsv",
        down="results/{cohort}/subtypes/degs_down.tsv",
        known=lambda wc: [config["subtypes"]["known_subgroups"]]
        if "known_subgroups" in config["subtypes"] else [],
        stability="results/{cohort}/subtypes/stability.tsv",
        qpcr=lambda wc: [f"results/{wc.cohort}/subtypes/qpcr_agreement.tsv"] if QPCR_SERIES
        else [],
    output:
        summary="results/{cohort}/subtypes/summary.tsv",
    log:
        "logs/{cohort}/subtypes/subtypes_summary.log",
    benchmark:
        "logs/{cohort}/subtypes/subtypes_summary.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(1000),
        runtime=5,
    conda:
        PYENV
    script:
        "../scripts/subtypes_summary.py"
