"""Rule connectivity_batch: a clue.io-style batch (GMT of up lists, GMT of down lists) scored
against the store in one pass: results per query and one combined table ranked per query."""

import re
from pathlib import Path

import numpy as np

from bloodsig.connectivity import coregenes, enrichment
from bloodsig.connectivity import queries as connectivity
from bloodsig.connectivity import store as cmapstore
from bloodsig.core.errors import InputError
from bloodsig.core.gmt import read_gmt
from bloodsig.core.io import write_tsv
from bloodsig.core.script import run


def main(smk):
    enrichment.set_threads(smk.threads)
    cfg = smk.params.settings
    store = cmapstore.open_store(Path(smk.input.manifest).parent)
    up, _ = read_gmt(smk.input.up)
    down, _ = read_gmt(smk.input.down)
    queries = coregenes.queries_from_gmt(up, down, store.genes, cfg["min_query_genes"],
                                         cfg["max_query_genes"], smk.input.up, smk.input.down)
    folders = {q: re.sub(r"[^A-Za-z0-9._-]", "_", q) for q in queries["query"].unique()}
    if len(set(folders.values())) < len(folders):
        raise InputError("two query names differ only in characters that are not letters, "
                         "digits, '.', '_' or '-' (their result folders would collide)",
                         path=smk.input.up)
    background = np.load(smk.input.background, mmap_mode="r")
    results = connectivity.analyse_queries(store, queries, background, cfg, smk.params.seed)
    out = Path(smk.output.results)
    for name, tables in results.items():
        for table in ("signatures", "perturbagens", "candidates", "ncs_means"):
            write_tsv(tables[table], out / folders[name] / f"{table}.tsv")
    write_tsv(connectivity.combined_table(results, store.compounds), smk.output.combined)
    write_tsv(queries, smk.output.queries)


run(main, snakemake)  # noqa: F821
