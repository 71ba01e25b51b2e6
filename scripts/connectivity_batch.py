"""Rule connectivity_batch: a clue.io-style batch (GMT of up lists, GMT of down lists) scored
against the store in one pass: results per query and one combined table ranked per query.

Per query: perturbagens.tsv, candidates.tsv, ncs_means.tsv and top_signatures.tsv (the
TOP_SIGNATURES strongest reversing and mimicking signatures). Every signature's scores of every
query are in matrices/<score>.gctx (signatures x queries, float32; CMap's own format, read by
cmapPy and cmapR): a full per-signature TSV per query would be 473k rows and cost several
seconds per query to write, more than scoring it."""

import re
from pathlib import Path

import numpy as np

from bloodsig.connectivity import coregenes, enrichment
from bloodsig.connectivity import queries as connectivity
from bloodsig.connectivity import results as outputs
from bloodsig.connectivity import store as cmapstore
from bloodsig.core.errors import InputError
from bloodsig.core.gmt import read_gmt
from bloodsig.core.io import write_tsv
from bloodsig.core.script import run

TOP_SIGNATURES = 1000  # per direction, in each query's top_signatures.tsv


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
    settings = connectivity.ScoringSettings.from_config(cfg)
    results = connectivity.analyse_queries(store, queries, background, settings,
                                           smk.params.seed)
    out = Path(smk.output.results)
    for name, tables in results.items():
        write_tsv(outputs.signature_table(store, tables, TOP_SIGNATURES),
                  out / folders[name] / "top_signatures.tsv")
        for table in ("perturbagens", "candidates", "ncs_means"):
            write_tsv(tables[table], out / folders[name] / f"{table}.tsv")
    outputs.write_score_matrices(store, results, smk.output.matrices)
    write_tsv(outputs.combined_table(results, store.compounds), smk.output.combined)
    write_tsv(queries, smk.output.queries)


run(main, snakemake)  # noqa: F821
