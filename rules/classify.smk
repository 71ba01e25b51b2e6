# Stage classify: seven classifiers on one split (DeLong CIs and tests), XGBoost RFE panels per
# DEG filter with the kneedle knee, ensemble and union panel, nested-CV honest estimate, saved
# models, a predict rule for any count cohort and validation on the external cohort.
# Every split and CV fold keeps a patient's samples on one side (config samples.patient_column);
# small cohorts get fewer folds (or a refusal) and `reliability` notes in the tables.

CLASSIFY_MODELS = list(CLASSIFY.get("filters", {})) + ["union"]

if "classify" in config and CLASSIFY["compare"]["filter"] not in CLASSIFY["filters"]:
    config_error("classify.compare.filter",
                 f"'{CLASSIFY['compare']['filter']}' is not one of classify.filters")
if CLASSIFY_EXTERNAL and CLASSIFY_EXTERNAL not in COHORTS:
    config_error("classify.external_cohort", f"'{CLASSIFY_EXTERNAL}' is not a cohort")


STAGE_TARGETS["classify"] = lambda: expand(
    "results/{cohort}/classify/{name}",
    cohort=DISCOVERY,
    name=["compare/auc.tsv", "compare/grouping.tsv", "compare/roc.png", "panels/panels.tsv", "panels/rfe_curves.png",
          "panels/importance.png", "panels/overlap.png", "nested/summary.tsv"],
) + (expand("results/{cohort}/classify/external/{target}/{name}", cohort=DISCOVERY,
            target=CLASSIFY_EXTERNAL, name=["metrics.tsv", "roc.png"]) if CLASSIFY_EXTERNAL else [])

# The DE analysis whose top table and residual expression the stage uses.
CLASSIFY_INPUTS = {
    "toptable": lambda wc: f"results/{wc.cohort}/de/{CLASSIFY['analysis']}/toptable.tsv",
    "residuals": lambda wc: f"results/{wc.cohort}/de/{CLASSIFY['analysis']}/residuals.tsv",
    "samples": "results/{cohort}/expression_qc/samples.tsv",
    "genes": "results/{cohort}/counts/genes.tsv",
}


rule classify_compare:
    input:
        **CLASSIFY_INPUTS,
    output:
        auc="results/{cohort}/classify/compare/auc.tsv",
        grouping="results/{cohort}/classify/compare/grouping.tsv",
        roc="results/{cohort}/classify/compare/roc.tsv",
        scores="results/{cohort}/classify/compare/test_scores.tsv",
        figure=figure("results/{cohort}/classify/compare/roc.png",
                      "classify_compare", "Classifiers"),
    params:
        classify=settings("classify", "filters", "compare", "xgboost"),
        sheet=SHEET,
        seed=config["seed"],
    log:
        "logs/{cohort}/classify/classify_compare.log",
    benchmark:
        "logs/{cohort}/classify/classify_compare.benchmark.tsv"
    threads: 2
    resources:
        mem_mb=attempt_mem(6000),
        runtime=60,
    conda:
        PYENV
    script:
        "../scripts/classify_compare.py"


rule classify_panels:
    input:
        **CLASSIFY_INPUTS,
    output:
        curves="results/{cohort}/classify/panels/rfe_curves.tsv",
        ranking="results/{cohort}/classify/panels/rfe_ranking.tsv",
        panels="results/{cohort}/classify/panels/panels.tsv",
        performance="results/{cohort}/classify/panels/performance.tsv",
        models=expand("results/{{cohort}}/classify/models/{model}.json", model=CLASSIFY_MODELS),
        model_genes="results/{cohort}/classify/models/genes.tsv",
        preprocessing="results/{cohort}/classify/models/preprocessing.json",
        curve_figure=figure("results/{cohort}/classify/panels/rfe_curves.png",
                            "classify_rfe", "Classifiers"),
        importance=figure("results/{cohort}/classify/panels/importance.png",
                          "classify_importance", "Classifiers"),
        overlap=figure("results/{cohort}/classify/panels/overlap.png",
                       "classify_overlap", "Classifiers"),
    params:
        classify=settings("classify", "filters", "xgboost", "rfe", "external"),
        sheet=SHEET,
        seed=config["seed"],
    log:
        "logs/{cohort}/classify/classify_panels.log",
    benchmark:
        "logs/{cohort}/classify/classify_panels.benchmark.tsv"
    threads: 2
    resources:
        mem_mb=attempt_mem(6000),
        runtime=120,
    conda:
        PYENV
    script:
        "../scripts/classify_panels.py"


rule classify_nested:
    input:
        **CLASSIFY_INPUTS,
        performance="results/{cohort}/classify/panels/performance.tsv",
    output:
        folds="results/{cohort}/classify/nested/folds.tsv",
        oof="results/{cohort}/classify/nested/out_of_fold.tsv",
        summary="results/{cohort}/classify/nested/summary.tsv",
    params:
        classify=settings("classify", "filters", "nested", "rfe", "xgboost"),
        sheet=SHEET,
        seed=config["seed"],
    log:
        "logs/{cohort}/classify/classify_nested.log",
    benchmark:
        "logs/{cohort}/classify/classify_nested.benchmark.tsv"
    threads: 2
    resources:
        mem_mb=attempt_mem(6000),
        runtime=360,
    conda:
        PYENV
    script:
        "../scripts/classify_nested.py"


rule classify_predict:
    input:
        **CLASSIFY_INPUTS,
        models=expand("results/{{cohort}}/classify/models/{model}.json", model=CLASSIFY_MODELS),
        model_genes="results/{cohort}/classify/models/genes.tsv",
        preprocessing="results/{cohort}/classify/models/preprocessing.json",
        target_counts="results/{target}/counts/counts.tsv",
        target_samples="results/{target}/counts/samples.tsv",
    output:
        predictions="results/{cohort}/classify/predict/{target}/predictions.tsv",
        missing="results/{cohort}/classify/predict/{target}/missing_genes.tsv",
    params:
        sheet=SHEET,
    log:
        "logs/{cohort}/classify/classify_predict_{target}.log",
    benchmark:
        "logs/{cohort}/classify/classify_predict_{target}.benchmark.tsv"
    wildcard_constraints:
        target=one_of(COHORTS),
    threads: 2
    resources:
        mem_mb=attempt_mem(4000),
        runtime=20,
    conda:
        PYENV
    script:
        "../scripts/classify_predict.py"


rule classify_external:
    input:
        predictions="results/{cohort}/classify/predict/{target}/predictions.tsv",
        samples="results/{target}/counts/samples.tsv",
        training_samples="results/{cohort}/expression_qc/samples.tsv",
        model_genes="results/{cohort}/classify/models/genes.tsv",
        preprocessing="results/{cohort}/classify/models/preprocessing.json",
    output:
        metrics="results/{cohort}/classify/external/{target}/metrics.tsv",
        roc="results/{cohort}/classify/external/{target}/roc.tsv",
        figure=figure("results/{cohort}/classify/external/{target}/roc.png",
                      "classify_external", "Classifiers"),
    params:
        sheet=SHEET,
    log:
        "logs/{cohort}/classify/classify_external_{target}.log",
    benchmark:
        "logs/{cohort}/classify/classify_external_{target}.benchmark.tsv"
    wildcard_constraints:
        target=one_of(COHORTS),
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/classify_external.py"
