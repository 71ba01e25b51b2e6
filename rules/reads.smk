# Stage reads: FASTQ cohorts (config cohorts: with `units:`) -> cutadapt -> STAR -> featureCounts
# -> results/{cohort}/counts/{counts,genes,samples}.tsv (the files counts_from_matrix writes for
# matrix cohorts), with FastQC, samtools, strandedness (RSeQC-style, pysam) and MultiQC.


wildcard_constraints:
    sample="[^/]+",
    unit="[^/]+",


STAGE_TARGETS["reads"] = lambda: [
    path
    for c in FASTQ_COHORTS
    for path in (f"results/{c}/counts/counts.tsv", f"results/{c}/reads/multiqc/multiqc_report.html")
]


rule reads_annotation:
    input:
        gtf=cohort_file("gtf"),
    output:
        f"{READS_DIR}/genes.tsv",
    params:
        attribute=READS["gtf_attribute"],
        feature=READS["feature_type"],
    log:
        "logs/{cohort}/reads/reads_annotation.log",
    benchmark:
        "logs/{cohort}/reads/reads_annotation.benchmark.tsv"
    wildcard_constraints:
        cohort=one_of(FASTQ_COHORTS),
    threads: 1
    resources:
        mem_mb=attempt_mem(4000),
        runtime=15,
    conda:
        PYENV
    script:
        "../scripts/reads_annotation.py"


rule star_index:
    input:
        genome=cohort_file("genome"),
        gtf=cohort_file("gtf"),
        genes=f"{READS_DIR}/genes.tsv",  # the GTF is checked before the long index build
    output:
        directory(f"{READS_DIR}/star_index"),
    log:
        "logs/{cohort}/reads/star_index.log",
    benchmark:
        "logs/{cohort}/reads/star_index.benchmark.tsv"
    threads: READS["threads"]
    resources:
        mem_mb=star_index_mem,
        runtime=240,
    conda:
        "../envs/reads.yaml"
    script:
        "../scripts/star_index.py"


rule cutadapt:
    input:
        fastq=unit_fastq,
        demo=demo_fastq,
    output:
        trimmed=temp(directory(f"{READS_DIR}/trimmed/{{sample}}/{{unit}}")),
        report=f"{READS_DIR}/cutadapt/{{sample}}/{{unit}}.cutadapt.json",
    params:
        adapter1=READS["adapter1"],
        adapter2=READS["adapter2"],
        quality_cutoff=READS["quality_cutoff"],
        minimum_length=READS["minimum_length"],
        listed_in=lambda wc: f"{COHORTS[wc.cohort]['units']}, row {unit_row(wc).name + 2}",
    log:
        "logs/{cohort}/reads/cutadapt/{sample}_{unit}.log",
    benchmark:
        "logs/{cohort}/reads/cutadapt/{sample}_{unit}.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(1000),
        runtime=120,
    conda:
        "../envs/reads.yaml"
    script:
        "../scripts/cutadapt.py"


rule fastqc:
    input:
        raw=sample_raw,
        trimmed=sample_trimmed,
        demo=demo_fastq,
    output:
        directory(f"{READS_DIR}/fastqc/{{sample}}"),
    params:
        units=lambda wc: sample_units(wc).astype({"unit": str}).to_dict("records"),
    log:
        "logs/{cohort}/reads/fastqc/{sample}.log",
    benchmark:
        "logs/{cohort}/reads/fastqc/{sample}.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(1000),
        runtime=120,
    conda:
        "../envs/reads.yaml"
    script:
        "../scripts/fastqc.py"


rule star_align:
    input:
        index=f"{READS_DIR}/star_index",
        genome=cohort_file("genome"),
        trimmed=sample_trimmed,
    output:
        bam=f"{READS_DIR}/star/{{sample}}.bam",
        bai=f"{READS_DIR}/star/{{sample}}.bam.bai",
        log_final=f"{READS_DIR}/star/{{sample}}.Log.final.out",
    params:
        extra=READS["star_extra"],
    log:
        "logs/{cohort}/reads/star/{sample}.log",
    benchmark:
        "logs/{cohort}/reads/star/{sample}.benchmark.tsv"
    threads: READS["threads"]
    resources:
        mem_mb=star_align_mem,
        runtime=240,
    conda:
        "../envs/reads.yaml"
    script:
        "../scripts/star_align.py"


rule samtools_qc:
    input:
        bam=f"{READS_DIR}/star/{{sample}}.bam",
        bai=f"{READS_DIR}/star/{{sample}}.bam.bai",
    output:
        stats=f"{READS_DIR}/samtools/{{sample}}.stats",
        flagstat=f"{READS_DIR}/samtools/{{sample}}.flagstat",
        idxstats=f"{READS_DIR}/samtools/{{sample}}.idxstats",
    log:
        "logs/{cohort}/reads/samtools/{sample}.log",
    benchmark:
        "logs/{cohort}/reads/samtools/{sample}.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(1000),
        runtime=60,
    conda:
        "../envs/reads.yaml"
    script:
        "../scripts/samtools_qc.py"


rule infer_strandedness:
    input:
        bam=f"{READS_DIR}/star/{{sample}}.bam",
        genes=f"{READS_DIR}/genes.tsv",
    output:
        f"{READS_DIR}/strandedness/{{sample}}.tsv",
    params:
        # a cohort's own strandedness, else the reads stage's
        configured=lambda wc: COHORTS[wc.cohort].get("strandedness", READS["strandedness"]),
        max_reads=READS["strandedness_reads"],
        stranded_threshold=READS["stranded_threshold"],
        unstranded_threshold=READS["unstranded_threshold"],
    log:
        "logs/{cohort}/reads/strandedness/{sample}.log",
    benchmark:
        "logs/{cohort}/reads/strandedness/{sample}.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=30,
    conda:
        PYENV
    script:
        "../scripts/infer_strandedness.py"


rule featurecounts:
    input:
        bam=f"{READS_DIR}/star/{{sample}}.bam",
        gtf=cohort_file("gtf"),
        strandedness=f"{READS_DIR}/strandedness/{{sample}}.tsv",
    output:
        counts=f"{READS_DIR}/featurecounts/{{sample}}.tsv",
        summary=f"{READS_DIR}/featurecounts/{{sample}}.tsv.summary",
    params:
        attribute=READS["gtf_attribute"],
        feature=READS["feature_type"],
    log:
        "logs/{cohort}/reads/featurecounts/{sample}.log",
    benchmark:
        "logs/{cohort}/reads/featurecounts/{sample}.benchmark.tsv"
    threads: READS["threads"]
    resources:
        mem_mb=attempt_mem(2000),
        runtime=60,
    conda:
        "../envs/reads.yaml"
    script:
        "../scripts/featurecounts.py"


rule counts_from_reads:
    input:
        counts=per_sample(f"{READS_DIR}/featurecounts/{{sample}}.tsv"),
        strandedness=per_sample(f"{READS_DIR}/strandedness/{{sample}}.tsv"),
        genes=f"{READS_DIR}/genes.tsv",
        samples=cohort_file("samples"),
    output:
        counts="results/{cohort}/counts/counts.tsv",
        genes="results/{cohort}/counts/genes.tsv",
        samples="results/{cohort}/counts/samples.tsv",
        strandedness=f"{READS_DIR}/strandedness.tsv",
    params:
        samples=lambda wc: cohort_samples(wc.cohort),
        sheet=SHEET,
        schema=SAMPLES_SCHEMA,
    log:
        "logs/{cohort}/reads/counts_from_reads.log",
    benchmark:
        "logs/{cohort}/reads/counts_from_reads.benchmark.tsv"
    wildcard_constraints:
        cohort=one_of(FASTQ_COHORTS),
    threads: 1
    resources:
        mem_mb=attempt_mem(4000),
        runtime=15,
    conda:
        PYENV
    script:
        "../scripts/counts_from_reads.py"


rule multiqc:
    input:
        fastqc=per_sample(f"{READS_DIR}/fastqc/{{sample}}"),
        cutadapt=per_unit(f"{READS_DIR}/cutadapt/{{sample}}/{{unit}}.cutadapt.json"),
        star=per_sample(f"{READS_DIR}/star/{{sample}}.Log.final.out"),
        samtools=per_sample(f"{READS_DIR}/samtools/{{sample}}.stats"),
        flagstat=per_sample(f"{READS_DIR}/samtools/{{sample}}.flagstat"),
        idxstats=per_sample(f"{READS_DIR}/samtools/{{sample}}.idxstats"),
        featurecounts=per_sample(f"{READS_DIR}/featurecounts/{{sample}}.tsv.summary"),
        strandedness=f"{READS_DIR}/strandedness.tsv",
        config=resource("multiqc_config.yaml"),
    output:
        figure(f"{READS_DIR}/multiqc/multiqc_report.html", "multiqc", "Reads"),
        directory(f"{READS_DIR}/multiqc/multiqc_data"),
    params:
        min_reads=READS["min_reads"],
        min_mapped_percent=READS["min_mapped_percent"],
    log:
        "logs/{cohort}/reads/multiqc.log",
    benchmark:
        "logs/{cohort}/reads/multiqc.benchmark.tsv"
    wildcard_constraints:
        cohort=one_of(FASTQ_COHORTS),
    threads: 1
    resources:
        mem_mb=attempt_mem(4000),
        runtime=30,
    conda:
        "../envs/reads.yaml"
    script:
        "../scripts/multiqc.py"
