"""Rule connectivity_store: a LINCS level-5 release (one or more GCTX files and their
annotation tables, as a preset names them or as configured) into a gene-major store."""

from pathlib import Path

from bloodsig.connectivity import enrichment
from bloodsig.connectivity import release as cmaprelease
from bloodsig.connectivity import store as cmapstore
from bloodsig.core.script import run

GCTX_BYTES_PER_SIGNATURE = 12_328 * 4 * 6  # a LINCS row read, ranked, transposed and written


def main(smk):
    enrichment.set_threads(smk.threads)
    spec = {"release": smk.params.release, "columns": smk.params.columns,
            "annotations": smk.input.annotations or None,
            "files": {k: list(smk.input[k]) for k in ("gctx", "siginfo", "geneinfo",
                                                      "compoundinfo")}}
    siginfo, geneinfo, compounds = cmaprelease.load_tables(spec)
    # Signatures per block from the job's memory (about a third of it), not from the config,
    # so that the block size never makes the store look out of date.
    chunk = max(256, min(16384, smk.resources.mem_mb * 2**20 // 3 // GCTX_BYTES_PER_SIGNATURE))
    cmapstore.build_store(list(smk.input.gctx), siginfo, geneinfo, compounds,
                          Path(smk.output[0]).parent, smk.params.gene_space, chunk)


run(main, snakemake)  # noqa: F821
