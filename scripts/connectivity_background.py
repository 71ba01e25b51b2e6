"""Rule connectivity_background: the reference-query |NCS| of every signature, the lookup of
tau (sorted, signature-major)."""

from pathlib import Path

from bloodsig.connectivity import enrichment
from bloodsig.connectivity import queries as connectivity
from bloodsig.connectivity import store as cmapstore
from bloodsig.core.script import run


def main(smk):
    enrichment.set_threads(smk.threads)
    store = cmapstore.open_store(Path(smk.input.store[0]).parent)
    bg = smk.params.background
    queries = connectivity.reference_queries(store, bg["queries"], bg["genes"], smk.params.seed)
    cmapstore.save_background(smk.output.background, connectivity.reference_background(
        store, queries, smk.params.weighted, smk.params.ncs_floor))


run(main, snakemake)  # noqa: F821
