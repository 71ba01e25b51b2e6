"""Tests for bloodsig.reads.strandedness: RSeQC infer_experiment on BAMs, planted orientation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pysam
import pytest

from bloodsig.core.errors import InputError
from bloodsig.reads.strandedness import decide, infer_experiment, resolve

GENES = pd.DataFrame({
    "gene_id": ["P1", "M1", "P2", "M2"], "chromosome": ["1", "1", "1", "1"],
    "start": [1001, 5001, 9001, 9501], "end": [2000, 6000, 10000, 10500],
    "strand": ["+", "-", "+", "-"],   # P2 and M2 overlap on 9501-10000 (undetermined)
})


def write_bam(path, reads):
    """reads: (start, reverse, read2, paired, mapq)."""
    header = {"HD": {"VN": "1.6", "SO": "unsorted"}, "SQ": [{"SN": "1", "LN": 20000}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i, (start, reverse, read2, paired, mapq) in enumerate(reads):
            a = pysam.AlignedSegment()
            a.query_name, a.reference_id, a.reference_start = f"r{i}", 0, start
            a.query_sequence, a.cigarstring, a.mapping_quality = "A" * 50, "50M", mapq
            a.query_qualities = pysam.qualitystring_to_array("I" * 50)
            a.flag = (0x10 if reverse else 0) | ((0x1 | (0x80 if read2 else 0x40)) if paired
                                                  else 0)
            out.write(a)
    return path


def library(rng, n, strandedness, paired):
    """Reads on P1 (+) and M1 (-) from a library of the given strandedness."""
    reads = []
    for _ in range(n):
        on_plus = rng.random() < 0.5
        start = int(rng.integers(1000, 1900) if on_plus else rng.integers(5000, 5900))
        read2 = paired and rng.random() < 0.5
        # forward: read 1 on the gene's strand; reverse: opposite; a read 2 the other way
        sense = {"forward": True, "reverse": False}.get(strandedness, rng.random() < 0.5)
        sense ^= read2
        reverse = on_plus != sense
        reads.append((start, reverse, read2, paired, 255))
    return reads


@pytest.mark.parametrize("truth", ["forward", "reverse", "unstranded"])
@pytest.mark.parametrize("paired", [True, False])
def test_recovers_planted_strandedness(tmp_path, truth, paired):
    rng = np.random.default_rng(1)
    reads = library(rng, 2000, truth, paired)
    reads += [(9600, False, False, paired, 255)] * 50      # both strands: undetermined
    reads += [(15000, False, False, paired, 255)] * 30     # no gene: not counted
    reads += [(1100, True, False, paired, 3)] * 500        # low MAPQ: ignored
    got = infer_experiment(write_bam(tmp_path / "x.bam", reads), GENES)
    assert got["layout"] == ("paired" if paired else "single")
    assert got["reads"] == 2050
    assert got["undetermined"] == pytest.approx(50 / 2050)
    assert got["inferred"] == truth
    if truth != "unstranded":
        assert got[truth] == pytest.approx(2000 / 2050)


def test_decide_and_resolve():
    assert decide(0.1, 0.85) == "reverse"
    assert decide(0.45, 0.5) == "unstranded"
    assert decide(0.3, 0.6) == "undetermined"
    found = {"inferred": "reverse", "forward": 0.02, "reverse": 0.97, "reads": 100}
    assert resolve("auto", found, "S1") == ("reverse", None)
    used, warning = resolve("forward", found, "S1")
    assert used == "forward" and "'forward' disagrees" in warning and "S1" in warning
    with pytest.raises(InputError, match="sample 'S1': cannot infer strandedness"):
        resolve("auto", {**found, "inferred": "undetermined"}, "S1")
