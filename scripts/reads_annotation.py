"""Rule reads_annotation: the gene annotation (ids, names, types, spans, lengths) of the GTF."""

from bloodsig.core import gtf
from bloodsig.core.io import write_tsv
from bloodsig.core.script import run


def main(smk):
    genes = gtf.gene_annotation(smk.input.gtf, smk.params.attribute, smk.params.feature)
    write_tsv(genes, smk.output[0])


run(main, snakemake)  # noqa: F821
