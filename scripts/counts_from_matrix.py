"""Rule counts_from_matrix: validate a supplied count matrix, annotation and sample sheet."""

from bloodsig import cohort
from bloodsig.io import write_tsv
from bloodsig.script import run


def main(smk):
    counts, genes, samples = cohort.load_count_cohort(
        smk.input.counts, smk.input.annotation, smk.input.samples, smk.params.schema,
        smk.params.sheet,
    )
    write_tsv(counts.reset_index(), smk.output.counts)
    write_tsv(genes.reset_index(), smk.output.genes)
    write_tsv(samples, smk.output.samples)


run(main, snakemake)  # noqa: F821
