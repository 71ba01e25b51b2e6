"""Rule connectivity_score: every query of a cohort against the signature store (one batch),
per-signature scores, perturbagen summaries, candidates and their drug - target network."""

from pathlib import Path

import numpy as np

from bloodsig.connectivity import enrichment
from bloodsig.connectivity import queries as connectivity
from bloodsig.connectivity import results as outputs
from bloodsig.connectivity import store as cmapstore
from bloodsig.core.io import read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots.connectivity import drug_target_network


def main(smk):
    enrichment.set_threads(smk.threads)
    store = cmapstore.open_store(Path(smk.input.manifest).parent)
    queries = read_tsv(smk.input.queries, required=["query", "direction", "gene_name",
                                                    "gene_id"], what="queries", dtype=str)
    background = np.load(smk.input.background, mmap_mode="r")
    settings = connectivity.ScoringSettings.from_config(smk.params.settings)
    results = connectivity.analyse_queries(store, queries, background, settings,
                                           smk.params.seed)
    for name, tables in results.items():
        outdir = Path(smk.input.queries).parent / name
        write_tsv(outputs.signature_table(store, tables), outdir / "signatures.tsv")
        for table in ("perturbagens", "candidates", "ncs_means"):
            write_tsv(tables[table], outdir / f"{table}.tsv")
        core = set(queries.loc[queries["query"] == name, "gene_name"])
        save_figure(drug_target_network(tables["candidates"], core, f"Candidates: {name}"),
                    outdir / "network.png")


run(main, snakemake)  # noqa: F821
