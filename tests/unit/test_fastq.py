"""Tests for bloodsig.reads.fastq: FASTQ checks (truncated gzip, not FASTQ, mates out of step)."""

from __future__ import annotations

import gzip

import pytest

from bloodsig.core.errors import InputError
from bloodsig.reads.fastq import check_unit, count_reads


def _fastq(n: int, mate: int = 1) -> bytes:
    return b"".join(f"@r{i}/{mate}\nACGTACGT\n+\nIIIIIIII\n".encode() for i in range(n))


@pytest.fixture
def pair(tmp_path):
    r1, r2 = tmp_path / "S_R1.fastq.gz", tmp_path / "S_R2.fastq.gz"
    r1.write_bytes(gzip.compress(_fastq(500, 1)))
    r2.write_bytes(gzip.compress(_fastq(500, 2)))
    return r1, r2


def test_counts_gzipped_and_plain(pair, tmp_path):
    assert check_unit(*pair) == 500
    plain = tmp_path / "plain.fastq"
    plain.write_bytes(_fastq(7).rstrip(b"\n"))  # no final newline
    assert count_reads(plain) == 7


def test_truncated_gzip(pair):
    data = pair[0].read_bytes()
    pair[0].write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"S_R1.fastq.gz: FASTQ is truncated or corrupt"):
        check_unit(*pair)


def test_problem_names_the_units_row(pair):
    pair[0].write_bytes(b"hello\n")
    with pytest.raises(InputError, match=r"S_R1.fastq.gz: not a FASTQ file .* \(listed in "
                                         r"units.tsv, row 3\)$"):
        check_unit(*pair, listed_in="units.tsv, row 3")


def test_mate_count_mismatch(pair):
    pair[1].write_bytes(gzip.compress(_fastq(499, 2)))
    with pytest.raises(InputError, match=r"S_R2.fastq.gz: mates have different numbers of "
                                         r"reads: 500 in .*S_R1.fastq.gz, 499"):
        check_unit(*pair)


def test_not_fastq_missing_empty(tmp_path):
    bad = tmp_path / "x.fastq.gz"
    bad.write_bytes(gzip.compress(b"@r1\nACGT\n+\n"))
    with pytest.raises(InputError, match="not a FASTQ file"):
        count_reads(bad)
    bad.write_bytes(gzip.compress(b""))
    with pytest.raises(InputError, match="has no reads"):
        count_reads(bad)
    with pytest.raises(InputError, match="missing.fastq.gz: FASTQ file not found"):
        count_reads(tmp_path / "missing.fastq.gz")
