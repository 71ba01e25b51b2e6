"""qPCR validation of the discovery cohort: Ct values of reference and planted DE genes.

A subset of discovery samples (half cases, half controls) is measured for the two study
reference genes (GAPDH, ACTB) and planted direct DE genes spread over the log2FC range. A Ct is
`base - log2 expression`: each sample has one input-amount offset shared by all its genes
(what the reference genes normalise away), target genes shift by -logFC in cases, and every
well adds technical noise. So the delta-delta-Ct fold change of a target recovers its
planted logFC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REFERENCE_GENES = ("GAPDH", "ACTB")
REFERENCE_CT = (18.0, 17.0)
N_PER_GROUP = 20
N_TARGETS = 6
MIN_ABS_LOGFC = 0.3  # targets: evenly spaced over the logFC range of direct DE genes above this
TARGET_CT_RANGE = (24.0, 30.0)
INPUT_SD = 0.5  # sample-to-sample cDNA input (cycles), shared by a sample's genes
WELL_SD = 0.15  # technical noise of one well (cycles)


def simulate_qpcr(samples: pd.DataFrame, de_genes: pd.DataFrame,
                  rng: np.random.Generator) -> pd.DataFrame:
    """Long Ct table (sample_id, gene, Ct) of N_PER_GROUP cases and controls.

    samples: the discovery sheet (sample_id, group); de_genes: planted truth (gene_name,
    logFC, mechanism); targets are direct genes at evenly spaced ranks of logFC.
    """
    direct = de_genes[(de_genes["mechanism"] == "direct")
                      & (de_genes["logFC"].abs() >= MIN_ABS_LOGFC)]
    ranked = direct.iloc[np.argsort(direct["logFC"].to_numpy(), kind="stable")]
    targets = ranked.iloc[np.unique(np.round(np.linspace(0, len(ranked) - 1, N_TARGETS))
                                    .astype(int))]
    picked = []
    for group in ("ALS", "control"):
        ids = samples.loc[samples["group"] == group, "sample_id"].to_numpy()
        picked.append(rng.choice(ids, N_PER_GROUP, replace=False))
    ids = np.sort(np.concatenate(picked))
    is_case = samples.set_index("sample_id").loc[ids, "group"].to_numpy() == "ALS"
    names = [*REFERENCE_GENES, *targets["gene_name"]]
    base = np.concatenate([REFERENCE_CT, rng.uniform(*TARGET_CT_RANGE, size=len(targets))])
    logfc = np.concatenate([np.zeros(len(REFERENCE_GENES)), targets["logFC"].to_numpy()])
    offset = rng.normal(0.0, INPUT_SD, size=len(ids))
    ct = (base[None, :] - is_case[:, None] * logfc[None, :] + offset[:, None]
          + rng.normal(0.0, WELL_SD, size=(len(ids), len(names))))
    return pd.DataFrame({"sample_id": np.repeat(ids, len(names)),
                         "gene": np.tile(names, len(ids)),
                         "Ct": np.round(ct.ravel(), 3)})


SERIES_GENES = ("IL1B", "IL6")  # the PBMC study's inflammatory qPCR markers
SERIES_MIDPOINT_CT = 24.0  # Ct half-way between the subgroups (the study's threshold)
SERIES_PATIENT_SD = 0.3  # a patient's own level of a gene (cycles), shared by its time points
SERIES_TIMEPOINT_SD = 0.25  # biological change between time points (cycles)
SERIES_INPUT_SD = 0.3  # cDNA input of a time point (cycles), shared by its genes


def simulate_ct_series(points: pd.DataFrame, log2_level: np.ndarray, rng: np.random.Generator,
                       time_column: str) -> pd.DataFrame:
    """Long Ct table (patient_id, time_column, gene, Ct) of a qPCR time course.

    points: one row per time point (patient_id, time_column); log2_level: the planted log2
    expression of SERIES_GENES at each point relative to the level whose Ct is
    SERIES_MIDPOINT_CT (the same for both genes). Reference genes as in `simulate_qpcr`.
    """
    n, m = len(points), len(SERIES_GENES)
    patients, inverse = np.unique(points["patient_id"].to_numpy(), return_inverse=True)
    own = rng.normal(0.0, SERIES_PATIENT_SD, size=(len(patients), m))[inverse]
    level = log2_level[:, None] + own + rng.normal(0.0, SERIES_TIMEPOINT_SD, size=(n, m))
    base = np.array([*REFERENCE_CT, *[SERIES_MIDPOINT_CT] * m])
    expr = np.column_stack([np.zeros((n, len(REFERENCE_GENES))), level])
    offset = rng.normal(0.0, SERIES_INPUT_SD, size=n)
    ct = base[None, :] - expr + offset[:, None] + rng.normal(0.0, WELL_SD, size=expr.shape)
    names = [*REFERENCE_GENES, *SERIES_GENES]
    return pd.DataFrame({"patient_id": np.repeat(points["patient_id"].to_numpy(), len(names)),
                         time_column: np.repeat(points[time_column].to_numpy(), len(names)),
                         "gene": np.tile(names, n), "Ct": np.round(ct.ravel(), 3)})
