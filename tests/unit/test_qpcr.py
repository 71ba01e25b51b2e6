"""delta-delta-Ct: hand-computed fold changes, Welch test, recovery of planted log2FC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bloodsig.core.errors import InputError
from bloodsig.de.qpcr import delta_delta_ct, read_ct, with_rnaseq
from bloodsig.simulate.qpcr import simulate_qpcr


def _long(wide: pd.DataFrame) -> pd.DataFrame:
    return wide.rename_axis("sample_id").reset_index().melt("sample_id", var_name="gene",
                                                            value_name="Ct")


def test_hand_computed():
    wide = pd.DataFrame({"GAPDH": [18.0, 19.0, 18.5, 18.0], "ACTB": [17.0, 18.0, 17.5, 17.0],
                         "X": [24.0, 25.5, 26.0, 26.5]}, index=["a", "b", "c", "d"])
    groups = pd.Series(["ALS", "ALS", "control", "control"], index=list("abcd"))
    res = delta_delta_ct(_long(wide), groups, "ALS", "control", ["GAPDH", "ACTB"]).iloc[0]
    dct = wide["X"] - wide[["GAPDH", "ACTB"]].mean(axis=1)  # a 6.5, b 7.0, c 8.0, d 9.0
    assert res["dct_case"] == pytest.approx(6.75) and res["dct_control"] == pytest.approx(8.5)
    assert res["log2FC"] == pytest.approx(1.75) and res["fold_change"] == pytest.approx(2**1.75)
    welch = stats.ttest_ind(dct[:2], dct[2:], equal_var=False)
    assert res["P.Value"] == pytest.approx(welch.pvalue)
    assert res["t"] == pytest.approx(-welch.statistic)
    ci = welch.confidence_interval()
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((-ci.high, -ci.low))


def test_recovers_planted_logfc():
    rng = np.random.default_rng(5)
    samples = pd.DataFrame({"sample_id": [f"S{i:03d}" for i in range(200)],
                            "group": np.repeat(["ALS", "control"], 100)})
    truth = pd.DataFrame({"gene_name": [f"G{i}" for i in range(8)],
                          "logFC": [1.0, -0.8, 0.6, -0.5, 0.3, -0.2, 0.1, 0.9],
                          "mechanism": ["direct"] * 7 + ["cell_mediated"]})
    ct = simulate_qpcr(samples, truth, rng)
    # Direct genes with |logFC| >= 0.3 (not G5, G6; G7 is cell-mediated).
    assert set(ct["gene"]) == {"GAPDH", "ACTB", "G0", "G1", "G2", "G3", "G4"}
    res = delta_delta_ct(ct, samples.set_index("sample_id")["group"], "ALS", "control",
                         ["GAPDH", "ACTB"]).set_index("gene")
    want = truth.set_index("gene_name")["logFC"]
    assert np.abs(res["log2FC"] - want.reindex(res.index)).max() < 0.15
    assert ((res["ci_low"] < want.reindex(res.index)) & (want.reindex(res.index) < res["ci_high"])
            ).mean() >= 0.8
    top = pd.DataFrame({"gene_name": ["G0", "G1"], "gene_id": ["E0", "E1"], "logFC": [0.9, -0.7],
                        "adj.P.Val": [1e-5, 1e-3]})
    merged = with_rnaseq(res.reset_index(), top).set_index("gene")
    assert merged.loc["G0", "rnaseq_logFC"] == 0.9 and np.isnan(merged.loc["G2", "rnaseq_logFC"])


def test_read_ct(tmp_path):
    path = tmp_path / "ct.tsv"
    path.write_text("sample_id\tgene\tCt\na\tGAPDH\t18.2\na\tX\tUndetermined\nb\tX\t\n")
    ct = read_ct(path)
    assert ct["Ct"].iloc[0] == 18.2 and ct["Ct"].iloc[1:].isna().all()
    path.write_text("sample_id\tgene\tCt\na\tGAPDH\t18.2\na\tX\tlow\n")
    with pytest.raises(InputError, match="row 3, column 'Ct': Ct 'low' is not a number"):
        read_ct(path)
    path.write_text("sample_id\tgene\tCt\na\tX\t20\na\tX\t21\n")
    with pytest.raises(InputError, match="row 3: sample 'a' has gene 'X' twice"):
        read_ct(path)


def test_missing_reference_gene():
    ct = pd.DataFrame({"sample_id": ["a", "b"], "gene": ["ACTB", "ACTB"], "Ct": [17.0, 17.5]})
    with pytest.raises(InputError, match="reference gene 'GAPDH' has no Ct"):
        delta_delta_ct(ct, pd.Series({"a": "ALS", "b": "control"}), "ALS", "control",
                       ["GAPDH", "ACTB"], path="ct.tsv")
