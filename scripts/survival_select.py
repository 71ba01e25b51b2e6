"""Rule survival_select: log-rank screen, co-expression hubs, stepwise Cox and XGBoost-Cox."""

from bloodsig.core.cohort import load_annotation
from bloodsig.core.io import write_tsv
from bloodsig.core.script import run
from bloodsig.survival import inputs, selection


def main(smk):
    settings = smk.params.settings
    expr, cases, clin = inputs.read_case_data(smk.input.expression, smk.input.cases,
                                              inputs.CaseSettings.from_config(settings))
    sel = selection.select_genes(expr, clin, cases["time"], cases["event"],
                                 selection.SelectionSettings.from_config(settings),
                                 smk.params.seed, smk.threads)
    genes = load_annotation(smk.input.genes)
    modules, soft_threshold = selection.module_tables(sel)
    write_tsv(inputs.name_genes(sel.logrank, genes), smk.output.logrank)
    write_tsv(inputs.name_genes(modules, genes), smk.output.modules)
    write_tsv(soft_threshold, smk.output.soft_threshold)
    write_tsv(inputs.name_genes(sel.stepwise_trace, genes), smk.output.stepwise)
    write_tsv(sel.xgb_grid, smk.output.xgboost_grid)
    write_tsv(inputs.name_genes(sel.xgb_importance, genes, "feature"),
              smk.output.xgboost_importance)
    write_tsv(inputs.name_genes(selection.selected_genes_table(sel.genes), genes),
              smk.output.selected)


run(main, snakemake)  # noqa: F821
