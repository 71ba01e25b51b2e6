# Stage cells: blood cell proportions, supplied (e.g. DNA methylation) or estimated from the
# RNA with a signature matrix, validated against flow cytometry, one type dropped for
# collinearity (VIF); the result feeds the cell-adjusted DE (analyses with `cells: true`).


STAGE_TARGETS["cells"] = lambda: [
    f"results/{cohort}/cells/{name}"
    for cohort in DISCOVERY
    for name in ["fractions_for_de.tsv", "vif.tsv", "pc_association.tsv", "pc_association.png",
                 "summary.tsv"]
    + (["validation.tsv", "validation.png"] if "flow_cytometry" in COHORTS[cohort] else [])
    + (["rna_fractions.tsv", "rna_fit.tsv"] if "cell_signature" in COHORTS[cohort] else [])
]


rule cells_rna:
    input:
        counts="results/{cohort}/expression_qc/counts.tsv",
        signature=cohort_file("cell_signature"),
    output:
        fractions="results/{cohort}/cells/rna_fractions.tsv",
        fit="results/{cohort}/cells/rna_fit.tsv",
    params:
        weighting=config["cells"]["weighting"],
    log:
        "logs/{cohort}/cells/cells_rna.log",
    benchmark:
        "logs/{cohort}/cells/cells_rna.benchmark.tsv"
    threads: 1
    resources:
        # peak RSS ~150 MB + 11 MB per MB of count matrix (demo), doubled
        mem_mb=input_scaled("counts", 1000, 20),
        runtime=input_scaled("counts", 5, 0.1),
    conda:
        PYENV
    script:
        "../scripts/cells_rna.py"


rule cells_validate:
    input:
        unpack(cell_estimates),
        flow=cohort_file("flow_cytometry"),
        samples="results/{cohort}/counts/samples.tsv",
    output:
        table="results/{cohort}/cells/validation.tsv",
        figure=figure("results/{cohort}/cells/validation.png",
                      "cells_validation", "Cell proportions", "{cohort}"),
    params:
        sum_tolerance=config["cells"]["sum_tolerance"],
        groups=canonical(config["cells"]["groups"]),
        sheet=SHEET,
    log:
        "logs/{cohort}/cells/cells_validate.log",
    benchmark:
        "logs/{cohort}/cells/cells_validate.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/cells_validate.py"


rule cells_for_de:
    input:
        unpack(cell_estimates),
        validation=flow_validation,
        samples="results/{cohort}/expression_qc/samples.tsv",
        sheet="results/{cohort}/counts/samples.tsv",
    output:
        fractions="results/{cohort}/cells/fractions.tsv",
        for_de="results/{cohort}/cells/fractions_for_de.tsv",
        vif="results/{cohort}/cells/vif.tsv",
    params:
        settings=settings("cells", "sum_tolerance", "estimate", "groups", "collinearity"),
        sheet=SHEET,
    log:
        "logs/{cohort}/cells/cells_for_de.log",
    benchmark:
        "logs/{cohort}/cells/cells_for_de.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/cells_for_de.py"


rule cells_pcs:
    input:
        counts="results/{cohort}/expression_qc/counts.tsv",
        fractions="results/{cohort}/cells/fractions.tsv",
    output:
        table="results/{cohort}/cells/pc_association.tsv",
        heatmap=figure("results/{cohort}/cells/pc_association.png",
                       "cells_pc_association", "Cell proportions", "{cohort}"),
    params:
        settings=canonical(config["cells"]["pc_association"]),
    log:
        "logs/{cohort}/cells/cells_pcs.log",
    benchmark:
        "logs/{cohort}/cells/cells_pcs.benchmark.tsv"
    threads: 1
    resources:
        # peak RSS ~200 MB + 19 MB per MB of count matrix (demo), doubled
        mem_mb=input_scaled("counts", 1000, 40),
        runtime=input_scaled("counts", 5, 0.25),
    conda:
        PYENV
    script:
        "../scripts/cells_pcs.py"


rule cells_summary:
    input:
        unpack(cells_summary_inputs),
        unpack(cell_estimates),
        vif="results/{cohort}/cells/vif.tsv",
    output:
        summary="results/{cohort}/cells/summary.tsv",
    params:
        settings=settings("cells", "sum_tolerance", "estimate", "groups"),
        de=settings("de", "fdr", "min_abs_logfc"),
    log:
        "logs/{cohort}/cells/cells_summary.log",
    benchmark:
        "logs/{cohort}/cells/cells_summary.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/cells_summary.py"
