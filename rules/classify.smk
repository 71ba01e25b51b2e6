# Stage classify: seven classifiers on one split (DeLong CIs and tests), XGBoost RFE panels per
# DEG filter with the kneedle knee, ensemble and union panel, nested-CV honest estimate, saved
# models, a predict rule for any count cohort and validation on the external cohort.
# Every split and CV fold keeps a patient's samples on one side (config samples.patient_column);
# small cohorts get fewer folds (or a refusal) and `reliability` notes in the tables.

CLASSIFY = config.get("classify", {})
CLASSIFY_MODELS = list(CLASSIFY.get("filters", {})) + ["union"]
EXTERNAL = CLASSIFY.get("external_cohort")

if CLASSIFY and CLASSIFY["compare"]["filter"] not in CLASSIFY["filters"]:
    config_error("classify.compare.filter",
                 f"'{CLASSIFY['compare']['filter']}' is not one of classify.filters")
if EXTERNAL and EXTERNAL not in COHORTS:
    config_error("classify.external_cohort", f"'{EXTERNAL}' is not a cohort")


STAGE_TARGETS["classify"] = lambda: expand(
    "results/{cohort}/classify/{name}",
    cohort=DISCOVERY,
    name=["compare/auc.tsv", "compare/grouping.tsv", "compare/roc.png", "panels/panels.tsv", "panels/rfe_curves.png",
          "panels/importance.png", "panels/overlap.png", "nested/summary.tsv"],
) + (expand("results/{cohort}/classify/external/{target}/{name}", cohort=DISCOVERY,
            target=EXTERNAL, name=["metrics.tsv", "roc.png"]) if EXTERNAL else [])

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
        figure=report(
            "results/{cohort}/classify/compare/roc.png",
            caption="../resources/report/classify_compare.rst",
            category="Classifiers",
        ),
    params:
        classify=CLASSIFY,
        sheet=config["samples"],
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
        curve_figure=report(
            "results/{cohort}/classify/panels/rfe_curves.png",
            caption="../resources/report/classify_rfe.rst",
            category="Classifiers",
        ),
        importance=report(
            "results/{cohort}/classify/panels/importance.png",
            caption="../resources/report/classify_importance.rst",
            category="Classifiers",
        ),
        overlap=report(
            "results/{cohort}/classify/panels/overlap.png",
            caption="../resources/report/classify_overlap.rst",
            category="Classifiers",
        ),
    params:
        classify=CLASSIFY,
        sheet=config["samples"],
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
        classify=CLASSIFY,
        sheet=config["samples"],
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
        sheet=config["samples"],
    log:
        "logs/{cohort}/classify/classify_predict_{target}.log",
    benchmark:
        "logs/{cohort}/classify/classify_predict_{target}.benchmark.tsv"
    wildcard_constraints:
        target="|".join(COHORTS),
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
        figure=report(
            "results/{cohort}/classify/external/{target}/roc.png",
            caption="../resources/report/classify_external.rst",
            category="Classifiers",
        ),
    params:
        sheet=config["samples"],
    log:
        "logs/{cohort}/classify/classify_external_{target}.log",
    benchmark:
        "logs/{cohort}/classify/classify_external_{target}.benchmark.tsv"
    wildcard_constraints:
        target="|".join(COHORTS),
    threads: 1
    resources:
        mem_mb=attempt_mem(2000),
        runtime=10,
    conda:
        PYENV
    script:
        "../scripts/classify_external.py"
