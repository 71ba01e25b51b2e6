"""Longitudinal follow-up of patients sampled more than once (PBMC sALS study, Figure 5).

The PBMC study followed patients for years: follow-up RNA-seq of some, cytokine qPCR of others
over 100-1,400 days from onset, with tocilizumab periods. Here:

1. `sample_times`: each sample's patient and time (the sheet's time column: days from onset
   or from a baseline visit); `series_patients`: the patients with several timed samples;
2. `read_treatments` / `treatments_at`: therapy periods (patient, drug, start, end; an empty
   end is ongoing) and the drugs each sample was drawn under (start <= time <= end);
3. `signature_trajectories` / `marker_values`: what is drawn over time per patient: the
   immune-signature score of each cluster (mean z-score of the signatures that label it) and
   marker genes' log2-CPM (edgeR cpm after TMM);
4. `stability`: each patient's clusters in time order and whether its subgroup is stable;
5. `treatment_effects`: per treated patient, drug and marker, the mean during the drug's
   periods minus the mean outside them (a within-patient contrast);
6. `qpcr_agreement`: the qPCR subgroups (`bloodsig.de.qpcr.subgroup_calls`) against the RNA-seq
   clusters; the cluster called "inflammatory" is the one whose samples express the qPCR
   genes most (mean log2-CPM), so the comparison does not borrow the qPCR calls themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.configcheck import FromConfig
from ..core.errors import InputError
from ..stats.normalize import calc_norm_factors, cpm

log = logging.getLogger(__name__)

INFLAMMATORY, NON_INFLAMMATORY = "inflammatory", "non_inflammatory"
TRAJECTORY_COLUMNS = ["patient_id", "sample_id", "time", "treatment", "cluster", "kind",
                      "feature", "value"]


# The follow-up's settings, each made by `from_config` from config
# `subtypes.longitudinal` as the schema fills it (the defaults live there only).
@dataclass(frozen=True)
class LongitudinalSettings(FromConfig):
    """Trajectories, stability and treatment effects."""
    min_samples: int  # a patient's timed samples needed (`series_patients`, `stability`)
    markers: list[str]  # genes drawn over time
    reference_genes: list[str] | None  # of the qPCR time course drawn beside (None: none)


@dataclass(frozen=True)
class QpcrSettings(FromConfig):
    """qPCR subgroups over time (`subtypes.longitudinal.qpcr`; `qpcr.subgroup_calls`)."""
    genes: list[str]  # a time point is high when each of these genes has Ct < max_ct
    max_ct: float
    min_fraction: float  # a patient is inflammatory with more than this share high


def sample_times(samples: pd.DataFrame, patient_column: str, time_column: str,
                 path=None) -> pd.DataFrame:
    """sample id -> patient_id, time (float; NaN where the sheet leaves it empty).

    An empty frame (with a warning) when the sheet has no `time_column`: no longitudinal view.
    A value that is not a number raises InputError naming the row and column.
    """
    if time_column not in samples.columns:
        log.warning("the sample sheet has no column '%s': no longitudinal view", time_column)
        return pd.DataFrame({"patient_id": pd.Series(dtype=str),
                             "time": pd.Series(dtype=float)})
    raw = samples[time_column]
    time = pd.to_numeric(raw, errors="coerce")
    bad = time.isna() & raw.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"time '{raw.iloc[i]}' is not a number", path=path, row=i + 2,
                         column=time_column)
    patients = (samples[patient_column].astype(str) if patient_column in samples.columns
                else pd.Series(samples.index.astype(str), index=samples.index))
    return pd.DataFrame({"patient_id": patients.to_numpy(), "time": time.to_numpy(float)},
                        index=samples.index.rename(None))


def series_patients(times: pd.DataFrame, min_samples: int = 2) -> list[str]:
    """Patients with at least `min_samples` samples that have a time, sorted."""
    n = times.dropna(subset=["time"]).groupby("patient_id").size()
    return sorted(n.index[n >= min_samples])


def read_treatments(path, patient_column: str = "patient_id") -> pd.DataFrame:
    """Therapy periods: patient_column, drug, start, end (in the sample sheet's time unit; an
    empty end means ongoing). Returned as patient_id, drug, start, end (end inf if ongoing)."""
    from ..core.io import read_tsv

    df = read_tsv(path, required=[patient_column, "drug", "start", "end"], what="treatments",
                  dtype={patient_column: str, "drug": str})
    start = pd.to_numeric(df["start"], errors="coerce")
    end = pd.to_numeric(df["end"], errors="coerce")
    for name, values in (("start", start), ("end", end)):
        bad = values.isna() & (df[name].notna() if name == "end" else True)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{name} '{df[name].iloc[i]}' is not a number", path=path,
                             row=i + 2, column=name)
    end = end.fillna(np.inf)
    if (end < start).any():
        i = int(np.flatnonzero((end < start).to_numpy())[0])
        raise InputError(f"the period ends ({end.iloc[i]:g}) before it starts "
                         f"({start.iloc[i]:g})", path=path, row=i + 2, column="end")
    if df["drug"].isna().any():
        i = int(np.flatnonzero(df["drug"].isna().to_numpy())[0])
        raise InputError("the drug is empty", path=path, row=i + 2, column="drug")
    return pd.DataFrame({"patient_id": df[patient_column].to_numpy(),
                         "drug": df["drug"].to_numpy(), "start": start.to_numpy(float),
                         "end": end.to_numpy(float)})


def no_treatments() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": pd.Series(dtype=str), "drug": pd.Series(dtype=str),
                         "start": pd.Series(dtype=float), "end": pd.Series(dtype=float)})


def treatments_at(patients: pd.Series, times: pd.Series, treatments: pd.DataFrame
                  ) -> pd.Series:
    """The drugs ("+"-joined, sorted; "" for none) whose period covers each time point of a
    patient; `patients` and `times` share an index."""
    out = pd.Series("", index=patients.index, dtype=object)
    for idx in patients.index:
        rows = treatments[(treatments["patient_id"] == patients[idx])
                          & (treatments["start"] <= times[idx])
                          & (times[idx] <= treatments["end"])]
        out[idx] = "+".join(sorted(set(rows["drug"])))
    return out


def log_cpm(counts: pd.DataFrame) -> pd.DataFrame:
    """log2-CPM after TMM (edgeR cpm(log = TRUE, prior.count = 2)), genes x samples."""
    return cpm(counts, norm_factors=calc_norm_factors(counts), log=True)


def cluster_signatures(described: pd.DataFrame) -> dict[str, list[str]]:
    """cluster -> the signatures of its label (clusters labelled "none" are left out)."""
    return {c: lab.split("+") for c, lab in zip(described["cluster"], described["label"],
                                                strict=True) if lab != "none"}


def signature_trajectories(zscores: pd.DataFrame, described: pd.DataFrame) -> pd.DataFrame:
    """Samples x clusters: the mean z-score of the signatures that label each cluster, in
    columns named "<cluster> <label>" (a sample's score of being like that cluster)."""
    sets = cluster_signatures(described)
    return pd.DataFrame({f"{c} {'+'.join(sigs)}": zscores[sigs].mean(axis=1)
                         for c, sigs in sets.items()}, index=zscores.index)


def trajectories(times: pd.DataFrame, patients: list[str], treatment: pd.Series,
                 clusters: pd.Series, values: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table (TRAJECTORY_COLUMNS) of the samples of `patients` that have a time: one row
    per sample and feature of each kind in `values` (kind -> samples x features)."""
    timed = times.dropna(subset=["time"])
    timed = timed[timed["patient_id"].isin(patients)]
    parts = []
    for kind, table in values.items():
        ids = timed.index.intersection(table.index)
        long = table.loc[ids].rename_axis("sample_id").reset_index().melt(
            "sample_id", var_name="feature", value_name="value")
        long.insert(0, "kind", kind)
        parts.append(long)
    if not parts:
        return pd.DataFrame(columns=TRAJECTORY_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    sid = out["sample_id"]
    out["patient_id"] = timed["patient_id"].reindex(sid).to_numpy()
    out["time"] = timed["time"].reindex(sid).to_numpy()
    out["treatment"] = treatment.reindex(sid).fillna("").to_numpy()
    out["cluster"] = clusters.reindex(sid).fillna("").to_numpy()
    return out[TRAJECTORY_COLUMNS].sort_values(["patient_id", "time", "sample_id", "kind"],
                                               kind="stable", ignore_index=True)


def stability(times: pd.DataFrame, clusters: pd.Series, labels: pd.Series | None = None,
              min_samples: int = 2) -> pd.DataFrame:
    """Per patient with `min_samples` clustered samples that have a time: the clusters in
    time order, the number of changes between consecutive samples, whether the subgroup is
    stable (one cluster throughout) and between which times it first changed."""
    timed = times.dropna(subset=["time"])
    timed = timed.loc[timed.index.intersection(clusters.index)]
    rows = []
    for patient, part in timed.groupby("patient_id", sort=True):
        if len(part) < min_samples:
            continue
        part = part.rename_axis(None).assign(sample_id=part.index).sort_values(
            ["time", "sample_id"], kind="stable")
        seq = clusters.reindex(part.index).to_numpy()
        change = np.flatnonzero(seq[1:] != seq[:-1])
        first = (f"{part['time'].iloc[change[0]]:g}-{part['time'].iloc[change[0] + 1]:g}"
                 if len(change) else "")
        rows.append((patient, len(part), part["time"].iloc[0], part["time"].iloc[-1],
                     " > ".join(seq), seq[0], seq[-1], len(change), len(set(seq)) == 1, first))
    out = pd.DataFrame(rows, columns=["patient_id", "n_samples", "first_time", "last_time",
                                      "clusters", "first_cluster", "last_cluster", "n_changes",
                                      "stable", "first_change"])
    if labels is not None:
        out.insert(7, "last_label", labels.reindex(out["last_cluster"]).to_numpy())
        out.insert(7, "first_label", labels.reindex(out["first_cluster"]).to_numpy())
    return out


def treatment_effects(markers: pd.DataFrame, times: pd.DataFrame, treatments: pd.DataFrame,
                      clusters: pd.Series) -> pd.DataFrame:
    """Within-patient change of each marker under each drug: for a patient with timed samples
    both inside and outside the drug's periods, mean(inside) - mean(outside) per marker
    (markers: samples x genes, log2-CPM). `cluster` is the patient's cluster outside the
    periods (the most frequent; ties: the earliest)."""
    timed = times.dropna(subset=["time"])
    timed = timed.loc[timed.index.intersection(markers.index)]
    rows = []
    for (patient, drug), periods in treatments.groupby(["patient_id", "drug"], sort=True):
        part = timed[timed["patient_id"] == patient].sort_values("time", kind="stable")
        inside = np.zeros(len(part), dtype=bool)
        for start, end in zip(periods["start"], periods["end"], strict=True):
            inside |= ((part["time"] >= start) & (part["time"] <= end)).to_numpy()
        if not inside.any() or inside.all():
            continue
        off = part.index[~inside]
        seq = clusters.reindex(off).dropna()
        cluster = (seq.value_counts(sort=False).idxmax() if len(seq) else "")
        for gene in markers.columns:
            on_v = markers.loc[part.index[inside], gene]
            off_v = markers.loc[off, gene]
            rows.append((patient, drug, cluster, gene, int(inside.sum()), int((~inside).sum()),
                         on_v.mean(), off_v.mean(), on_v.mean() - off_v.mean()))
    return pd.DataFrame(rows, columns=["patient_id", "drug", "cluster", "feature",
                                       "n_treated", "n_untreated", "mean_treated",
                                       "mean_untreated", "difference"])


def inflammatory_cluster(expr: pd.DataFrame, clusters: pd.Series) -> str:
    """The cluster whose samples have the highest mean of `expr` (samples x qPCR genes,
    log2-CPM): the RNA-seq counterpart of the qPCR "inflammatory" call."""
    means = expr.loc[clusters.index].mean(axis=1).groupby(clusters).mean()
    return str(means.idxmax())


def patient_clusters(clusters: pd.Series, times: pd.DataFrame) -> pd.DataFrame:
    """Per patient: its clusters in time order ("C1 > C2"; untimed samples last, by id) and
    its majority cluster (ties: the earliest sample's)."""
    info = pd.DataFrame({"cluster": clusters,
                         "patient_id": times["patient_id"].reindex(clusters.index),
                         "time": times["time"].reindex(clusters.index)})
    info["patient_id"] = info["patient_id"].fillna(pd.Series(info.index, index=info.index))
    info = info.rename_axis(None).assign(sample_id=info.index).sort_values(
        ["patient_id", "time", "sample_id"], kind="stable", na_position="last")
    rows = []
    for patient, part in info.groupby("patient_id", sort=True):
        counts = part["cluster"].value_counts(sort=False)
        top = counts[counts == counts.max()].index
        major = next(c for c in part["cluster"] if c in top)
        rows.append((patient, len(part), " > ".join(part["cluster"]), major))
    return pd.DataFrame(rows, columns=["patient_id", "rnaseq_samples", "rnaseq_clusters",
                                       "rnaseq_cluster"]).set_index("patient_id")


def qpcr_agreement(calls: pd.DataFrame, per_patient: pd.DataFrame, inflammatory: str
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The qPCR subgroups (`qpcr.subgroup_calls`) beside each patient's RNA-seq cluster
    (`patient_clusters`; empty for a patient without clustered samples). Returns (per
    patient, with `agree` where both are known;
    agreement table: qpcr_subgroup x rnaseq_cluster counts, then the totals and the share of
    patients that agree and Cohen's kappa as rows of the same table)."""
    from sklearn.metrics import cohen_kappa_score

    every = calls.set_index("patient_id").join(per_patient, how="left")
    every["rnaseq_subgroup"] = np.where(
        every["rnaseq_cluster"].isna(), "",
        np.where(every["rnaseq_cluster"] == inflammatory, INFLAMMATORY, NON_INFLAMMATORY))
    both = every[every["rnaseq_subgroup"] != ""].copy()
    both["agree"] = both["qpcr_subgroup"] == both["rnaseq_subgroup"]
    every["agree"] = both["agree"].reindex(every.index).astype("boolean")
    every["rnaseq_samples"] = every["rnaseq_samples"].astype("Int64")
    log.info("qPCR subgroups of %d patients, %d with RNA-seq clusters; inflammatory cluster "
             "%s", len(calls), len(both), inflammatory)
    table = (both.groupby(["qpcr_subgroup", "rnaseq_cluster", "rnaseq_subgroup"])
             .size().rename("n_patients").reset_index())
    agree = float(both["agree"].mean()) if len(both) else float("nan")
    kappa = (float(cohen_kappa_score(both["qpcr_subgroup"], both["rnaseq_subgroup"]))
             if both["qpcr_subgroup"].nunique() > 1 or both["rnaseq_subgroup"].nunique() > 1
             else float("nan"))
    stats = pd.DataFrame({"qpcr_subgroup": ["all", "agreement", "cohen_kappa"],
                          "rnaseq_cluster": ["all", "", ""],
                          "rnaseq_subgroup": ["all", "", ""],
                          "n_patients": [f"{len(both)}", f"{agree:.10g}", f"{kappa:.10g}"]})
    table["n_patients"] = table["n_patients"].astype(str)
    return every.reset_index(), pd.concat([table, stats], ignore_index=True)
