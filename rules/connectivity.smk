# Stage connectivity: core genes (blood DEGs in every disease-tissue DEG list), CMap queries,
# a one-time gene-major store of the LINCS signature database and CMap scoring of every query
# (WTCS, NCS, FDR, tau, max-quantile summaries), drug candidates and their target network.

from bloodsig.connectivity import release as cmaprelease

CONN = config.get("connectivity", {})
CONN_STORE = CONN.get("store", "results/connectivity_store")
CONN_ANALYSES = CONN.get("analyses", [])
CONN_TISSUES = list(CONN.get("tissues", {}))
CONN_QUERIES = [f"core_{a}" for a in CONN_ANALYSES] + CONN_TISSUES
CONN_BATCHES = CONN.get("batches", {})
CONN_TABLES = ["signatures.tsv", "perturbagens.tsv", "candidates.tsv", "ncs_means.tsv"]
STORE_FILES = ["manifest.json", "ranks.npy", "scores.npy", "genes.tsv", "signatures.tsv",
               "compounds.tsv"]
# What each rule reads of the config, and nothing more: a rule reruns only when its own keys
# change (the store only for the database and its gene space, the background only for its
# reference queries; candidate filters, FDR cut-offs and the seed never rebuild the store).
CONN_SCORING = ["weighted", "ncs_floor", "null_queries", "null_signatures",
                "summary_quantiles", "candidates"]
CONN_PARAMS = {
    step: {k: CONN[k] for k in keys if k in CONN} for step, keys in {
        "core_genes": ["fdr", "min_abs_logfc", "tissues"],
        "queries": ["fdr", "min_abs_logfc", "tissues", "min_query_genes", "max_query_genes"],
        "score": CONN_SCORING,
        "batch": CONN_SCORING + ["min_query_genes", "max_query_genes"],
    }.items()
}


for _analysis in CONN_ANALYSES:
    if _analysis not in ANALYSES:
        config_error("connectivity.analyses", f"'{_analysis}' is not an analysis of de.analyses "
                     f"({', '.join(ANALYSES)})")

CONN_DB = {"files": {k: [] for k in ("gctx", "siginfo", "geneinfo", "compoundinfo")},
           "annotations": None, "release": "custom", "columns": {}}
if CONN:
    try:
        CONN_DB = cmaprelease.resolve(CONN.get("database", {}))
    except InputError as e:
        config_error("connectivity.database", e.args[0])
CONN_NAMED_FILES = [(f"connectivity.database.{k}", f) for k, fs in CONN_DB["files"].items()
                    for f in fs]
CONN_NAMED_FILES += [("connectivity.database.annotations", CONN_DB["annotations"])] \
    if CONN_DB["annotations"] else []
CONN_NAMED_FILES += [(f"connectivity.batches.{b}.{k}", spec[k]) for b, spec in
                     CONN_BATCHES.items() for k in ("up", "down")]


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
        columns=CONN_DB["columns"],
        gene_space=CONN.get("gene_space", "bing"),
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
        background=CONN.get("background", {}),
        weighted=CONN.get("weighted", True),
        ncs_floor=CONN.get("ncs_floor", 0.01),
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
        figure=report(
            "results/{cohort}/connectivity/{analysis}/overlaps.png",
            caption="../resources/report/connectivity_overlaps.rst",
            category="Connectivity",
            subcategory="{analysis}",
        ),
    params:
        settings=CONN_PARAMS["core_genes"],
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
        settings=CONN_PARAMS["queries"],
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
        networks=report(
            expand("results/{{cohort}}/connectivity/{query}/network.png", query=CONN_QUERIES),
            caption="../resources/report/connectivity_network.rst",
            category="Connectivity",
        ),
    params:
        settings=CONN_PARAMS["score"],
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
    params:
        settings=CONN_PARAMS["batch"],
        seed=config["seed"],
    wildcard_constraints:
        batch="|".join(CONN_BATCHES) or "no_batch",
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
