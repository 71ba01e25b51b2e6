"""The reads stage on a tiny synthetic FASTQ cohort: lanes of a sample are summed, and bad
input (truncated FASTQ, mates out of step, a GTF without the gene attribute, a unit of an
unknown sample) stops the run with one message naming the file, and leaves no counts."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bloodsig.simulate.reads import make_genome, write_fastq_pair

ROOT = Path(__file__).resolve().parents[2]
PARTS = ["Snakefile", "rules", "scripts", "config", "resources", "envs"]
COUNTS = "results/tiny/counts/counts.tsv"

pytestmark = pytest.mark.slow


def snakemake(work, *targets):
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *targets],
                          cwd=work, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A project with a cohort `tiny` of two paired-end samples: S1 in two lanes (halves
    of its reads) and S2 in one lane holding the same reads as S1's two together."""
    work = tmp_path_factory.mktemp("tiny")
    for part in PARTS:
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / part)
    rng = np.random.default_rng(5)
    genes = pd.DataFrame({"gene_id": [f"G{i:03d}" for i in range(30)],
                          "gene_name": [f"N{i}" for i in range(30)],
                          "gene_type": "protein_coding", "chromosome": ["1", "2", "3"] * 10})
    genome = make_genome(genes, rng)
    data = work / "data"
    genome.write(data / "genome.fa", data / "genes.gtf")
    fragments = pd.Series(rng.integers(0, 200, 30), index=genes["gene_id"])
    write_fastq_pair(genome, fragments, rng, data / "S2_R1.fastq.gz", data / "S2_R2.fastq.gz",
                     sample="S2")
    for mate in (1, 2):  # S1: the same reads split in two lanes
        lines = gzip.decompress((data / f"S2_R{mate}.fastq.gz").read_bytes()).splitlines(True)
        half = len(lines) // 8 * 4
        for lane, part in (("L1", lines[:half]), ("L2", lines[half:])):
            (data / f"S1_{lane}_R{mate}.fastq.gz").write_bytes(gzip.compress(b"".join(part)))
    pd.DataFrame({"sample_id": ["S1", "S2"], "patient_id": ["P1", "P2"],
                  "group": ["ALS", "control"], "sex": ["female", "male"]}).to_csv(
        data / "samples.tsv", sep="\t", index=False)
    pd.DataFrame({"sample_id": ["S1", "S1", "S2"], "unit": ["L1", "L2", "L1"],
                  "fq1": ["data/S1_L1_R1.fastq.gz", "data/S1_L2_R1.fastq.gz",
                          "data/S2_R1.fastq.gz"],
                  "fq2": ["data/S1_L1_R2.fastq.gz", "data/S1_L2_R2.fastq.gz",
                          "data/S2_R2.fastq.gz"]}).to_csv(data / "units.tsv", sep="\t",
                                                          index=False)
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    # added beside the demo's cohorts (other stages expect them); only its files are asked for
    config["cohorts"]["tiny"] = {"role": "validation", "samples": "data/samples.tsv",
                                 "units": "data/units.tsv", "genome": "data/genome.fa",
                                 "gtf": "data/genes.gtf"}
    config["reads"]["strandedness"] = "auto"
    (work / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return work


@pytest.fixture
def project(template, tmp_path):
    work = tmp_path / "p"
    shutil.copytree(template, work)
    return work


def test_lanes_are_summed_and_disagreement_is_loud(project):
    res = snakemake(project, COUNTS)
    assert res.returncode == 0, res.stderr[-4000:]
    counts = pd.read_csv(project / COUNTS, sep="\t", index_col=0)
    assert counts.columns.tolist() == ["S1", "S2"] and counts["S2"].sum() > 1000
    pd.testing.assert_series_equal(counts["S1"], counts["S2"], check_names=False)
    strands = pd.read_csv(project / "results/tiny/reads/strandedness.tsv", sep="\t")
    assert strands["inferred"].tolist() == ["reverse"] * 2
    assert strands["used"].tolist() == ["reverse"] * 2
    # a configured strandedness that the reads contradict is counted as told, loudly
    target = "results/tiny/reads/strandedness/S1.tsv"
    (project / target).unlink()
    res = snakemake(project, target, "--config", "reads={'strandedness': 'forward'}")
    assert res.returncode == 0, res.stderr[-4000:]
    assert "WARNING: sample 'S1': configured strandedness 'forward' disagrees with the reads, " \
           "which look 'reverse'" in res.stderr
    assert pd.read_csv(project / target, sep="\t")["used"].tolist() == ["forward"]
    # a cohort's own setting wins over the stage's
    (project / target).unlink()
    res = snakemake(project, target, "--config", "reads={'strandedness': 'forward'}",
                    "cohorts={'tiny': {'strandedness': 'unstranded'}}")
    assert res.returncode == 0, res.stderr[-4000:]
    assert "configured strandedness 'unstranded' disagrees" in res.stderr
    assert pd.read_csv(project / target, sep="\t")["used"].tolist() == ["unstranded"]


def _truncate(work):
    path = work / "data/S2_R1.fastq.gz"
    path.write_bytes(path.read_bytes()[:-2000])


def _unpair(work):
    path = work / "data/S2_R2.fastq.gz"
    lines = gzip.decompress(path.read_bytes()).splitlines(True)
    path.write_bytes(gzip.compress(b"".join(lines[:-4])))


def _strip_gene_id(work):
    path = work / "data/genes.gtf"
    lines = path.read_text().splitlines(True)
    i = next(i for i, line in enumerate(lines) if "\texon\t" in line)
    lines[i] = lines[i].replace('gene_id "G000"; ', "")
    path.write_text("".join(lines))
    return i + 1


def _unknown_sample(work):
    path = work / "data/units.tsv"
    path.write_text(path.read_text() + "S9\tL1\tdata/S2_R1.fastq.gz\tdata/S2_R2.fastq.gz\n")


@pytest.mark.parametrize("damage, message", [
    (_truncate, "data/S2_R1.fastq.gz: FASTQ is truncated or corrupt"),
    (_unpair, "data/S2_R2.fastq.gz: mates have different numbers of reads"),
    (_strip_gene_id, "data/genes.gtf, row {row}, column 'attributes': 'exon' line has no "
                     "'gene_id' attribute"),
    (_unknown_sample, "data/units.tsv, row 5, column 'sample_id': sample 'S9' is not in the "
                      "sample sheet data/samples.tsv"),
])
def test_bad_input_is_refused(project, damage, message):
    row = damage(project)
    res = snakemake(project, COUNTS)
    assert res.returncode != 0
    assert message.format(row=row) in res.stderr, res.stderr[-4000:]
    assert not (project / COUNTS).exists()
    assert not (project / "results/tiny/reads/featurecounts").exists()
