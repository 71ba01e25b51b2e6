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
        confounding=report(
            "results/{cohort}/de/{analysis}/confounding.tsv",
            caption="../resources/report/confounding.rst",
            category="Differential expression",
            subcategory="{analysis}",
        ),
        association="results/{cohort}/de/{analysis}/covariate_association.tsv",
        heatmap=report(
            "results/{cohort}/de/{analysis}/covariate_association.png",
            caption="../resources/report/covariate_association.rst",
            category="Differential expression",
            subcategory="{analysis}",
        ),
    params:
        analysis=lambda wc: config["de"]["analyses"][wc.analysis],
        de=config["de"],
        sheet=config["samples"],
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
        volcano=report(
            "results/{cohort}/de/{analysis}/volcano.png",
            caption="../resources/report/volcano.rst",
            category="Differential expression",
            subcategory="{analysis}",
        ),
        ma=report(
            "results/{cohort}/de/{analysis}/ma.png",
            caption="../resources/report/ma.rst",
            category="Differential expression",
            subcategory="{analysis}",
        ),
        pvalue_hist=report(
            "results/{cohort}/de/{analysis}/pvalue_hist.png",
            caption="../resources/report/pvalue_hist.rst",
            category="Differential expression",
            subcategory="{analysis}",
        ),
        heatmap=report(
            "results/{cohort}/de/{analysis}/heatmap.png",
            caption="../resources/report/de_heatmap.rst",
            category="Differential expression",
            subcategory="{analysis}",
        ),
    params:
        analysis=lambda wc: config["de"]["analyses"][wc.analysis],
        de=config["de"],
        sheet=config["samples"],
        seed=config["seed"],
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
        figure=report(
            "results/{cohort}/de/sex_comparison.png",
            caption="../resources/report/sex_comparison.rst",
            category="Differential expression",
            subcategory="sex comparison",
        ),
    params:
        de=config["de"],
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
