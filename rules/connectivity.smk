# Stage connectivity: core genes (blood DEGs in every disease-tissue DEG list), CMap queries,
# a one-time gene-major store of the LINCS signature database and CMap scoring of every query
# (WTCS, NCS, FDR, tau, max-quantile summaries), drug candidates and their target network.

CONN = config.get("connectivity", {})
CONN_STORE = CONN.get("store", "results/connectivity_store")
CONN_ANALYSES = CONN.get("analyses", [])
CONN_TISSUES = list(CONN.get("tissues", {}))
CONN_QUERIES = [f"core_{a}" for a in CONN_ANALYSES] + CONN_TISSUES
CONN_TABLES = ["signatures.tsv", "perturbagens.tsv", "candidates.tsv", "ncs_means.tsv"]
STORE_FILES = ["manifest.json", "ranks.npy", "scores.npy", "genes.tsv", "signatures.tsv",
               "compounds.tsv"]

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
        gctx=CONN.get("database", {}).get("gctx", []),
        siginfo=CONN.get("database", {}).get("siginfo", []),
        geneinfo=CONN.get("database", {}).get("geneinfo", []),
        compoundinfo=CONN.get("database", {}).get("compoundinfo", []),
    output:
        [f"{CONN_STORE}/{name}" for name in STORE_FILES],
        background=f"{CONN_STORE}/background.npy",
    params:
        database=CONN.get("database"),
        settings=CONN,
        seed=config["seed"],
    log:
        "logs/connectivity/connectivity_store.log",
    threads: 2
    resources:
        mem_mb=attempt_mem(4000),
        runtime=240,
    conda:
        PYENV
    script:
        "../scripts/connectivity_store.py"


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
        settings=CONN,
        tissues=CONN_TISSUES,
        blood_columns={"gene_column": "gene_name", "logfc_column": "logFC",
                       "fdr_column": "adj.P.Val"},
    log:
        "logs/{cohort}/connectivity/{analysis}/connectivity_core_genes.log",
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
        settings=CONN,
        analyses=CONN_ANALYSES,
        tissues=CONN_TISSUES,
    log:
        "logs/{cohort}/connectivity/connectivity_queries.log",
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
        settings=CONN,
        seed=config["seed"],
    log:
        "logs/{cohort}/connectivity/connectivity_score.log",
    threads: 2
    resources:
        mem_mb=attempt_mem(4000),
        runtime=60,
    conda:
        PYENV
    script:
        "../scripts/connectivity_score.py"
