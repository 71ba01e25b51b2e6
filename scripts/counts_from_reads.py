"""Rule counts_from_reads: per-sample featureCounts tables -> the cohort's count matrix, with
the annotation and the validated sample sheet in the same form as counts_from_matrix."""

import pandas as pd

from bloodsig.core import cohort, sheets
from bloodsig.core.io import read_tsv, write_tsv
from bloodsig.core.script import run
from bloodsig.reads import tools


def main(smk):
    genes = cohort.load_annotation(smk.input.genes)
    counts = tools.merge_counts({s: tools.read_featurecounts(p) for s, p in
                                 zip(smk.params.samples, smk.input.counts, strict=True)},
                                genes.index)
    samples = sheets.load_samples(smk.input.samples, smk.params.schema, smk.params.sheet)
    samples = sheets.match_samples(counts, samples, smk.output.counts, smk.input.samples)
    strands = pd.concat([read_tsv(p, what="strandedness") for p in smk.input.strandedness])
    write_tsv(counts.reset_index(), smk.output.counts)
    write_tsv(genes.reset_index(), smk.output.genes)
    write_tsv(samples, smk.output.samples)
    write_tsv(strands, smk.output.strandedness)


run(main, snakemake)  # noqa: F821
