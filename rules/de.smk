# Stage de: technical covariates (RNA PCs or SVA), then limma-voom (or pydeseq2) for every
# analysis in config de.analyses, its DEG lists, figures and residual expression.


STAGE_TARGETS["de"] = lambda: expand(
    "results/{cohort}/de/{analysis}/{name}",
    cohort=DISCOVERY,
    analysis=ANALYSES,
    name=["toptable.tsv", "confounding.tsv", "degs_up.tsv", "degs_down.tsv", "residuals.tsv", "volcano.png",
          "ma.png", "pvalue_hist.png", "heatmap.png", "covariate_association.png"],
) + (
    expand("results/{cohort}/de/sex_comparison.{ext}", cohort=DISCOVERY, ext=["tsv", "png"])
    if "sex_comparison" in config["de"]
    else []
)


rule de_covariates:
    input:
        counts="results/{cohort}/expression_qc/counts.tsv",
        samples="results/{cohort}/expression_qc/samples.tsv",
        cells=cell_fractions,
    output:
        covariates="results/{cohort}/de/{analysis}/covariates.tsv",
        confounding=figure("results/{cohort}/de/{analysis}/confounding.tsv",
                           "confounding", "Differential expression", "{analysis}"),
        association="results/{cohort}/de/{analysis}/covariate_association.tsv",
        heatmap=figure("results/{cohort}/de/{analysis}/covariate_association.png",
                       "covariate_association", "Differential expression", "{analysis}"),
    params:
        analysis=lambda wc: canonical(config["de"]["analyses"][wc.analysis]),
        de=settings("de", "reference_levels", "technical", "covariates"),
        sheet=SHEET,
        seed=config["seed"],
    log:
        "logs/{cohort}/de/{analysis}/de_covariates.log",
    benchmark:
        "logs/{cohort}/de/{analysis}/de_covariates.benchmark.tsv"
    threads: 1
    resources:
        # peak RSS ~200 MB + 21 MB per MB of count matrix (demo and paper scale), doubled
        mem_mb=input_scaled("counts", 1000, 40),
        runtime=input_scaled("counts", 10, 0.5),
    conda:
        PYENV
    script:
        "../scripts/de_covariates.py"


rule de_fit:
    input:
        counts="results/{cohort}/expression_qc/counts.tsv",
        genes="results/{cohort}/counts/genes.tsv",
        samples="results/{cohort}/expression_qc/samples.tsv",
        covariates="results/{cohort}/de/{analysis}/covariates.tsv",
        cells=cell_fractions,
    output:
        toptable="results/{cohort}/de/{analysis}/toptable.tsv",
        up="results/{cohort}/de/{analysis}/degs_up.tsv",
        down="results/{cohort}/de/{analysis}/degs_down.tsv",
        residuals="results/{cohort}/de/{analysis}/residuals.tsv",
        volcano=figure("results/{cohort}/de/{analysis}/volcano.png",
                       "volcano", "Differential expression", "{analysis}"),
        ma=figure("results/{cohort}/de/{analysis}/ma.png",
                  "ma", "Differential expression", "{analysis}"),
        pvalue_hist=figure("results/{cohort}/de/{analysis}/pvalue_hist.png",
                           "pvalue_hist", "Differential expression", "{analysis}"),
        heatmap=figure("results/{cohort}/de/{analysis}/heatmap.png",
                       "de_heatmap", "Differential expression", "{analysis}"),
    params:
        analysis=lambda wc: canonical(config["de"]["analyses"][wc.analysis]),
        de=settings("de", "reference_levels", "technical", "engine", "fdr", "min_abs_logfc",
                    "heatmap_genes"),
        sheet=SHEET,
    log:
        "logs/{cohort}/de/{analysis}/de_fit.log",
    benchmark:
        "logs/{cohort}/de/{analysis}/de_fit.benchmark.tsv"
    threads: 2
    resources:
        # peak RSS ~200 MB + 21 MB per MB of count matrix (demo and paper scale), doubled
        mem_mb=input_scaled("counts", 1000, 40),
        runtime=input_scaled("counts", 10, 0.5),
    conda:
        PYENV
    script:
        "../scripts/de_fit.py"


rule de_sex_comparison:
    input:
        male=lambda wc: f"results/{wc.cohort}/de/{config['de']['sex_comparison']['male']}/toptable.tsv",
        female=lambda wc: f"results/{wc.cohort}/de/{config['de']['sex_comparison']['female']}/toptable.tsv",
    output:
        table="results/{cohort}/de/sex_comparison.tsv",
        figure=figure("results/{cohort}/de/sex_comparison.png",
                      "sex_comparison", "Differential expression", "sex comparison"),
    params:
        fdr=config["de"]["fdr"],
    log:
        "logs/{cohort}/de/de_sex_comparison.log",
    benchmark:
        "logs/{cohort}/de/de_sex_comparison.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/de_sex_comparison.py"
