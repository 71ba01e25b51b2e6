"""Tests for bloodsig.reads.tools: tool command lines, clear failures, featureCounts tables."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from bloodsig.core.errors import InputError
from bloodsig.reads import tools


@pytest.mark.parametrize("length, expected", [(12_157_105, 10), (2_178_000, 9),
                                              (3_100_000_000, 14), (1000, 4)])
def test_sa_index_nbases(length, expected):
    assert tools.sa_index_nbases(length) == expected


def test_genome_length_gzipped(tmp_path):
    fa = tmp_path / "g.fa.gz"
    fa.write_bytes(gzip.compress(b">1 x\nACGT\nAC\n>2\nGGGGG\n"))
    assert tools.genome_length(fa) == 11
    assert tools.gunzipped(fa, tmp_path).read_text().startswith(">1 x")


def test_commands_single_and_paired():
    pe = tools.cutadapt_command(["a1", "a2"], ["t1", "t2"], "AAA", "CCC", 20, 20, 2, "r.json")
    assert pe[pe.index("-A") + 1] == "CCC" and pe[pe.index("-p") + 1] == "t2"
    assert pe[-2:] == ["a1", "a2"]
    se = tools.cutadapt_command(["a1"], ["t1"], "AAA", "CCC", 20, 20, 2, "r.json")
    assert "-A" not in se and "-p" not in se
    off = tools.cutadapt_command(["a1", "a2"], ["t1", "t2"], "", "", 0, 1, 1, "r.json")
    assert not {"-a", "-A", "-q"} & set(off)  # trimming switched off: a pass-through
    star = tools.star_align_command("idx", ["l1_R1", "l2_R1"], ["l1_R2", "l2_R2"], 4, "p/")
    i = star.index("--readFilesIn")
    assert star[i + 1:i + 3] == ["l1_R1,l2_R1", "l1_R2,l2_R2"]  # lanes of a sample together
    fc = tools.featurecounts_command("s.bam", "g.gtf", "o.tsv", "reverse", True, 2)
    assert fc[fc.index("-s") + 1] == 2 and "--countReadPairs" in fc
    fc = tools.featurecounts_command("s.bam", "g.gtf", "o.tsv", "forward", False, 2)
    assert fc[fc.index("-s") + 1] == 1 and "-p" not in fc


def test_tool_failure_is_one_clear_message(tmp_path):
    log = tmp_path / "tool.log"
    script = "echo starting; echo 'EXITING because of FATAL ERROR: bad genome' >&2; exit 3"
    with pytest.raises(InputError, match=r"g.fa: STAR failed \(exit status 3\): EXITING "
                                         r"because of FATAL ERROR: bad genome"):
        tools.run_tool(["sh", "-c", script], "STAR", "g.fa", log)
    assert "starting" in log.read_text()
    with pytest.raises(InputError, match="not installed"):
        tools.run_tool(["no-such-tool-bloodsig"], "X")
    with pytest.raises(InputError, match="did not write"):
        tools.check_outputs([tmp_path / "absent.bam"], "STAR")


def test_featurecounts_tables(tmp_path):
    path = tmp_path / "fc.tsv"
    path.write_text("# Program:featureCounts v2.0.3\nGeneid\tChr\tStart\tEnd\tStrand\tLength\t"
                    "x.bam\nG2\t1\t1\t9\t+\t9\t5\nG1\t1\t20\t29\t-\t10\t0\n")
    one = tools.read_featurecounts(path)
    counts = tools.merge_counts({"S1": one, "S2": one * 2}, pd.Index(["G1", "G2"]))
    assert counts.loc["G2"].tolist() == [5, 10] and counts.index.name == "gene_id"
    with pytest.raises(InputError, match="gene 'G3' of the annotation was not counted"):
        tools.merge_counts({"S1": one}, pd.Index(["G1", "G3"]))
