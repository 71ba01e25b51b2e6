"""Blood cell composition: true proportions, their noisy measurements, and cell-type profiles.

Whole-blood expression of a cell-type-specific gene is the mixture sum_k p_jk * S_gk of the
cell types' expression S_gk weighted by the sample's proportions p_jk. Cases carry more
neutrophils and fewer lymphocytes, so such genes differ between groups through composition
alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .genes import CELL_TYPES

# Mean proportions (CD8T, CD4T, NK, Bcell, Mono, Neu) in controls and in cases.
CONTROL_MEAN = np.array([0.08, 0.15, 0.05, 0.05, 0.08, 0.59])
CASE_MEAN = np.array([0.055, 0.10, 0.036, 0.032, 0.085, 0.692])
CONCENTRATION = 30.0  # Dirichlet precision: sd of the neutrophil share about 0.09 (as measured)
LYMPHOCYTES = np.array([c in ("CD8T", "CD4T", "NK", "Bcell") for c in CELL_TYPES])
NEUTROPHIL = np.array([c == "Neu" for c in CELL_TYPES])


def sample_proportions(is_case: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """True proportions, shape (n, 6), rows on the simplex (Dirichlet about the group mean)."""
    alpha = np.where(is_case[:, None], CASE_MEAN, CONTROL_MEAN) * CONCENTRATION
    g = rng.gamma(alpha)
    return g / g.sum(axis=1, keepdims=True)


def measure(props: np.ndarray, log_sd: float, rng: np.random.Generator) -> np.ndarray:
    """A noisy estimate of the proportions: log-normal error on each share, renormalised."""
    noisy = props * np.exp(rng.normal(0.0, log_sd, size=props.shape))
    return noisy / noisy.sum(axis=1, keepdims=True)


def proportions_table(sample_ids, props: np.ndarray) -> pd.DataFrame:
    """sample_id + one column per cell type, rounded to 6 decimals."""
    df = pd.DataFrame(np.round(props, 6), columns=list(CELL_TYPES))
    df.insert(0, "sample_id", list(sample_ids))
    return df


def marker_profiles(roles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Relative expression per cell type, shape (n_genes, 6); rows of non-markers are all 1.

    A marker of type k is expressed at 1 in k and at 1-8% of that elsewhere. Rows are scaled
    so that the control-mean mixture is 1, which keeps each gene's baseline abundance the
    same whether or not it is cell-type specific.
    """
    profile = np.ones((len(roles), len(CELL_TYPES)))
    for k, cell in enumerate(CELL_TYPES):
        rows = np.flatnonzero(roles == f"marker:{cell}")
        profile[rows] = rng.uniform(0.01, 0.08, size=(len(rows), len(CELL_TYPES)))
        profile[rows, k] = 1.0
    return profile / (profile @ CONTROL_MEAN)[:, None]


def composition_profiles(n: int, up: bool, rng: np.random.Generator) -> np.ndarray:
    """Profiles of genes that differ between groups only through composition.

    `up`: neutrophil-enriched genes (higher in cases); otherwise lymphocyte-enriched (lower).
    """
    high = NEUTROPHIL if up else LYMPHOCYTES
    profile = np.where(high, 1.0, rng.uniform(0.02, 0.15, size=(n, len(CELL_TYPES))))
    return profile / (profile @ CONTROL_MEAN)[:, None]


def expected_log2fc(profile: np.ndarray) -> np.ndarray:
    """Log2 ratio of the case-mean to the control-mean mixture, one value per profile row."""
    return np.log2((profile @ CASE_MEAN) / (profile @ CONTROL_MEAN))
