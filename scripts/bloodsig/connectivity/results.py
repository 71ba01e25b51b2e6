"""A connectivity query's results as files: the per-signature table, one GCTX matrix per score
for a batch, and the combined perturbagen table of a batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .queries import SCORE_COLUMNS
from .store import write_gctx


def signature_table(store, tables: dict, top: int | None = None) -> pd.DataFrame:
    """A query's per-signature table (labels, ES up and down, WTCS, NCS, FDR q, tau) from
    analyse_queries' tables, ordered by NCS (lowest first); with `top`, only the `top`
    lowest and the `top` highest NCS (the strongest reversers and mimickers)."""
    order = tables["order"]
    if top is not None and 2 * top < len(order):
        order = np.concatenate([order[:top], order[len(order) - top:]])
    return tables["scores"].table(store.signatures, order)


def write_score_matrices(store, results: dict[str, dict], folder) -> None:
    """Every query's per-signature scores as one GCTX per score under folder
    (<score>.gctx for SCORE_COLUMNS: signatures x queries, float32, the signatures' sig_id
    with pert_id, pert_name, pert_type and cell_id as row metadata)."""
    info = store.signatures
    meta = {k: info[k].to_numpy() for k in ("pert_id", "pert_name", "pert_type", "cell_id")}
    for score in SCORE_COLUMNS:
        matrix = np.stack([t["scores"].scores[score] for t in results.values()], axis=1)
        write_gctx(Path(folder) / f"{score}.gctx", matrix, info["sig_id"].to_numpy(),
                   list(results), meta)


def combined_table(results: dict[str, dict[str, pd.DataFrame]], compounds: pd.DataFrame
                   ) -> pd.DataFrame:
    """One table of every query's perturbagen summaries, ranked within each query (rank 1:
    the lowest summary NCS, the strongest reverser, as in perturbagens.tsv), with mechanism
    and targets; queries in batch order."""
    parts = []
    for name, tables in results.items():
        part = tables["perturbagens"].copy()
        part.insert(0, "rank", np.arange(1, len(part) + 1))
        part.insert(0, "query", name)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    return table.merge(compounds[["pert_id", "moa", "target"]], on="pert_id", how="left")
