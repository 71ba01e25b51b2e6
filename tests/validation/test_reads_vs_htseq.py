"""The reads stage on real reads: yeast RNA-seq (single-end) through the pipeline's own rules
(cutadapt, STAR, strandedness, featureCounts) against htseq-count's counts, which were made
from the untrimmed reads, so trimming is switched off here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PARTS = ["Snakefile", "rules", "scripts", "config", "resources", "envs"]

pytestmark = pytest.mark.slow


def reads_project(dest: Path, cohort: dict, samples: pd.DataFrame, units: pd.DataFrame) -> Path:
    """A copy of the project whose config has one more cohort, `yeast`, from FASTQ."""
    for part in PARTS:
        src = ROOT / part
        copy = shutil.copytree if src.is_dir() else shutil.copy2
        copy(src, dest / part)
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    samples.to_csv(dest / "samples.tsv", sep="\t", index=False)
    units.to_csv(dest / "units.tsv", sep="\t", index=False)
    # added beside the demo's cohorts (other stages expect them); only its files are asked for
    config["cohorts"]["yeast"] = {"role": "validation", "samples": "samples.tsv",
                                  "units": "units.tsv", **cohort}
    # as the reference: untrimmed reads (cutadapt passes them through), --stranded=yes
    config["reads"].update(adapter1="", adapter2="", quality_cutoff=0, minimum_length=1,
                           strandedness="forward")
    (dest / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return dest


@pytest.fixture(scope="module")
def yeast(refdata, tmp_path_factory):
    data = refdata / "reads_yeast"
    work = reads_project(
        tmp_path_factory.mktemp("yeast"),
        {"genome": str(data / "Saccharomyces_cerevisiae.R64-1-1.dna.toplevel.fa.gz"),
         "gtf": str(data / "Saccharomyces_cerevisiae.R64-1-1.88.gtf.gz")},
        pd.DataFrame({"sample_id": ["yeast1"], "patient_id": ["P1"], "group": ["control"],
                      "sex": ["female"]}),
        pd.DataFrame({"sample_id": ["yeast1"], "unit": ["L1"],
                      "fq1": [str(data / "yeast_RNASeq_excerpt.fastq.gz")]}))
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2",
                          "results/yeast/counts/counts.tsv"], cwd=work, capture_output=True,
                         text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-5000:]
    return work, data


def test_counts_match_htseq(yeast):
    work, data = yeast
    counts = pd.read_csv(work / "results/yeast/counts/counts.tsv", sep="\t", index_col=0)
    htseq = pd.read_csv(data / "yeast_RNASeq_excerpt_htseq_counts.tsv", sep="\t", header=None,
                        index_col=0).iloc[:, 0]
    htseq = htseq[~htseq.index.str.startswith("__")]
    assert len(htseq) == 7126 and set(counts.index) == set(htseq.index)
    diff = (counts["yeast1"] - htseq.reindex(counts.index)).abs()
    assert (diff == 0).mean() >= 0.999, diff[diff > 0]
    assert diff.max() <= 2
    assert counts["yeast1"].sum() > 10_000  # the htseq total is 10,719


def test_annotation_and_strandedness(yeast):
    work, data = yeast
    genes = pd.read_csv(work / "results/yeast/counts/genes.tsv", sep="\t", index_col=0)
    fc = pd.read_csv(data / "DERIVED_featureCounts_s1_STAR2.7.10b.txt", sep="\t", comment="#",
                     index_col=0)
    # exon-union length is featureCounts' Length, gene by gene
    np.testing.assert_array_equal(genes.loc[fc.index, "length"], fc["Length"])
    assert genes.loc["15S_rRNA", ["gene_type", "chromosome"]].tolist() == ["rRNA", "Mito"]
    strand = pd.read_csv(work / "results/yeast/reads/strandedness.tsv", sep="\t").iloc[0]
    # The reference counted with stranded=yes, but this excerpt's reads lie on both strands
    # of their genes about equally (forward 0.50, reverse 0.45): the data say unstranded, so
    # the configured 'forward' is used and reported as a disagreement.
    assert strand["layout"] == "single" and strand["inferred"] == "unstranded"
    assert strand["used"] == "forward" and abs(strand["forward"] - strand["reverse"]) < 0.1
    log = (work / "logs/yeast/reads/strandedness/yeast1.log").read_text()
    assert "configured strandedness 'forward' disagrees" in log
    samples = pd.read_csv(work / "results/yeast/counts/samples.tsv", sep="\t")
    assert samples["sample_id"].tolist() == ["yeast1"]
