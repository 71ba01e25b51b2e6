"""Rule classify_panels: XGBoost RFE per DEG filter (folds by patient), kneedle panels, union,
saved models."""

from bloodsig.classify import models as classify
from bloodsig.classify import panel_selection
from bloodsig.classify.features import CaseControl
from bloodsig.core.cohort import load_annotation, read_samples
from bloodsig.core.io import save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots import classify as plots


def main(smk):
    cfg, seed = classify.ClassifySettings.from_config(smk.params.classify), smk.params.seed
    data = classify.read_training_data(
        smk.input.toptable, smk.input.residuals, read_samples(smk.input.samples, smk.params.sheet),
        CaseControl.from_config(smk.params.sheet), cfg.filters, smk.input.samples)
    X, y = data.X, data.y
    names = load_annotation(smk.input.genes)["gene_name"]
    panels = panel_selection.select_panels(X, y, data.sets, cfg.rfe, cfg.xgboost, seed,
                                           smk.threads, data.groups)
    models = panel_selection.fit_panel_models(X, y, panels.genes, cfg.xgboost, seed, smk.threads)
    optimistic = panel_selection.panel_cv_auc(X, y, panels.genes, cfg.xgboost, cfg.rfe.cv_folds,
                                              seed, smk.threads, data.groups)
    curves, ranking, table = classify.panel_tables(panels, models, names)
    write_tsv(curves, smk.output.curves)
    write_tsv(ranking, smk.output.ranking)
    write_tsv(table, smk.output.panels)
    write_tsv(optimistic, smk.output.performance)
    for path in smk.output.models:
        classify.save_model(models[path.rsplit("/", 1)[1].removesuffix(".json")], path)
    write_tsv(table.rename(columns={"panel": "model", "rank": "position"})
              .drop(columns="importance"), smk.output.model_genes)
    classify.write_preprocessing(classify.preprocessing(cfg.external, cfg.xgboost, seed,
                                                        list(cfg.filters)),
                                 smk.output.preprocessing)
    save_figure(plots.rfe_curves(curves, panels.knees, cfg.rfe.knee_max_genes),
                smk.output.curve_figure)
    save_figure(plots.panel_importance(table), smk.output.importance)
    save_figure(plots.panel_overlap({k: v for k, v in panels.genes.items()
                                     if k != panel_selection.UNION}, names), smk.output.overlap)


run(main, snakemake)  # noqa: F821
