# Stage survival: among the discovery cohort's cases, survival from onset predicted from blood
# expression plus clinical variables (log-rank screen, co-expression hubs, stepwise Cox,
# XGBoost-Cox), compared with a clinical-only model internally and on the external cohort.

# The keys every rule of the stage reads: the cases and their clinical covariates.
SURVIVAL_CASES = ["time_column", "event_column", "clinical", "reference_levels"]

if stage_on("survival") and SURVIVAL_EXTERNAL and SURVIVAL_EXTERNAL not in COHORTS:
    config_error("survival.external_cohort", f"'{SURVIVAL_EXTERNAL}' is not a cohort "
                 f"(cohorts: {', '.join(COHORTS)})")
if stage_on("survival") and SURVIVAL_EXTERNAL == DISCOVERY[0]:
    config_error("survival.external_cohort", "must not be the discovery cohort")

SURVIVAL_EXTERNAL_FILES = (
    {
        "ext_expression": f"results/{SURVIVAL_EXTERNAL}/survival/expression.tsv",
        "ext_cases": f"results/{SURVIVAL_EXTERNAL}/survival/cases.tsv",
    }
    if SURVIVAL_EXTERNAL
    else {}
)


STAGE_TARGETS["survival"] = lambda: [
    f"{SURVIVAL_DIR}/{name}"
    for name in ["input_genes.tsv", "logrank.tsv", "modules.tsv", "selected_genes.tsv",
                 "models.tsv", "cindex.tsv", "cindex_tests.tsv", "risk_groups.tsv",
                 "risk_group_summary.tsv", "risk_group_tests.tsv", "km.png", "splits.tsv",
                 "splits_tests.tsv", "td_auc.png"]
] + ([f"results/{SURVIVAL_EXTERNAL}/survival/km.png"] if SURVIVAL_EXTERNAL else [])


rule survival_inputs:
    input:
        # The external cohort's counts (its reads or counts stage), when one is configured.
        **(
            {f"ext_{name}": f"results/{SURVIVAL_EXTERNAL}/counts/{name}.tsv"
             for name in ("counts", "samples")}
            if SURVIVAL_EXTERNAL
            else {}
        ),
        counts=f"results/{DISCOVERY[0]}/expression_qc/counts.tsv",
        samples=f"results/{DISCOVERY[0]}/expression_qc/samples.tsv",
        genes=f"results/{DISCOVERY[0]}/counts/genes.tsv",
    output:
        **SURVIVAL_EXTERNAL_FILES,
        report=f"{SURVIVAL_DIR}/input_genes.tsv",
        expression=f"{SURVIVAL_DIR}/expression.tsv",
        cases=f"{SURVIVAL_DIR}/cases.tsv",
    params:
        settings=settings("survival", *SURVIVAL_CASES, "technical", "filters"),
        sheet=SHEET,
    log:
        f"logs/{DISCOVERY[0]}/survival/survival_inputs.log",
    benchmark:
        f"logs/{DISCOVERY[0]}/survival/survival_inputs.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(4000),
        runtime=15,
    conda:
        PYENV
    script:
        "../scripts/survival_inputs.py"


rule survival_select:
    input:
        expression=f"{SURVIVAL_DIR}/expression.tsv",
        cases=f"{SURVIVAL_DIR}/cases.tsv",
        genes=f"results/{DISCOVERY[0]}/counts/genes.tsv",
    output:
        logrank=f"{SURVIVAL_DIR}/logrank.tsv",
        modules=f"{SURVIVAL_DIR}/modules.tsv",
        soft_threshold=f"{SURVIVAL_DIR}/soft_threshold.tsv",
        stepwise=f"{SURVIVAL_DIR}/stepwise.tsv",
        xgboost_grid=f"{SURVIVAL_DIR}/xgboost_grid.tsv",
        xgboost_importance=f"{SURVIVAL_DIR}/xgboost_importance.tsv",
        selected=f"{SURVIVAL_DIR}/selected_genes.tsv",
    params:
        settings=settings(
            "survival", *SURVIVAL_CASES, "logrank_p", "coexpression", "ties", "stepwise", "xgboost",
        ),
        seed=config["seed"],
    log:
        f"logs/{DISCOVERY[0]}/survival/survival_select.log",
    benchmark:
        f"logs/{DISCOVERY[0]}/survival/survival_select.benchmark.tsv"
    # a stepwise step's candidate Cox models and the XGBoost grid's fits run in parallel,
    # one per worker process, each single-threaded (see bloodsig.core.parallel)
    threads: 2
    resources:
        mem_mb=attempt_mem(4000),
        runtime=60,
    conda:
        PYENV
    script:
        "../scripts/survival_select.py"


rule survival_models:
    input:
        **SURVIVAL_EXTERNAL_FILES,
        expression=f"{SURVIVAL_DIR}/expression.tsv",
        cases=f"{SURVIVAL_DIR}/cases.tsv",
        selected=f"{SURVIVAL_DIR}/selected_genes.tsv",
        genes=f"results/{DISCOVERY[0]}/counts/genes.tsv",
    output:
        models=f"{SURVIVAL_DIR}/models.tsv",
        cindex=f"{SURVIVAL_DIR}/cindex.tsv",
        cindex_tests=f"{SURVIVAL_DIR}/cindex_tests.tsv",
        risk=f"{SURVIVAL_DIR}/risk_groups.tsv",
        group_summary=f"{SURVIVAL_DIR}/risk_group_summary.tsv",
        group_tests=f"{SURVIVAL_DIR}/risk_group_tests.tsv",
        km=figure(f"{SURVIVAL_DIR}/km.png", "survival_km", "Survival", DISCOVERY[0]),
        **(
            {"km_external": figure(f"results/{SURVIVAL_EXTERNAL}/survival/km.png", "survival_km",
                                   "Survival", SURVIVAL_EXTERNAL)}
            if SURVIVAL_EXTERNAL
            else {}
        ),
    params:
        settings=settings(
            "survival", *SURVIVAL_CASES, "ties", "risk_model", "risk_quantiles", "time_unit",
        ),
        cohorts=[DISCOVERY[0]] + ([SURVIVAL_EXTERNAL] if SURVIVAL_EXTERNAL else []),
    log:
        f"logs/{DISCOVERY[0]}/survival/survival_models.log",
    benchmark:
        f"logs/{DISCOVERY[0]}/survival/survival_models.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(4000),
        runtime=15,
    conda:
        PYENV
    script:
        "../scripts/survival_models.py"


rule survival_splits:
    input:
        expression=f"{SURVIVAL_DIR}/expression.tsv",
        cases=f"{SURVIVAL_DIR}/cases.tsv",
        selected=f"{SURVIVAL_DIR}/selected_genes.tsv",
    output:
        splits=f"{SURVIVAL_DIR}/splits.tsv",
        tests=f"{SURVIVAL_DIR}/splits_tests.tsv",
        figure=figure(f"{SURVIVAL_DIR}/td_auc.png", "survival_td_auc", "Survival", DISCOVERY[0]),
    params:
        # each split reselects its genes on its training part, with survival_select's keys
        settings=settings(
            "survival", *SURVIVAL_CASES, "ties", "auc_times", "splits", "test_fraction",
            "time_unit", "logrank_p", "coexpression", "stepwise", "xgboost",
        ),
        seed=config["seed"],
    log:
        f"logs/{DISCOVERY[0]}/survival/survival_splits.log",
    benchmark:
        f"logs/{DISCOVERY[0]}/survival/survival_splits.benchmark.tsv"
    # the splits run in parallel, one per worker process; each runs single-threaded
    # (XGBoost and BLAS, see bloodsig.core.parallel)
    threads: 2
    resources:
        mem_mb=attempt_mem(4000),
        runtime=240,
    conda:
        PYENV
    script:
        "../scripts/survival_splits.py"
