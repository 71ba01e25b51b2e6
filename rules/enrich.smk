# Stage enrich: over-representation of up and down DEGs in gene-set collections (per DE
# analysis), terms gained/lost with cell adjustment, enrichment map (GraphML for Cytoscape),
# preranked GSEA of a contrast, and overlap with published DEG lists.

ENRICH_MAP = ENRICH.get("enrichment_map", {})
GSEA = ENRICH.get("gsea", {})
OVERLAP = ENRICH.get("overlap", {})
PUBLISHED = OVERLAP.get("published", {})

# Names that must refer to a DE analysis or a collection: refuse a typo before anything runs.
for _key, _names, _known, _what in (
    ("analyses", ENRICH_ANALYSES, ANALYSES, "de.analyses"),
    ("compare", list(ENRICH.get("compare", {}).values()), ANALYSES, "de.analyses"),
    ("enrichment_map.analyses", ENRICH_MAP.get("analyses", []), ANALYSES, "de.analyses"),
    ("enrichment_map.collection", [ENRICH_MAP.get("collection")] if ENRICH_MAP else [],
     COLLECTIONS, "enrich.collections"),
    ("gsea.analyses", GSEA.get("analyses", []), ANALYSES, "de.analyses"),
    ("gsea.collections", GSEA.get("collections", []), COLLECTIONS, "enrich.collections"),
    ("overlap.analysis", [OVERLAP["analysis"]] if OVERLAP else [], ANALYSES, "de.analyses"),
):
    for _name in _names:
        if _name not in _known:
            config_error(f"enrich.{_key}", f"'{_name}' is not in {_what}")


wildcard_constraints:
    collection=one_of(COLLECTIONS),
    published=one_of(PUBLISHED),


# GMT file (and id map) of each collection, as rule inputs.
COLLECTION_FILES = {name: [spec["gmt"]] + ([spec["id_map"]] if spec.get("id_map") else [])
                    for name, spec in COLLECTIONS.items()}


STAGE_TARGETS["enrich"] = lambda: expand(
    "results/{cohort}/enrich/{analysis}/ora_{collection}.{ext}", cohort=DISCOVERY,
    analysis=ENRICH_ANALYSES, collection=COLLECTIONS, ext=["tsv", "png"],
) + (
    expand("results/{cohort}/enrich/compare_{collection}.tsv", cohort=DISCOVERY,
           collection=COLLECTIONS) if "compare" in ENRICH else []
) + (
    expand("results/{cohort}/enrich/{analysis}/map_{collection}.{ext}", cohort=DISCOVERY,
           analysis=ENRICH_MAP["analyses"], collection=ENRICH_MAP["collection"],
           ext=["graphml", "tsv", "png"]) if ENRICH_MAP else []
) + (
    expand("results/{cohort}/enrich/{analysis}/gsea_{collection}.{ext}", cohort=DISCOVERY,
           analysis=GSEA["analyses"], collection=GSEA["collections"], ext=["tsv", "png"])
    if GSEA else []
) + expand(
    "results/{cohort}/enrich/overlap/{published}_{part}", cohort=DISCOVERY,
    published=PUBLISHED, part=["tests.tsv", "shared.tsv", "pathways.tsv", "logfc.png"],
)


rule enrich_ora:
    input:
        toptable="results/{cohort}/de/{analysis}/toptable.tsv",
        up="results/{cohort}/de/{analysis}/degs_up.tsv",
        down="results/{cohort}/de/{analysis}/degs_down.tsv",
        collection=lambda wc: COLLECTION_FILES[wc.collection],
    output:
        table="results/{cohort}/enrich/{analysis}/ora_{collection}.tsv",
        dotplot=figure("results/{cohort}/enrich/{analysis}/ora_{collection}.png",
                       "ora_dotplot", "Enrichment", "{analysis}"),
    params:
        spec=lambda wc: canonical(COLLECTIONS[wc.collection]),
        enrich=settings("enrich", "universe", "min_size", "max_size", "dotplot_terms", "fdr"),
    log:
        "logs/{cohort}/enrich/{analysis}/ora_{collection}.log",
    benchmark:
        "logs/{cohort}/enrich/{analysis}/ora_{collection}.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/enrich_ora.py"


rule enrich_compare:
    input:
        before=lambda wc: f"results/{wc.cohort}/enrich/{ENRICH['compare']['before']}/ora_{wc.collection}.tsv",
        after=lambda wc: f"results/{wc.cohort}/enrich/{ENRICH['compare']['after']}/ora_{wc.collection}.tsv",
    output:
        table="results/{cohort}/enrich/compare_{collection}.tsv",
    params:
        fdr=ENRICH["fdr"],
    log:
        "logs/{cohort}/enrich/compare_{collection}.log",
    benchmark:
        "logs/{cohort}/enrich/compare_{collection}.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(1000),
        runtime=5,
    conda:
        PYENV
    script:
        "../scripts/enrich_compare.py"


rule enrich_map:
    input:
        toptable="results/{cohort}/de/{analysis}/toptable.tsv",
        ora="results/{cohort}/enrich/{analysis}/ora_{collection}.tsv",
        collection=lambda wc: COLLECTION_FILES[wc.collection],
    output:
        graphml="results/{cohort}/enrich/{analysis}/map_{collection}.graphml",
        nodes="results/{cohort}/enrich/{analysis}/map_{collection}.tsv",
        figure=figure("results/{cohort}/enrich/{analysis}/map_{collection}.png",
                      "enrichment_map", "Enrichment", "{analysis}"),
    params:
        spec=lambda wc: canonical(COLLECTIONS[wc.collection]),
        universe=ENRICH["universe"],
        # lambdas: the sections are optional, and read only when their jobs are scheduled
        map=lambda wc: canonical({k: ENRICH_MAP[k] for k in ("fdr", "similarity", "cutoff")}),
        seed=config["seed"],
    log:
        "logs/{cohort}/enrich/{analysis}/map_{collection}.log",
    benchmark:
        "logs/{cohort}/enrich/{analysis}/map_{collection}.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/enrich_map.py"


rule enrich_gsea:
    input:
        toptable="results/{cohort}/de/{analysis}/toptable.tsv",
        collection=lambda wc: COLLECTION_FILES[wc.collection],
    output:
        table="results/{cohort}/enrich/{analysis}/gsea_{collection}.tsv",
        figure=figure("results/{cohort}/enrich/{analysis}/gsea_{collection}.png",
                      "gsea", "Enrichment", "{analysis}"),
    params:
        spec=lambda wc: canonical(COLLECTIONS[wc.collection]),
        gsea=lambda wc: canonical({k: GSEA[k] for k in ("permutations", "min_size", "max_size",
                                                   "plots")}),
        seed=config["seed"],
    log:
        "logs/{cohort}/enrich/{analysis}/gsea_{collection}.log",
    benchmark:
        "logs/{cohort}/enrich/{analysis}/gsea_{collection}.benchmark.tsv"
    threads: 2
    resources:
        mem_mb=attempt_mem(4000),
        runtime=30,
    conda:
        PYENV
    script:
        "../scripts/enrich_gsea.py"


rule enrich_overlap:
    input:
        toptable=lambda wc: f"results/{wc.cohort}/de/{OVERLAP['analysis']}/toptable.tsv",
        up=lambda wc: f"results/{wc.cohort}/de/{OVERLAP['analysis']}/degs_up.tsv",
        down=lambda wc: f"results/{wc.cohort}/de/{OVERLAP['analysis']}/degs_down.tsv",
        published=lambda wc: PUBLISHED[wc.published]["path"],
        collections=[path for files in COLLECTION_FILES.values() for path in files],
    output:
        tests="results/{cohort}/enrich/overlap/{published}_tests.tsv",
        shared="results/{cohort}/enrich/overlap/{published}_shared.tsv",
        pathways="results/{cohort}/enrich/overlap/{published}_pathways.tsv",
        figure=figure("results/{cohort}/enrich/overlap/{published}_logfc.png",
                      "published_overlap", "Enrichment", "published DEG lists"),
    params:
        spec=lambda wc: canonical(PUBLISHED[wc.published]),
        collections=canonical(COLLECTIONS),
        enrich=settings("enrich", "universe", "min_size", "max_size"),
    log:
        "logs/{cohort}/enrich/overlap/{published}.log",
    benchmark:
        "logs/{cohort}/enrich/overlap/{published}.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/enrich_overlap.py"
