# Stage expression_qc: gene filters (low expression, single library prep, globins) and the
# sex check, with PCA plots before and after. Its counts feed every later stage.


STAGE_TARGETS["expression_qc"] = lambda: expand(
    "results/{cohort}/expression_qc/{name}",
    cohort=DISCOVERY,
    name=["counts.tsv", "gene_report.tsv", "sample_report.tsv", "pca.png", "sex_check.png"],
)


rule expression_qc:
    input:
        counts="results/{cohort}/counts/counts.tsv",
        genes="results/{cohort}/counts/genes.tsv",
        samples="results/{cohort}/counts/samples.tsv",
        globins=resource("globin_genes.txt"),
        chry=resource("chrY_genes.txt"),
    output:
        counts="results/{cohort}/expression_qc/counts.tsv",
        samples="results/{cohort}/expression_qc/samples.tsv",
        gene_report="results/{cohort}/expression_qc/gene_report.tsv",
        sample_report="results/{cohort}/expression_qc/sample_report.tsv",
        pca=figure("results/{cohort}/expression_qc/pca.png", "pca", "Expression QC", "{cohort}"),
        sex_check=figure("results/{cohort}/expression_qc/sex_check.png",
                         "sex_check", "Expression QC", "{cohort}"),
    params:
        settings=canonical(config["expression_qc"]),
        sheet=SHEET,
    log:
        "logs/{cohort}/expression_qc/expression_qc.log",
    benchmark:
        "logs/{cohort}/expression_qc/expression_qc.benchmark.tsv"
    threads: 1
    resources:
        # peak RSS ~170 MB + 11 MB per MB of count matrix (demo and paper scale), doubled
        mem_mb=input_scaled("counts", 1000, 20),
        runtime=input_scaled("counts", 10, 0.25),
    conda:
        PYENV
    script:
        "../scripts/expression_qc.py"
