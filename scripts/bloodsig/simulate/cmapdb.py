"""A small LINCS level-5-like drug-signature database in the GCTX layout.

Signatures are moderated z-scores over about 1,000 genes that include the planted DEGs. A few
compounds reverse the planted disease signature (z opposite in sign to the planted logFC),
a couple mimic it, the rest are null (noise plus a compound-specific pattern shared by that
compound's signatures, as replicate signatures of one compound resemble each other).
The HDF5 layout follows cmapPy's GCTX writer: /0/DATA/0/matrix is (n_signatures, n_genes),
/0/META/ROW holds the genes (rows of the GCT), /0/META/COL the signatures.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from ..core.io import atomic_path
from .cohort import Biology

N_GENES = 1000
MAX_PLANTED_GENES = 800
N_SIGNATURES = 200
N_COMPOUNDS = 60
N_REVERSING = 4
N_MIMICKING = 2
SIGNATURES_PER_PLANTED = 4
CELL_LINES = ("A375", "A549", "HA1E", "HCC515", "HEPG2", "HT29", "MCF7", "PC3", "VCAP", "NPC")
DOSES = ("0.37 uM", "1.11 uM", "3.33 uM", "10 uM")
TIMES = ("6 h", "24 h")
_SYLLABLES = ("al", "be", "ca", "do", "fe", "ga", "li", "mo", "na", "pa", "ri", "so", "ta", "vo",
              "xa", "ze", "cor", "dar", "fen", "lor", "mir", "ner", "tor", "val")
_MIDDLES = ("ti", "ra", "lo", "me", "ni", "ve", "zo", "ca", "")
_SUFFIX_MOA = {
    "nib": "kinase inhibitor", "pril": "ACE inhibitor",
    "sartan": "angiotensin receptor antagonist", "olol": "adrenergic receptor antagonist",
    "statin": "HMGCR inhibitor", "azole": "sterol demethylase inhibitor",
    "oxacin": "topoisomerase inhibitor", "parin": "factor Xa inhibitor",
    "dronate": "bone resorption inhibitor", "semide": "sodium/potassium/chloride transporter "
    "inhibitor", "triptan": "serotonin receptor agonist", "vir": "viral polymerase inhibitor",
    "zepam": "benzodiazepine receptor agonist", "profen": "cyclooxygenase inhibitor",
    "dipine": "calcium channel blocker", "lukast": "leukotriene receptor antagonist",
}


def _compound_names(n: int, rng: np.random.Generator) -> list[str]:
    names: list[str] = []
    suffixes = list(_SUFFIX_MOA)
    while len(names) < n:
        name = (str(rng.choice(_SYLLABLES)) + str(rng.choice(_MIDDLES))
                + str(rng.choice(suffixes)))
        if name not in names:
            names.append(name)
    return names


def make_cmap(bio: Biology, rng: np.random.Generator) -> dict[str, object]:
    """Build the database: matrix (n_signatures, n_genes) float32, gene ids, signature ids and
    the siginfo, geneinfo, compoundinfo and truth tables."""
    genes = bio.genes
    planted = np.flatnonzero(bio.mechanism != "")
    planted = planted[np.argsort(-np.abs(bio.planted_log2fc[planted]), kind="stable")]
    planted = planted[:MAX_PLANTED_GENES]
    rest = np.setdiff1d(np.flatnonzero(genes["gene_type"].to_numpy() == "protein_coding"),
                        planted)
    rows = np.sort(np.concatenate([planted, rng.choice(rest, N_GENES - len(planted),
                                                       replace=False)]))
    geneinfo = pd.DataFrame({
        "gene_id": genes["entrez_id"].to_numpy()[rows],
        "gene_symbol": genes["gene_name"].to_numpy()[rows],
        "feature_space": rng.choice(["landmark", "best inferred", "inferred"], len(rows),
                                    p=[0.3, 0.45, 0.25]),
    })

    names = _compound_names(N_COMPOUNDS, rng)
    roles = (["reversing"] * N_REVERSING + ["mimicking"] * N_MIMICKING
             + ["null"] * (N_COMPOUNDS - N_REVERSING - N_MIMICKING))
    pert_ids = [f"BRD-K{i:08d}" for i in rng.choice(10**8, N_COMPOUNDS, replace=False)]
    suffix = [next(s for s in _SUFFIX_MOA if n.endswith(s)) for n in names]
    coding = genes["gene_name"].to_numpy()[rest]
    compoundinfo = pd.DataFrame({
        "pert_id": pert_ids, "pert_iname": names, "moa": [_SUFFIX_MOA[s] for s in suffix],
        "target": ["|".join(rng.choice(coding, int(rng.integers(1, 4)), replace=False))
                   for _ in names]})

    # Each planted compound has SIGNATURES_PER_PLANTED signatures, each null one at least two.
    n_planted = N_REVERSING + N_MIMICKING
    n_null = N_COMPOUNDS - n_planted
    compound = np.concatenate([
        np.repeat(np.arange(n_planted), SIGNATURES_PER_PLANTED),
        np.repeat(np.arange(n_planted, N_COMPOUNDS), 2),
        rng.integers(n_planted, N_COMPOUNDS, N_SIGNATURES - n_planted * SIGNATURES_PER_PLANTED
                     - 2 * n_null)])
    compound = np.sort(compound)
    n_sig = len(compound)
    cell = rng.choice(CELL_LINES, n_sig)
    dose = rng.choice(DOSES, n_sig)
    time = rng.choice(TIMES, n_sig)
    plate = rng.integers(1, 20, n_sig)
    sig_ids = [f"CPC{p:03d}_{c}_{t.split()[0]}H:{pert_ids[k]}:{d.split()[0]}"
               for p, c, t, k, d in zip(plate, cell, time, compound, dose, strict=True)]
    siginfo = pd.DataFrame({"sig_id": sig_ids, "pert_id": np.array(pert_ids)[compound],
                            "pert_iname": np.array(names)[compound], "pert_type": "trt_cp",
                            "cell_id": cell, "pert_idose": dose, "pert_itime": time})

    # z-scores: noise + compound pattern; planted compounds add +-k * standardised logFC.
    lfc = np.zeros(len(rows))
    in_planted = np.isin(rows, planted)
    lfc[in_planted] = bio.planted_log2fc[rows[in_planted]]
    disease = lfc / lfc[in_planted].std()
    pattern = rng.normal(0, 0.6, (N_COMPOUNDS, len(rows)))
    matrix = rng.normal(0, 0.8, (n_sig, len(rows))) + pattern[compound]
    sign = np.array([{"reversing": -1.0, "mimicking": 1.0, "null": 0.0}[r] for r in roles])
    strength = rng.uniform(1.5, 3.0, n_sig) * sign[compound]
    matrix += strength[:, None] * disease[None, :]
    truth = pd.DataFrame({"pert_iname": names, "role": roles})
    return {"matrix": matrix.astype(np.float32), "siginfo": siginfo, "geneinfo": geneinfo,
            "compoundinfo": compoundinfo, "truth": truth}


def write_gctx(path, matrix: np.ndarray, row_ids, col_ids, col_meta: pd.DataFrame | None = None,
               row_meta: pd.DataFrame | None = None) -> None:
    """Write a GCTX file (HDF5, cmapPy layout) atomically and byte-reproducibly.

    matrix: (n_cols, n_rows) as stored, i.e. one HDF5 row per signature (GCT column).
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.shape != (len(col_ids), len(row_ids)):
        raise ValueError(f"matrix shape {matrix.shape} != (n_cols, n_rows) = "
                         f"({len(col_ids)}, {len(row_ids)})")

    def put(group, name, values):
        data = np.array([str(v).encode() for v in values])
        group.create_dataset(name, data=data, track_times=False)

    with atomic_path(Path(path), suffix=".gctx") as tmp, h5py.File(tmp, "w", track_order=False) \
            as f:
        f.attrs["version"] = np.array([b"GCTX1.0"])
        f.create_dataset("0/DATA/0/matrix", data=matrix, track_times=False)
        for name, ids, meta in (("ROW", row_ids, row_meta), ("COL", col_ids, col_meta)):
            group = f.require_group(f"0/META/{name}")
            put(group, "id", ids)
            for column in [] if meta is None else meta.columns:
                put(group, column, meta[column])
