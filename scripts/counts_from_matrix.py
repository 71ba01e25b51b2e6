"""Rule counts_from_matrix: read a supplied count matrix in any accepted form, its optional
annotation and the sample sheet; write them in bloodsig's canonical form."""

from bloodsig.core import cohort
from bloodsig.core.io import write_tsv
from bloodsig.core.script import run


def main(smk):
    counts, genes, samples = cohort.load_count_cohort(
        smk.input.counts, smk.input.samples, smk.params.schema, smk.params.sheet,
        annotation_path=smk.input.get("annotation"), gtf_path=smk.input.get("gtf"),
        geo_annotation_path=smk.input.get("geo_annotation"),
        counts_format=smk.params.counts_format, duplicates=smk.params.duplicate_genes,
        damaged_symbols=smk.params.damaged_symbols,
    )
    write_tsv(counts.reset_index(), smk.output.counts)
    write_tsv(genes.reset_index(), smk.output.genes)
    write_tsv(samples, smk.output.samples)


run(main, snakemake)  # noqa: F821
