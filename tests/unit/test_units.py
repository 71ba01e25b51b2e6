"""Tests for bloodsig.core.units: FASTQ units against the sample sheet."""

from __future__ import annotations

import pandas as pd
import pytest

from bloodsig.core.errors import InputError
from bloodsig.core.units import check_fastq_paths, match_units


@pytest.fixture
def samples():
    return pd.DataFrame({"sample_id": ["A", "B"]}, index=["A", "B"])


def units(rows):
    return pd.DataFrame(rows, columns=["sample_id", "unit", "fq1", "fq2"])


def test_paired_flag_and_lanes(samples):
    u = match_units(units([["A", "L1", "a1", "a2"], ["A", "L2", "a3", "a4"],
                           ["B", "L1", "b1", None]]), samples, "units.tsv", "samples.tsv")
    assert u["paired"].tolist() == [True, True, False]
    single = units([["A", "L1", "a1", None], ["B", "L1", "b1", None]]).drop(columns="fq2")
    assert not match_units(single, samples, "u", "s")["paired"].any()


def test_unit_sample_not_in_sheet(samples):
    with pytest.raises(InputError, match=r"units.tsv, row 3, column 'sample_id': sample 'C' "
                                         r"is not in the sample sheet samples.tsv"):
        match_units(units([["A", "L1", "a1", None], ["C", "L1", "c1", None]]), samples,
                    "units.tsv", "samples.tsv")


def test_sheet_sample_without_units_and_mixed_layout(samples):
    with pytest.raises(InputError, match=r"samples.tsv, row 3: sample 'B' has no FASTQ units"):
        match_units(units([["A", "L1", "a1", None]]), samples, "units.tsv", "samples.tsv")
    with pytest.raises(InputError, match="sample 'A' mixes single-end and paired-end"):
        match_units(units([["A", "L1", "a1", None], ["A", "L2", "a3", "a4"],
                           ["B", "L1", "b1", None]]), samples, "units.tsv", "samples.tsv")


def test_fastq_paths_must_exist_unless_the_run_writes_them(tmp_path):
    (tmp_path / "a1.fq.gz").write_bytes(b"")
    present = str(tmp_path / "a1.fq.gz")
    table = units([["A", "L1", present, "reads/a2.fq.gz"], ["B", "L1", present, None]])
    with pytest.raises(InputError, match=r"^u.tsv, row 2, column 'fq2': FASTQ file "
                                         r"'reads/a2.fq.gz' not found$"):
        check_fastq_paths(table, "u.tsv")
    check_fastq_paths(table, "u.tsv", pending={"reads"})  # written by the run: not checked

