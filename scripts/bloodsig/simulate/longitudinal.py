"""Longitudinal follow-up of the discovery cohort: repeat visits, a therapy and qPCR over time.

What is planted (all drawn from a generator of its own, so every other file of the demo keeps
its draws; the follow-up samples are appended after the cohort's own samples):

* times: every case sample has `days_from_onset` (onset to sampling, from its clinical onset
  age); a later sample of the cohort's own repeated patients is a later visit, VISIT_DAYS on.
  Controls have no onset (missing).
* follow-up visits: N_FOLLOWUP patients (cases sampled once, half of each subgroup, none of
  the sex mislabels) come back FOLLOWUP_VISITS times, VISIT_DAYS apart. A visit shares the
  patient's draws (cell proportions, patient effect e_g,i, survival genes, clinical data) and
  adds a visit effect N(0, VISIT_SD_FRACTION * sd(e_g,i)), so repeat samples are correlated
  within a patient but not identical.
* unstable patients: one patient of each subgroup switches to the other subgroup before its
  last visit (at SWITCH_AT of the way from its middle to its last visit); every other
  patient keeps its subgroup.
* therapy: TREATED[subgroup] stable patients take DRUG over a period around their middle
  visit (TREATMENT_MARGIN_DAYS either side). In inflammatory patients it lowers
  TREATMENT_GENES by TREATMENT_LOG2FC; in non-inflammatory patients it does nothing.
* qPCR over time (`simulate.qpcr.simulate_ct_series`): the follow-up patients at their visits
  and half-way between them, and N_QPCR_ONLY other cases at 3-7 time points; IL1B and IL6 Ct
  sit below 24 at an inflammatory time point and above it otherwise (raised by the therapy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import cells
from .cohort import (
    LIBRARY_TYPES,
    LN2,
    SUBGROUP_UP_LOG2FC,
    SUBGROUPS,
    Biology,
    Cohort,
    CohortDesign,
    draw_counts,
    sample_log_mean,
)
from .qpcr import simulate_ct_series

TIME_COLUMN = "days_from_onset"
N_FOLLOWUP = 10  # patients with follow-up visits, half of each subgroup
FOLLOWUP_VISITS = 2  # visits after the first
VISIT_DAYS = (150, 300)  # days between visits (uniform)
VISIT_SD_FRACTION = 0.5  # visit effect sd, relative to the patient effect's
SWITCH_AT = 0.75  # an unstable patient switches this far from its middle to its last visit
DRUG = "tocilizumab"
TREATED = {"inflammatory": 3, "non_inflammatory": 1}  # stable follow-up patients treated
TREATMENT_MARGIN_DAYS = (30, 60)  # the period starts/ends this many days around the visit
TREATMENT_GENES = ("IL1B", "IL6", "CCL2", "CXCL8", "TNF")
TREATMENT_LOG2FC = -1.5  # in inflammatory patients, during the period
N_QPCR_ONLY = 30  # cases with a qPCR time course and one RNA-seq sample
QPCR_POINTS = (3, 7)  # time points of a qPCR-only patient (inclusive)
QPCR_DAYS = (100, 300)  # days between the time points of a qPCR-only patient


@dataclass(frozen=True)
class FollowUp:
    """The follow-up samples and the longitudinal truth of a cohort."""

    samples: pd.DataFrame  # the follow-up samples' sheet (the cohort's columns + TIME_COLUMN)
    counts: np.ndarray  # genes x follow-up samples
    proportions: np.ndarray  # true cell proportions of the follow-up samples
    subgroup: np.ndarray  # SUBGROUPS name per follow-up sample
    days: np.ndarray  # TIME_COLUMN of the cohort's own samples (NaN for controls)
    visits: pd.DataFrame  # truth: every sample of a case patient with several samples
    patients: pd.DataFrame  # truth: the follow-up patients and what was planted in them
    treatments: pd.DataFrame  # patient_id, drug, start, end (days from onset)
    qpcr: pd.DataFrame  # patient_id, TIME_COLUMN, gene, Ct
    qpcr_truth: pd.DataFrame  # patient_id, n_timepoints, subgroup (most time points)


def _baseline_days(samples: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Days from onset of each sample: its patient's onset-to-sampling delay, later samples of
    a repeated case patient VISIT_DAYS apart (in sample order). NaN for controls."""
    delay = np.round(365.25 * (samples["age"] - samples["onset_age"]).to_numpy(dtype=float))
    days = delay.copy()
    for _, idx in samples.groupby("patient_id", sort=True).indices.items():
        if len(idx) > 1 and np.isfinite(delay[idx[0]]):
            steps = rng.integers(VISIT_DAYS[0], VISIT_DAYS[1] + 1, size=len(idx) - 1)
            days[idx[1:]] = delay[idx[0]] + np.cumsum(steps)
    return days


def _pick_patients(disc: Cohort, pidx: np.ndarray, rng: np.random.Generator) -> dict:
    """Follow-up and qPCR-only patients (indices), from cases sampled once and labelled with
    their true sex; per subgroup, the follow-up patients' roles."""
    once = np.bincount(pidx, minlength=len(disc.patients.is_case))[pidx] == 1
    labelled = disc.samples["sex"].to_numpy() == disc.true_sex
    eligible = np.unique(pidx[once & labelled & disc.patients.is_case[pidx]])
    sub = disc.patients.subgroup
    roles = {}
    for k, name in enumerate(SUBGROUPS):
        chosen = rng.permutation(rng.choice(eligible[sub[eligible] == k], N_FOLLOWUP // 2,
                                            replace=False))
        roles[name] = {"unstable": chosen[:1], "treated": chosen[1:1 + TREATED[name]],
                       "plain": chosen[1 + TREATED[name]:]}
    followup = np.sort(np.concatenate([r for v in roles.values() for r in v.values()]))
    rest = np.setdiff1d(eligible, followup)
    qpcr_only = np.sort(rng.choice(rest, N_QPCR_ONLY, replace=False))
    return {"roles": roles, "followup": followup, "qpcr_only": qpcr_only}


def simulate_followup(bio: Biology, design: CohortDesign, disc: Cohort,
                      rng: np.random.Generator) -> FollowUp:
    """Follow-up visits, therapy periods and the qPCR time course of the cohort `disc`
    (simulated with its `patients` kept; module docstring)."""
    pat = disc.patients
    samples = disc.samples
    prefix = design.patient_prefix
    pidx = samples["patient_id"].str[len(prefix):].astype(int).to_numpy() - 1
    days = _baseline_days(samples, rng)
    picked = _pick_patients(disc, pidx, rng)
    roles = picked["roles"]
    first = {p: int(np.flatnonzero(pidx == p)[0]) for p in picked["followup"]}

    # Visit schedule, switches and therapy periods of the follow-up patients.
    rows, plan = [], []
    for name, kinds in roles.items():
        for kind, members in kinds.items():
            for p in members:
                steps = rng.integers(VISIT_DAYS[0], VISIT_DAYS[1] + 1, size=FOLLOWUP_VISITS)
                visit_days = days[first[p]] + np.concatenate([[0], np.cumsum(steps)])
                switch = (round(visit_days[-2] + SWITCH_AT * (visit_days[-1] - visit_days[-2]))
                          if kind == "unstable" else np.nan)
                middle = visit_days[len(visit_days) // 2]
                margin = rng.integers(TREATMENT_MARGIN_DAYS[0], TREATMENT_MARGIN_DAYS[1] + 1,
                                      size=2)
                period = ((middle - margin[0], middle + margin[1]) if kind == "treated"
                          else (np.nan, np.nan))
                plan.append((p, name, kind, visit_days, switch, period))
    plan.sort(key=lambda r: r[0])

    for p, name, _, visit_days, switch, period in plan:
        k = SUBGROUPS.index(name)
        for v, day in enumerate(visit_days):
            state = 1 - k if day >= switch else k
            treated = period[0] <= day <= period[1]
            effect = TREATMENT_LOG2FC if treated and state == 0 else 0.0
            rows.append((p, v, day, state, treated, effect))
    visits = pd.DataFrame(rows, columns=["p", "visit", "day", "state", "treated", "effect"])
    new = visits[visits["visit"] > 0].reset_index(drop=True)

    # The follow-up samples: the patients' draws, a new composition measurement, batch and
    # library, a visit effect, the subgroup at that time and the therapy.
    n_new = len(new)
    fp = new["p"].to_numpy()
    props = cells.measure(pat.proportions[fp], 0.05, rng)
    batch_idx = rng.integers(0, len(design.batches), size=n_new)
    lib_idx = np.array([LIBRARY_TYPES.index(design.batch_library[b]) for b in batch_idx])
    if len(set(design.batch_library)) > 1:
        lib_idx = np.where(rng.random(n_new) < design.other_prep_fraction, 1 - lib_idx, lib_idx)
    lib_size = design.median_library_size * np.exp(rng.normal(0, 0.3, n_new))
    globin = rng.normal(0, 0.35, n_new)
    all_rows = np.arange(len(bio.genes))
    log_mu = sample_log_mean(bio, all_rows, pat, fp, props, new["state"].to_numpy(), lib_idx,
                             batch_idx, globin)
    log_mu += (rng.normal(0, 1, log_mu.shape)
               * (VISIT_SD_FRACTION * 0.85 * bio.bcv)[:, None])
    target = bio.genes["gene_name"].isin(TREATMENT_GENES).to_numpy()
    log_mu[target] += LN2 * new["effect"].to_numpy()[None, :]
    counts = draw_counts(bio, all_rows, log_mu, lib_size, rng)

    width = design.id_width
    n_old = len(samples)
    sheet = samples.iloc[[first[p] for p in fp]].reset_index(drop=True).copy()
    sheet["sample_id"] = [f"{design.sample_prefix}{n_old + i + 1:0{width}d}"
                          for i in range(n_new)]
    sheet["sex"] = np.where(pat.male[fp], "male", "female")
    sheet["batch"] = np.array(design.batches)[batch_idx]
    sheet["library_type"] = np.array(LIBRARY_TYPES)[lib_idx]
    sheet[TIME_COLUMN] = new["day"].to_numpy()

    # Truth: every sample of a case patient with several samples, in time order.
    sample_of = {(p, 0): samples["sample_id"].iloc[first[p]] for p in first}
    sample_of.update({(p, v): s for p, v, s in zip(fp, new["visit"], sheet["sample_id"],
                                                   strict=True)})
    treated_truth = visits.assign(
        sample_id=[sample_of[(p, v)] for p, v in zip(visits["p"], visits["visit"],
                                                     strict=True)])
    repeated = pd.DataFrame({"p": pidx, "visit": samples.groupby("patient_id").cumcount(),
                             "day": days, "state": pat.subgroup[pidx], "treated": False,
                             "effect": 0.0, "sample_id": samples["sample_id"]})
    repeated = repeated[(np.bincount(pidx)[pidx] > 1) & pat.is_case[pidx]]
    unstable = {p for p, _, kind, *_ in plan if kind == "unstable"}
    truth = pd.concat([repeated, treated_truth]).sort_values(["p", "day"], kind="stable")
    visits_table = pd.DataFrame({
        "sample_id": truth["sample_id"].to_numpy(),
        "patient_id": [f"{prefix}{p + 1:0{width}d}" for p in truth["p"]],
        TIME_COLUMN: truth["day"].astype(np.int64).to_numpy(),
        "visit": truth["visit"].to_numpy(),
        "subgroup": np.array(SUBGROUPS)[truth["state"].to_numpy()],
        "treatment": np.where(truth["treated"], DRUG, ""),
        "treatment_log2fc": truth["effect"].to_numpy(),
        "unstable": truth["p"].isin(unstable).to_numpy()})
    patients = pd.DataFrame({
        "patient_id": [f"{prefix}{p + 1:0{width}d}" for p, *_ in plan],
        "subgroup": [name for _, name, *_ in plan],
        "role": [kind for _, _, kind, *_ in plan],
        "unstable": [kind == "unstable" for _, _, kind, *_ in plan],
        "switch_day": pd.array([s for *_, s, _ in plan], dtype="Float64").astype("Int64"),
        "drug": [DRUG if kind == "treated" else "" for _, _, kind, *_ in plan]})
    treatments = pd.DataFrame(
        [(f"{prefix}{p + 1:0{width}d}", DRUG, int(period[0]), int(period[1]))
         for p, _, kind, _, _, period in plan if kind == "treated"],
        columns=["patient_id", "drug", "start", "end"])
    qpcr, qpcr_truth = _qpcr_course(bio, plan, picked["qpcr_only"], pidx, days, pat, prefix,
                                    width, rng)
    return FollowUp(samples=sheet, counts=counts, proportions=props,
                    subgroup=np.array(SUBGROUPS)[new["state"].to_numpy()], days=days,
                    visits=visits_table, patients=patients, treatments=treatments, qpcr=qpcr,
                    qpcr_truth=qpcr_truth)


def _qpcr_course(bio, plan, qpcr_only, pidx, days, pat, prefix, width, rng):
    """Time points (patient, day, subgroup state, therapy effect) and their Ct values."""
    points = []
    for p, name, _, visit_days, switch, period in plan:
        mids = (visit_days[:-1] + visit_days[1:]) // 2
        for day in np.sort(np.concatenate([visit_days, mids])):
            k = SUBGROUPS.index(name)
            state = 1 - k if day >= switch else k
            treated = period[0] <= day <= period[1]
            points.append((p, int(day), state, TREATMENT_LOG2FC if treated and state == 0
                           else 0.0))
    for p in qpcr_only:
        n = int(rng.integers(QPCR_POINTS[0], QPCR_POINTS[1] + 1))
        start = days[int(np.flatnonzero(pidx == p)[0])]
        steps = rng.integers(QPCR_DAYS[0], QPCR_DAYS[1] + 1, size=n - 1)
        for day in start + np.concatenate([[0], np.cumsum(steps)]):
            points.append((p, int(day), int(pat.subgroup[p]), 0.0))
    points = pd.DataFrame(points, columns=["p", "day", "state", "effect"]).sort_values(
        ["p", "day"], kind="stable").reset_index(drop=True)
    # log2 level of IL1B/IL6 relative to the half-way point between the subgroups: the module
    # is up by SUBGROUP_UP_LOG2FC in inflammatory patients and down (the cases' mean kept at
    # the controls') in the others; the therapy lowers it.
    other = -SUBGROUP_UP_LOG2FC * pat.own_fraction[0] / (1 - pat.own_fraction[0])
    mid = (SUBGROUP_UP_LOG2FC + other) / 2
    level = np.where(points["state"] == 0, SUBGROUP_UP_LOG2FC, other) - mid + points["effect"]
    ids = [f"{prefix}{p + 1:0{width}d}" for p in points["p"]]
    ct = simulate_ct_series(pd.DataFrame({"patient_id": ids, TIME_COLUMN: points["day"]}),
                            level.to_numpy(), rng, TIME_COLUMN)
    majority = points.assign(patient_id=ids).groupby("patient_id").agg(
        n_timepoints=("state", "size"), inflammatory=("state", lambda s: (s == 0).mean()))
    majority["subgroup"] = np.where(majority["inflammatory"] > 0.5, SUBGROUPS[0], SUBGROUPS[1])
    return ct, majority.drop(columns="inflammatory").reset_index()
