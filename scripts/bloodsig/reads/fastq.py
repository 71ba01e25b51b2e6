"""FASTQ checks before trimming: readable (gzip intact), FASTQ-shaped, mates in step.

A truncated download or a pair of files from different runs is the commonest bad input of
a read-level pipeline; tools report it late and obscurely, so bloodsig reads each file once
and names the file and the problem.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from ..core.errors import InputError

_CHUNK = 1 << 22


def count_reads(path) -> int:
    """Number of FASTQ records in a (gzipped) file; refuses a missing, truncated or corrupt
    gzip stream, an empty file, and a file that is not FASTQ (first byte '@', 4 lines/read)."""
    path = Path(path)
    if not path.exists():
        raise InputError("FASTQ file not found", path=path)
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    lines, first, last = 0, b"", b"\n"
    try:
        with (gzip.open if gzipped else open)(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                first = first or chunk[:1]
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except (EOFError, OSError, zlib.error) as e:
        raise InputError(f"FASTQ is truncated or corrupt ({e})", path=path) from None
    if last != b"\n":
        lines += 1
    if lines == 0:
        raise InputError("FASTQ has no reads", path=path)
    if first != b"@" or lines % 4:
        raise InputError(f"not a FASTQ file (it has {lines} lines, which is not 4 per read, or "
                         "does not start with '@')", path=path)
    return lines // 4


def check_unit(fq1, fq2=None, listed_in: str | None = None) -> int:
    """Check one unit's FASTQ file(s); return its number of reads (pairs).

    `listed_in` (e.g. "units.tsv, row 5") is added to a problem, so that the user also finds
    the line of the units sheet that names the file.
    """
    try:
        n1 = count_reads(fq1)
        if fq2 is not None:
            n2 = count_reads(fq2)
            if n1 != n2:
                raise InputError(f"mates have different numbers of reads: {n1} in {fq1}, {n2} "
                                 "in this file (read 2)", path=fq2)
    except InputError as e:
        if listed_in is None:
            raise
        raise InputError(f"{e.problem} (listed in {listed_in})", path=e.path) from None
    return n1
