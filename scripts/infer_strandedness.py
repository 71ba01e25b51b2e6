"""Rule infer_strandedness: RSeQC-style strandedness of one BAM; warns when config disagrees."""

import logging
import sys

import pandas as pd

from bloodsig.core.io import read_tsv, write_tsv
from bloodsig.core.script import run
from bloodsig.reads import strandedness


def main(smk):
    genes = read_tsv(smk.input.genes, what="gene annotation", dtype={"chromosome": str})
    found = strandedness.infer_experiment(smk.input.bam, genes, smk.params.max_reads,
                                          stranded_threshold=smk.params.stranded_threshold,
                                          unstranded_threshold=smk.params.unstranded_threshold)
    used, warning = strandedness.resolve(smk.params.configured, found, smk.wildcards.sample)
    if warning:
        logging.getLogger("bloodsig").warning("%s", warning)
        print(f"bloodsig: WARNING: {warning}", file=sys.stderr)
    row = {"sample_id": smk.wildcards.sample, **found, "configured": smk.params.configured,
           "used": used}
    write_tsv(pd.DataFrame([row]), smk.output[0])


run(main, snakemake)  # noqa: F821
