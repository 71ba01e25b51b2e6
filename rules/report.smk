# Stage report: the cohort table (Table 1), qPCR validation of DEGs, the study report
# results/report.html (the landing page) and provenance (resolved config, versions, input
# checksums).
# `snakemake --report report.html` gathers every stage's captioned figures.

if stage_on("report") and QPCR and QPCR["analysis"] not in ANALYSES:
    config_error("report.qpcr.analysis", f"'{QPCR['analysis']}' is not in de.analyses")


STAGE_TARGETS["report"] = lambda: [
    f"{REPORT_DIR}/cohort_table.tsv",
    f"{REPORT_DIR}/cohort_table.html",
    REPORT_HTML,
    "results/provenance/config.yaml",
    "results/provenance/versions.tsv",
    "results/provenance/checksums.tsv",
] + ([f"{REPORT_DIR}/qpcr.tsv", f"{REPORT_DIR}/qpcr.png"] if QPCR else []) + (
    [f"{REPORT_DIR}/calibration.tsv"] if stage_on("demo") else [])


rule report_cohort_table:
    input:
        samples="results/{cohort}/expression_qc/samples.tsv",
    output:
        table="results/{cohort}/report/cohort_table.tsv",
        html=figure("results/{cohort}/report/cohort_table.html", "cohort_table", "Report"),
    params:
        sheet=SHEET,
        variables=canonical(REPORT["cohort_table"]),
    log:
        "logs/{cohort}/report/cohort_table.log",
    benchmark:
        "logs/{cohort}/report/cohort_table.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(1000),
        runtime=5,
    conda:
        PYENV
    script:
        "../scripts/report_cohort_table.py"


rule report_qpcr:
    input:
        ct=QPCR.get("ct", []),  # absent: no qPCR configured
        samples=cohort_file("samples"),
        toptable=lambda wc: f"results/{wc.cohort}/de/{QPCR['analysis']}/toptable.tsv",
    output:
        table="results/{cohort}/report/qpcr.tsv",
        figure=figure("results/{cohort}/report/qpcr.png", "qpcr", "Report"),
    params:
        sheet=SHEET,
        reference_genes=QPCR.get("reference_genes", []),  # absent: no qPCR configured
    log:
        "logs/{cohort}/report/qpcr.log",
    benchmark:
        "logs/{cohort}/report/qpcr.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(1000),
        runtime=5,
    conda:
        PYENV
    script:
        "../scripts/report_qpcr.py"


# The demo measured against the reference study (issue 18): each statistic of the pipeline's
# outputs beside the study's value and a band (resources/calibration.tsv), and the recovery of
# the planted truth. Only for the embedded demo (its truth/ files); a stage that is off gives
# rows "not run".
rule report_calibration:
    input:
        unpack(calibration_inputs),
    output:
        "results/{cohort}/report/calibration.tsv",
    params:
        scale=config["demo"]["scale"],
        fdr=config["de"]["fdr"],
        min_abs_logfc=config["de"]["min_abs_logfc"],
        time_unit=SURVIVAL["time_unit"],
    log:
        "logs/{cohort}/report/calibration.log",
    benchmark:
        "logs/{cohort}/report/calibration.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(1000),
        runtime=5,
    conda:
        PYENV
    script:
        "../scripts/report_calibration.py"


# The study report: one self-contained HTML page of every stage that is on, built from the
# targets of those stages (report_html_inputs in common.smk). It can be asked for as a target
# when stage report is off; its sections of stages that did not run say so.
rule report_html:
    input:
        report_html_inputs,
    output:
        REPORT_HTML,
    params:
        cohort=DISCOVERY[0],
        title=REPORT["title"],
        # the settings each section states: the config sections of the stages that are on, in
        # the user's order (the report lists analyses as the config does; it reruns after any
        # edit anyway, as it reads the provenance)
        settings={"samples": config["samples"], "report": REPORT,
                  **{s: config[s] for s in STAGE_TARGETS if stage_on(s) and s in config}},
        expression_genes=150,  # top genes per DE analysis whose expression is embedded
        table_rows=5000,  # rows of smallest P per DE table (the TSV has every gene)
    log:
        "logs/report/report_html.log",
    benchmark:
        "logs/report/report_html.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(3000),
        runtime=15,
    conda:
        PYENV
    script:
        "../scripts/report_html.py"


rule report_provenance:
    input:
        sorted({d[k] for d in COHORTS.values() for k in COHORT_FILE_KEYS if k in d}
               | ({QPCR["ct"]} if QPCR else set())),
    output:
        config="results/provenance/config.yaml",
        versions="results/provenance/versions.tsv",
        checksums="results/provenance/checksums.tsv",
    params:
        config=config,
        units=[d["units"] for d in COHORTS.values() if "units" in d],
        pyproject="pyproject.toml",
    log:
        "logs/report/provenance.log",
    benchmark:
        "logs/report/provenance.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(1000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/report_provenance.py"


# Every run's jobs, timed: each rule writes a Snakemake benchmark file beside its log
# (logs/.../<name>.benchmark.tsv). Rule `all` always asks for the gathered table. Which jobs
# ran is only known once the DAG is built, so the benchmark files cannot be listed as inputs;
# instead the rule takes every other target of `all` but the report page as input, so that
# Snakemake runs it after every job of the run (it adds no job the user did not ask for: these
# targets are `all` already), and reads the benchmark files that exist at that point. The
# report page shows its 10 slowest rules, so it comes after it (and is not timed in it). A
# file is named back to its rule and wildcards with the rules' benchmark patterns; files of
# rules no longer in the workflow are left out (the log says how many).
rule report_benchmarks:
    input:
        lambda wc: [t for t in all_targets() if t != REPORT_HTML],
    output:
        table="results/benchmarks.tsv",
        slowest="results/benchmarks_slowest.tsv",
        figure=figure("results/benchmarks_slowest.png", "benchmarks", "Report"),
    params:
        # rule -> benchmark pattern, with its wildcard constraints written in
        patterns=lambda wc: {r.name: str(r.benchmark) for r in workflow.rules
                             if r.benchmark is not None and not callable(r.benchmark)},
        folder="logs",
        suffix=".benchmark.tsv",
        top=10,
    log:
        "logs/report/benchmarks.log",
    benchmark:
        "logs/report/benchmarks.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(1000),
        runtime=5,
    conda:
        PYENV
    script:
        "../scripts/report_benchmarks.py"
