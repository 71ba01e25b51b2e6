"""The demo's external cohort from FASTQ (fixture `demo`): counts against the simulator's
truth, the inferred strandedness, and a MultiQC report covering every sample."""

import json

import pandas as pd
import pytest
from scipy.stats import spearmanr

from bloodsig.simulate.external import N_SAMPLES

pytestmark = pytest.mark.slow  # runs Snakemake

MIN_TRUE_COUNT = 10  # "expressed": at least this many simulated fragments in the sample


def test_counts_follow_the_truth(demo):
    counts = pd.read_csv(demo / "results/external/counts/counts.tsv", sep="\t", index_col=0)
    truth = pd.read_csv(demo / "results/demo/external/true_counts.tsv", sep="\t", index_col=0)
    assert counts.index.name == "gene_id" and set(counts.index) == set(truth.index)
    assert (counts.dtypes == "int64").all() and list(counts.columns) == list(truth.columns)
    truth = truth.loc[counts.index]
    rho = {}
    for sample in counts.columns:
        expressed = truth[sample] >= MIN_TRUE_COUNT
        rho[sample] = spearmanr(counts.loc[expressed, sample], truth.loc[expressed, sample])[0]
    print(f"Spearman per sample: min {min(rho.values()):.4f}, median "
          f"{pd.Series(rho).median():.4f}")
    assert min(rho.values()) >= 0.95
    # most fragments are counted (short inserts dropped by trimming, some overlap ambiguity)
    recovered = counts.sum() / truth.sum()
    assert recovered.between(0.85, 1.0).all(), recovered


def test_canonical_cohort_files(demo):
    out = demo / "results/external/counts"
    counts = pd.read_csv(out / "counts.tsv", sep="\t")
    genes = pd.read_csv(out / "genes.tsv", sep="\t")
    samples = pd.read_csv(out / "samples.tsv", sep="\t")
    assert list(genes.columns) == ["gene_id", "gene_name", "gene_type", "chromosome", "length"]
    assert genes["gene_id"].tolist() == counts["gene_id"].tolist()
    assert samples["sample_id"].tolist() == list(counts.columns[1:])
    # gene lengths from the GTF equal the simulator's exonic lengths
    truth = pd.read_csv(demo / "results/demo/external/genes.gtf", sep="\t", comment="#",
                        header=None)
    exons = truth[truth[2] == "exon"]
    ids = exons[8].str.extract(r'gene_id "([^"]+)"')[0]
    exonic = (exons[4] - exons[3] + 1).groupby(ids.to_numpy()).sum()
    assert (genes.set_index("gene_id")["length"] == exonic.loc[genes["gene_id"]]).all()


def test_strandedness_is_reverse(demo):
    strands = pd.read_csv(demo / "results/external/reads/strandedness.tsv", sep="\t")
    assert len(strands) == N_SAMPLES
    assert (strands["inferred"] == "reverse").all() and (strands["used"] == "reverse").all()
    assert (strands["layout"] == "paired").all() and (strands["reverse"] > 0.95).all()


def test_multiqc_covers_every_sample(demo):
    reads = demo / "results/external/reads"
    html = (reads / "multiqc/multiqc_report.html").read_text()
    samples = pd.read_csv(demo / "results/external/counts/samples.tsv", sep="\t")["sample_id"]
    data = reads / "multiqc/multiqc_data"
    sources = pd.read_csv(data / "multiqc_sources.txt", sep="\t")
    for module in ("FastQC (raw)", "FastQC (trimmed)", "Cutadapt", "STAR", "Samtools",
                   "featureCounts"):
        assert module.lower() in html.lower(), module
        names = sources.loc[sources["Module"].str.lower() == module.lower(), "Sample Name"]
        for sample in samples:
            assert names.astype(str).str.startswith(sample).any(), (module, sample)
    for anchor in ("fastqc_raw", "fastqc_trimmed", "cutadapt", "star", "samtools",
                   "featurecounts", "strandedness"):
        assert f'id="{anchor}' in html, anchor
    report = json.loads((data / "multiqc_data.json").read_text())
    assert report["config_title"].startswith("bloodsig")
