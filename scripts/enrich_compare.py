"""Rule enrich_compare: terms gained and lost between two analyses (e.g. cell adjustment)."""

from bloodsig.core.io import read_tsv, write_tsv
from bloodsig.core.script import run
from bloodsig.enrich.ora import compare_terms


def main(smk):
    cols = ["direction", "term", "FDR"]
    before = read_tsv(smk.input.before, required=cols, what="ORA table")
    after = read_tsv(smk.input.after, required=cols, what="ORA table")
    write_tsv(compare_terms(before, after, smk.params.fdr), smk.output.table)


run(main, snakemake)  # noqa: F821
