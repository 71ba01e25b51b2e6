"""Rule report_html: results/report.html, the study report of every stage that ran."""

import logging

from bloodsig.core.io import read_counts, write_text
from bloodsig.core.script import run
from bloodsig.report.build import report_page
from bloodsig.report.files import Results


def main(smk):
    res = Results(smk.input, smk.params.cohort)
    counts_key = "expression_qc/counts.tsv"
    counts = read_counts(res.path(counts_key)) if res.has(counts_key) else None
    page = report_page(res, smk.params.settings, smk.params.title, counts,
                       smk.params.expression_genes, smk.params.table_rows)
    write_text(page, smk.output[0])
    logging.getLogger("bloodsig").info("report: %d input files, %.1f MB", len(smk.input),
                                       len(page.encode()) / 1e6)


run(main, snakemake)  # noqa: F821
