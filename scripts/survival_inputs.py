"""Rule survival_inputs: cases with survival data, input genes and their model expression."""

from bloodsig.core.cohort import load_annotation, read_samples
from bloodsig.core.io import read_counts, write_tsv
from bloodsig.core.script import run
from bloodsig.survival import inputs


def main(smk):
    sheet = smk.params.sheet
    settings = inputs.InputSettings.from_config(smk.params.settings, sheet)
    counts = read_counts(smk.input.counts)
    cases = inputs.survival_cases(read_samples(smk.input.samples, sheet), settings,
                                  smk.input.samples)
    external = "ext_counts" in smk.input.keys()
    if external:
        ext_counts = read_counts(smk.input.ext_counts)
        ext_cases = inputs.survival_cases(read_samples(smk.input.ext_samples, sheet), settings,
                                          smk.input.ext_samples)
    report = inputs.input_gene_report(counts[cases.index], load_annotation(smk.input.genes),
                                      ext_counts.index if external else None, settings.filters)
    kept = report.loc[report["kept"], "gene_id"]
    expr = inputs.model_expression(counts, cases, kept, settings)
    if external:
        ext_expr = inputs.model_expression(ext_counts, ext_cases, kept, settings)
        write_tsv(inputs.expression_table(ext_expr), smk.output.ext_expression)
        write_tsv(inputs.cases_table(ext_cases), smk.output.ext_cases)
    write_tsv(report, smk.output.report)
    write_tsv(inputs.expression_table(expr), smk.output.expression)
    write_tsv(inputs.cases_table(cases), smk.output.cases)


run(main, snakemake)  # noqa: F821
