# Stage counts: a cohort's gene x sample count matrix in bloodsig's canonical form.
# Cohorts from a supplied matrix are validated and copied here; FASTQ cohorts reach the same
# files through the reads stage.


rule counts_from_matrix:
    input:
        unpack(cohort_annotation_files),
        counts=cohort_file("counts"),
        samples=cohort_file("samples"),
    output:
        counts="results/{cohort}/counts/counts.tsv",
        genes="results/{cohort}/counts/genes.tsv",
        samples="results/{cohort}/counts/samples.tsv",
    params:
        sheet=SHEET,
        schema=SAMPLES_SCHEMA,
        counts_format=lambda wc: COHORTS[wc.cohort]["counts_format"],
        duplicate_genes=lambda wc: COHORTS[wc.cohort]["duplicate_genes"],
        damaged_symbols=lambda wc: COHORTS[wc.cohort]["damaged_symbols"],
    log:
        "logs/{cohort}/counts/counts_from_matrix.log",
    benchmark:
        "logs/{cohort}/counts/counts_from_matrix.benchmark.tsv"
    wildcard_constraints:
        cohort=one_of(COUNT_COHORTS),
    threads: 1
    resources:
        # peak RSS ~110 MB + 10 MB per MB of count matrix (demo and paper scale), doubled
        mem_mb=input_scaled("counts", 1000, 20),
        runtime=input_scaled("counts", 10, 0.25),
    conda:
        PYENV
    script:
        "../scripts/counts_from_matrix.py"
