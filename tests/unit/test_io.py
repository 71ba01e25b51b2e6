"""Atomic writers: a failed or killed write never leaves a file that looks complete."""

import os

import pandas as pd
import pytest

from bloodsig.core.io import atomic_path, write_tsv


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "table.tsv"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_stale_temporary_of_a_killed_job_is_cleared(tmp_path):
    target = tmp_path / "table.tsv"
    (tmp_path / ".table.tsv.abc123.tsv").write_text("partial")
    (tmp_path / ".other.tsv.x.tsv").write_text("someone else's")
    write_tsv(pd.DataFrame({"a": [1.5]}), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tsv.x.tsv", "table.tsv"]


def test_tables_are_byte_stable_and_readable(tmp_path):
    df = pd.DataFrame({"gene_id": ["G1", "G2"], "x": [1 / 3, 2e-300]})
    write_tsv(df, tmp_path / "a.tsv")
    write_tsv(df, tmp_path / "b.tsv")
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    assert (tmp_path / "a.tsv").read_text().splitlines()[1] == "G1\t0.3333333333"
    mode = os.stat(tmp_path / "a.tsv").st_mode & 0o777
    assert mode & 0o044  # readable by others, not mkstemp's 0600
