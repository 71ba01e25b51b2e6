# Stage connectivity: core genes (blood DEGs in every disease-tissue DEG list), CMap queries,
# a one-time gene-major store of the LINCS signature database and CMap scoring of every query
# (WTCS, NCS, FDR, tau, max-quantile summaries), drug candidates and their target network.

CONN_TABLES = ["signatures.tsv", "perturbagens.tsv", "candidates.tsv", "ncs_means.tsv"]
STORE_FILES = ["manifest.json", "ranks.npy", "scores.npy", "genes.tsv", "signatures.tsv",
               "compounds.tsv"]
# What each rule reads of the config, and nothing more: a rule reruns only when its own keys
# change (the store only for the database and its gene space, the background only for its
# reference queries; candidate filters, FDR cut-offs and the seed never rebuild the store).
CONN_SCORING = ["weighted", "ncs_floor", "null_queries", "null_signatures",
                "summary_quantiles", "candidates"]

for _analysis in CONN_ANALYSES:
    if _analysis not in ANALYSES:
        config_error("connectivity.analyses", f"'{_analysis}' is not an analysis of de.analyses "
                     f"({', '.join(ANALYSES)})")


STAGE_TARGETS["connectivity"] = lambda: expand(
    "results/{cohort}/connectivity/{analysis}/{name}", cohort=DISCOVERY, analysis=CONN_ANALYSES,
    name=["core_genes.tsv", "overlaps.tsv", "overlaps.png"],
) + expand(
    "results/{cohort}/connectivity/{query}/{name}", cohort=DISCOVERY, query=CONN_QUERIES,
    name=CONN_TABLES + ["network.png"],
)


rule connectivity_store:
    input:
        gctx=CONN_DB["files"]["gctx"],
        siginfo=CONN_DB["files"]["siginfo"],
        geneinfo=CONN_DB["files"]["geneinfo"],
        compoundinfo=CONN_DB["files"]["compoundinfo"],
        annotations=CONN_DB["annotations"] or [],
    output:
        [f"{CONN_STORE}/{name}" for name in STORE_FILES],
    params:
        release=CONN_DB["release"],
        columns=canonical(CONN_DB["columns"]),
        gene_space=CONN["gene_space"],
    log:
        "logs/connectivity/connectivity_store.log",
    benchmark:
        "logs/connectivity/connectivity_store.benchmark.tsv"
    threads: 2
    resources:
        mem_mb=attempt_mem(4000),
        runtime=240,
    conda:
        PYENV
    script:
        "../scripts/connectivity_store.py"


rule connectivity_background:
    input:
        store=[f"{CONN_STORE}/{name}" for name in STORE_FILES],
    output:
        background=f"{CONN_STORE}/background.npy",
    params:
        background=canonical(CONN["background"]),
        weighted=CONN["weighted"],
        ncs_floor=CONN["ncs_floor"],
        seed=config["seed"],
    log:
        "logs/connectivity/connectivity_background.log",
    benchmark:
        "logs/connectivity/connectivity_background.benchmark.tsv"
    threads: 2
    resources:
        mem_mb=attempt_mem(4000),
        runtime=240,
    conda:
        PYENV
    script:
        "../scripts/connectivity_background.py"


rule connectivity_core_genes:
    input:
        toptable="results/{cohort}/de/{analysis}/toptable.tsv",
        tissues=[CONN["tissues"][t]["table"] for t in CONN_TISSUES],
    output:
        core="results/{cohort}/connectivity/{analysis}/core_genes.tsv",
        counts="results/{cohort}/connectivity/{analysis}/overlaps.tsv",
        figure=figure("results/{cohort}/connectivity/{analysis}/overlaps.png",
                      "connectivity_overlaps", "Connectivity", "{analysis}"),
    params:
        settings=settings("connectivity", "fdr", "min_abs_logfc", "tissues"),
        tissues=CONN_TISSUES,
        blood_columns={"gene_column": "gene_name", "logfc_column": "logFC",
                       "fdr_column": "adj.P.Val"},
    log:
        "logs/{cohort}/connectivity/{analysis}/connectivity_core_genes.log",
    benchmark:
        "logs/{cohort}/connectivity/{analysis}/connectivity_core_genes.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/connectivity_core_genes.py"


rule connectivity_queries:
    input:
        cores=expand("results/{{cohort}}/connectivity/{analysis}/core_genes.tsv",
                     analysis=CONN_ANALYSES),
        tissues=[CONN["tissues"][t]["table"] for t in CONN_TISSUES],
        store_genes=f"{CONN_STORE}/genes.tsv",
    output:
        queries="results/{cohort}/connectivity/queries.tsv",
    params:
        settings=settings("connectivity", "fdr", "min_abs_logfc", "tissues", "min_query_genes",
                          "max_query_genes"),
        analyses=CONN_ANALYSES,
        tissues=CONN_TISSUES,
    log:
        "logs/{cohort}/connectivity/connectivity_queries.log",
    benchmark:
        "logs/{cohort}/connectivity/connectivity_queries.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/connectivity_queries.py"


rule connectivity_score:
    input:
        queries="results/{cohort}/connectivity/queries.tsv",
        store=[f"{CONN_STORE}/{name}" for name in STORE_FILES],
        manifest=f"{CONN_STORE}/manifest.json",
        background=f"{CONN_STORE}/background.npy",
    output:
        expand("results/{{cohort}}/connectivity/{query}/{name}", query=CONN_QUERIES,
               name=CONN_TABLES),
        networks=figure(
            expand("results/{{cohort}}/connectivity/{query}/network.png", query=CONN_QUERIES),
            "connectivity_network", "Connectivity"),
    params:
        settings=settings("connectivity", *CONN_SCORING),
        seed=config["seed"],
    log:
        "logs/{cohort}/connectivity/connectivity_score.log",
    benchmark:
        "logs/{cohort}/connectivity/connectivity_score.benchmark.tsv"
    threads: 2
    resources:
        mem_mb=attempt_mem(4000),
        runtime=60,
    conda:
        PYENV
    script:
        "../scripts/connectivity_score.py"


rule connectivity_batch:
    input:
        up=lambda wc: CONN_BATCHES[wc.batch]["up"],
        down=lambda wc: CONN_BATCHES[wc.batch]["down"],
        store=[f"{CONN_STORE}/{name}" for name in STORE_FILES],
        manifest=f"{CONN_STORE}/manifest.json",
        background=f"{CONN_STORE}/background.npy",
    output:
        queries="results/connectivity_batches/{batch}/queries.tsv",
        combined="results/connectivity_batches/{batch}/combined.tsv",
        results=directory("results/connectivity_batches/{batch}/queries"),
        matrices=directory("results/connectivity_batches/{batch}/matrices"),
    params:
        settings=settings("connectivity", *CONN_SCORING, "min_query_genes", "max_query_genes"),
        seed=config["seed"],
    wildcard_constraints:
        batch=one_of(CONN_BATCHES),
    log:
        "logs/connectivity_batches/{batch}/connectivity_batch.log",
    benchmark:
        "logs/connectivity_batches/{batch}/connectivity_batch.benchmark.tsv"
    threads: 2
    resources:
        mem_mb=attempt_mem(8000),
        runtime=120,
    conda:
        PYENV
    script:
        "../scripts/connectivity_batch.py"
