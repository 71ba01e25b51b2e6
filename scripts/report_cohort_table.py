"""Rule report_cohort_table: Table 1 (cases vs controls) as TSV and HTML."""

from bloodsig.core import cohort_table
from bloodsig.core.cohort import read_samples
from bloodsig.core.io import write_text, write_tsv
from bloodsig.core.script import run


def main(smk):
    sheet = smk.params.sheet
    table = cohort_table.cohort_table(read_samples(smk.input.samples, sheet),
                                      sheet["group_column"], sheet["case"], sheet["control"],
                                      smk.params.variables, path=smk.input.samples)
    write_tsv(table, smk.output.table)
    write_text(cohort_table.to_html(table, sheet["case"], sheet["control"]), smk.output.html)


run(main, snakemake)  # noqa: F821
