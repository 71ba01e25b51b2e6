"""Longitudinal follow-up: times, therapy periods, stability, within-patient therapy effects,
qPCR subgroups over time and their agreement with RNA-seq clusters (hand-computed cases)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.core.errors import InputError
from bloodsig.de import qpcr
from bloodsig.plots import longitudinal as plots
from bloodsig.subtypes import longitudinal as lg


def _sheet():
    return pd.DataFrame({"patient_id": ["A", "A", "A", "B", "B", "C", "D"],
                         "days": [300, 100, 200, 50, 400, 10, None]},
                        index=[f"s{i}" for i in range(7)])


def test_sample_times_and_series_patients(caplog):
    times = lg.sample_times(_sheet(), "patient_id", "days")
    assert times.loc["s1", "time"] == 100 and np.isnan(times.loc["s6", "time"])
    assert lg.series_patients(times) == ["A", "B"]
    assert lg.series_patients(times, 3) == ["A"]
    empty = lg.sample_times(_sheet(), "patient_id", "visit_day")
    assert empty.empty and "no longitudinal view" in caplog.text
    bad = _sheet().astype({"days": object})
    bad.loc["s3", "days"] = "day 5"
    with pytest.raises(InputError, match="row 5.*column 'days'.*'day 5' is not a number"):
        lg.sample_times(bad, "patient_id", "days", path="samples.tsv")


def test_treatments(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("patient_id\tdrug\tstart\tend\nA\ttoci\t150\t250\nB\tx\t300\t\n")
    tr = lg.read_treatments(path)
    assert tr.loc[1, "end"] == np.inf
    times = lg.sample_times(_sheet(), "patient_id", "days")
    at = lg.treatments_at(times["patient_id"], times["time"], tr)
    assert at.to_dict() == {"s0": "", "s1": "", "s2": "toci", "s3": "", "s4": "x", "s5": "",
                            "s6": ""}
    path.write_text("patient_id\tdrug\tstart\tend\nA\ttoci\t150\t100\n")
    with pytest.raises(InputError, match="row 2, column 'end'.*ends \\(100\\) before"):
        lg.read_treatments(path)
    path.write_text("patient_id\tdrug\tstart\tend\nA\ttoci\tsoon\t100\n")
    with pytest.raises(InputError, match="row 2, column 'start'"):
        lg.read_treatments(path)


def test_stability_orders_by_time_and_flags_changes():
    times = lg.sample_times(_sheet(), "patient_id", "days")
    clusters = pd.Series(["C2", "C1", "C1", "C1", "C1", "C2", "C1"], index=times.index)
    out = lg.stability(times, clusters, pd.Series({"C1": "IL4", "C2": "NOD2"}))
    a = out.set_index("patient_id").loc["A"]
    # A: day 100 C1, 200 C1, 300 C2 -> one change between 200 and 300
    assert a["clusters"] == "C1 > C1 > C2" and a["n_changes"] == 1 and not a["stable"]
    assert a["first_change"] == "200-300" and a["last_label"] == "NOD2"
    assert out.set_index("patient_id").loc["B", "stable"]
    assert list(out["patient_id"]) == ["A", "B"]  # C and D have one timed sample


def test_treatment_effects_are_within_patient_differences():
    times = pd.DataFrame({"patient_id": ["A"] * 4 + ["B"] * 2,
                          "time": [0.0, 100, 200, 300, 0, 100]},
                         index=list("abcdef"))
    markers = pd.DataFrame({"IL6": [5.0, 3.0, 6.0, 7.0, 1.0, 1.0]}, index=list("abcdef"))
    tr = pd.DataFrame({"patient_id": ["A", "B"], "drug": ["toci", "toci"],
                       "start": [50.0, -10], "end": [150.0, 200]})
    clusters = pd.Series(["C1", "C2", "C1", "C2", "C1", "C1"], index=list("abcdef"))
    eff = lg.treatment_effects(markers, times, tr, clusters)
    assert len(eff) == 1  # B has no sample outside the period
    row = eff.iloc[0]
    assert row["difference"] == pytest.approx(3.0 - 6.0)
    assert (row["n_treated"], row["n_untreated"], row["cluster"]) == (1, 3, "C1")


def test_trajectories_and_signature_scores():
    z = pd.DataFrame({"IL4": [1.0, -1.0], "IL10": [0.0, -2.0], "NOD2": [-1.0, 1.0]},
                     index=["s1", "s2"])
    described = pd.DataFrame({"cluster": ["C1", "C2", "C3"],
                              "label": ["IL4+IL10", "NOD2", "none"]})
    sig = lg.signature_trajectories(z, described)
    assert list(sig.columns) == ["C1 IL4+IL10", "C2 NOD2"]
    assert sig.loc["s2", "C1 IL4+IL10"] == pytest.approx(-1.5)
    times = lg.sample_times(_sheet(), "patient_id", "days")
    traj = lg.trajectories(times, ["A"], pd.Series("", index=times.index),
                           pd.Series({"s1": "C1"}), {"signature": sig})
    assert list(traj.columns) == lg.TRAJECTORY_COLUMNS
    # A's samples with a signature score, in time order (s1 day 100, s2 day 200; s0 unscored)
    assert list(traj["sample_id"]) == ["s1", "s1", "s2", "s2"]
    assert list(traj["cluster"]) == ["C1", "C1", "", ""]


def _series():
    return pd.DataFrame({
        "patient_id": ["P1"] * 8 + ["P2"] * 6,
        "time": [0, 0, 0, 0, 100, 100, 100, 100, 0, 0, 0, 50, 50, 50],
        "gene": ["GAPDH", "ACTB", "IL1B", "IL6"] * 2 + ["GAPDH", "IL1B", "IL6"] * 2,
        "Ct": [18, 17, 22, 23, 19, 18, 24, 25, 18, 26, np.nan, 18, 23, 23.5]})


def test_read_ct_series(tmp_path):
    path = tmp_path / "ct.tsv"
    path.write_text("pid\tday\tgene\tCt\nP1\t0\tIL1B\t22.5\nP1\t0\tIL6\tUndetermined\n")
    ct = qpcr.read_ct_series(path, "pid", "day")
    assert list(ct.columns) == ["patient_id", "time", "gene", "Ct"] and ct["Ct"].isna()[1]
    path.write_text("pid\tday\tgene\tCt\nP1\t0\tIL1B\t22.5\nP1\t0\tIL1B\t22\n")
    with pytest.raises(InputError, match="row 3.*'IL1B' twice at time 0"):
        qpcr.read_ct_series(path, "pid", "day")
    path.write_text("pid\tday\tgene\tCt\nP1\tx\tIL1B\t22.5\n")
    with pytest.raises(InputError, match="row 2, column 'day'"):
        qpcr.read_ct_series(path, "pid", "day")


def test_relative_series_hand_computed():
    ct = _series()
    rel = qpcr.relative_series(ct[ct["patient_id"] == "P1"], ["GAPDH", "ACTB"])
    # delta-Ct: IL1B 22 - 17.5 = 4.5 at 0, 24 - 18.5 = 5.5 at 100; mean 5
    il1b = rel[rel["gene"] == "IL1B"].set_index("time")
    assert il1b["delta_ct"].tolist() == [4.5, 5.5]
    assert il1b["log2_relative"].tolist() == [0.5, -0.5]
    with pytest.raises(InputError, match="reference gene 'ACTB'"):
        qpcr.relative_series(ct[ct["patient_id"] == "P2"], ["GAPDH", "ACTB"])


def test_subgroup_calls_as_the_pbmc_study():
    calls = qpcr.subgroup_calls(_series(), ["IL1B", "IL6"], 24, 0.5).set_index("patient_id")
    # P1: day 0 both < 24 (high), day 100 IL1B 24 is not < 24 -> 1 of 2, not most
    assert calls.loc["P1", ["n_timepoints", "n_high"]].tolist() == [2, 1]
    assert calls.loc["P1", "qpcr_subgroup"] == "non_inflammatory"
    # P2: day 0 IL6 undetermined (not high), day 50 high -> 1 of 2
    assert calls.loc["P2", "fraction_high"] == 0.5
    looser = qpcr.subgroup_calls(_series(), ["IL1B", "IL6"], 24, 0.4).set_index("patient_id")
    assert (looser["qpcr_subgroup"] == "inflammatory").all()
    with pytest.raises(InputError, match="'TNF' has no Ct"):
        qpcr.subgroup_calls(_series(), ["TNF"])


def test_qpcr_agreement_and_inflammatory_cluster():
    clusters = pd.Series(["C1", "C1", "C2", "C2", "C1"], index=["a", "b", "c", "d", "e"])
    expr = pd.DataFrame({"IL1B": [1.0, 2, 8, 9, 1], "IL6": [0.0, 1, 7, 6, 2]},
                        index=clusters.index)
    assert lg.inflammatory_cluster(expr, clusters) == "C2"
    times = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P3", "P4"],
                          "time": [10.0, 5, 0, 0, 0]}, index=clusters.index)
    per = lg.patient_clusters(clusters, times)
    assert per.loc["P1", "rnaseq_clusters"] == "C1 > C1" and per.loc["P2", "rnaseq_cluster"] == "C2"
    calls = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4", "P9"],
                          "n_timepoints": 3, "n_high": [0, 3, 0, 0, 3],
                          "fraction_high": [0, 1, 0, 0, 1.0],
                          "qpcr_subgroup": ["non_inflammatory", "inflammatory",
                                            "non_inflammatory", "non_inflammatory",
                                            "inflammatory"]})
    every, table = lg.qpcr_agreement(calls, per, "C2")
    every = every.set_index("patient_id")
    assert every.loc["P3", "agree"] == np.False_ and every.loc["P2", "agree"]
    assert pd.isna(every.loc["P9", "agree"])  # no RNA-seq sample
    stats = table.set_index("qpcr_subgroup")["n_patients"]
    assert stats["all"] == "4" and float(stats["agreement"]) == 0.75


def test_figures():
    times = lg.sample_times(_sheet(), "patient_id", "days")
    sig = pd.DataFrame({"C1 IL4": np.arange(7.0), "C2 NOD2": -np.arange(7.0)},
                       index=times.index)
    mark = pd.DataFrame({"IL6": np.linspace(1, 3, 7)}, index=times.index)
    clusters = pd.Series(["C1"] * 7, index=times.index)
    traj = lg.trajectories(times, ["A", "B"], pd.Series("", index=times.index), clusters,
                           {"signature": sig, "marker": mark})
    tr = pd.DataFrame({"patient_id": ["A"], "drug": ["t"], "start": [150.0], "end": [np.inf]})
    stab = lg.stability(times, clusters)
    ct = _series().replace({"P1": "A", "P2": "B"})
    rel = qpcr.relative_series(ct[ct["patient_id"] == "A"], ["GAPDH", "ACTB"])
    fig = plots.trajectories(traj, rel, tr, stab)
    assert len(fig.axes) == 2 * 3
    assert any(p.get_gid() == "treatment" for p in fig.axes[0].patches)
    calls = qpcr.subgroup_calls(ct, ["IL1B", "IL6"])
    fig = plots.qpcr_timecourse(ct, calls, tr, ["IL1B", "IL6"], 24)
    assert {line.get_gid() for line in fig.axes[0].lines} >= {"ct:IL1B", "ct:IL6"}
    assert plots.trajectories(traj.iloc[:0], rel.iloc[:0], tr, stab.iloc[:0]).axes


def test_no_time_column_gives_empty_tables_and_a_placeholder_figure():
    times = lg.sample_times(_sheet().drop(columns="days"), "patient_id", "days")
    clusters = pd.Series("C1", index=_sheet().index)
    values = pd.DataFrame({"IL6": 1.0}, index=_sheet().index)
    traj = lg.trajectories(times, lg.series_patients(times),
                           lg.treatments_at(times["patient_id"], times["time"],
                                            lg.no_treatments()), clusters, {"marker": values})
    stab = lg.stability(times, clusters, pd.Series({"C1": "IL4"}))
    eff = lg.treatment_effects(values, times, lg.no_treatments(), clusters)
    assert traj.empty and stab.empty and eff.empty
    assert "first_label" in stab.columns
    fig = plots.trajectories(traj, traj.iloc[:0], lg.no_treatments(), stab)
    assert "no patient" in fig.axes[0].texts[0].get_text()
