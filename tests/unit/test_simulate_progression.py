"""The demo's progression pathway: its genes follow ALSFRS-R among cases (a planted signal for
preranked GSEA of the ALSFRS-R quartile contrast) and are no case-control DEGs."""

from __future__ import annotations

import dataclasses

import numpy as np

from bloodsig.simulate import BATCH_LIBRARY, BATCHES, _streams
from bloodsig.simulate.cohort import (
    PROGRESSION_LOG2FC_PER_SD,
    CohortDesign,
    make_biology,
    simulate_cohort,
)
from bloodsig.simulate.genes import make_genes


def _cohort(progression: bool):
    rng = _streams(5)
    genes = make_genes(3000, rng["genes"])
    bio = make_biology(genes, rng["biology"])
    base = bio.log2_base
    rows = np.flatnonzero((bio.mechanism == "") & (genes["role"] == "background").to_numpy()
                          & (base > 5))[:60]
    if progression:
        bio = dataclasses.replace(bio, progression_rows=rows)
    design = CohortDesign(n_samples=400, case_fraction=0.6, batches=BATCHES,
                          batch_library=BATCH_LIBRARY)
    return simulate_cohort(bio, design, rng["discovery"]), rows


def test_progression_genes_follow_alsfrs_among_cases_only():
    with_, rows = _cohort(True)
    without, _ = _cohort(False)
    # Other genes keep their expected counts (only Poisson noise and the library-size
    # normalisation differ).
    other = np.setdiff1d(np.arange(with_.counts.shape[0]), rows)
    means = [c[other].mean(axis=1) for c in (with_.counts, without.counts)]
    expressed = means[1] > 50
    assert np.abs(np.log2(means[0][expressed] / means[1][expressed])).max() < 0.05
    samples = with_.samples
    cases = (samples["group"] == "ALS").to_numpy()
    # Same gamma draws in both runs: the log ratio of the progression genes' CPM is the planted
    # effect plus Poisson noise.
    cpm = [c[rows] / c.sum(axis=0) for c in (with_.counts, without.counts)]
    # (a count that is 0 in one run only, e.g. a gene that rRNA depletion nearly removes, has
    # no ratio)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log2(cpm[0] / cpm[1])
    shift = np.nanmean(np.where(np.isfinite(ratio), ratio, np.nan), axis=0)
    alsfrs = samples["alsfrs_r"].to_numpy(dtype=float, na_value=np.nan)
    z = (alsfrs[cases] - np.nanmean(alsfrs[cases])) / np.nanstd(alsfrs[cases])
    slope = np.polyfit(z, shift[cases], 1)[0]
    assert abs(slope + PROGRESSION_LOG2FC_PER_SD) < 0.01  # falls as ALSFRS-R rises
    assert np.abs(shift[~cases]).max() < 0.1  # controls untouched (Poisson noise only)
    # no case-control difference on average
    assert abs(shift[cases].mean()) < 0.02
