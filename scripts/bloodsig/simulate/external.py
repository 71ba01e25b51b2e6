"""External cohorts: same biology, their own patients and batches.

- `external/`: a small cohort simulated down to FASTQ, for the reads stage. It is restricted
  to a few hundred genes (the genes the pipeline's stages look for plus background) so that
  its genome and read files stay small; `true_counts.tsv` holds the fragments simulated per
  gene and sample, the truth for the counting stage.
- `validation/`: a count-matrix cohort that validates the classifiers and survival models, as
  the study's external cohort did. Like that cohort (13,529 genes measured) it covers most of
  the discovery's genes: the VALIDATION_GENE_SHARE best expressed, the ones a lab keeps.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.io import write_tsv
from .cohort import Biology, Cohort, CohortDesign, counts_table, simulate_cohort

N_SAMPLES = 12  # enough for the reads stage's QC; validation is the count-matrix cohort's
CASE_FRACTION = 0.55
FRAGMENTS_PER_SAMPLE = 30_000  # median; a sample's reads take well under a second
N_DIRECT_GENES = 200  # the largest planted direct effects
N_CELL_MEDIATED_GENES = 40
N_BACKGROUND_GENES = 120

VALIDATION_SAMPLES = 300
VALIDATION_GENE_SHARE = 0.6  # the study's external cohort: 13,529 of 22,332 genes

DESIGN = CohortDesign(n_samples=N_SAMPLES, case_fraction=CASE_FRACTION, batches=("X1", "X2"),
                      batch_library=("rRNA_depletion", "rRNA_depletion"), sample_prefix="E",
                      patient_prefix="EP", id_width=3, with_repeats=False, n_sex_mislabels=0,
                      median_library_size=FRAGMENTS_PER_SAMPLE)


VALIDATION_DESIGN = CohortDesign(
    n_samples=VALIDATION_SAMPLES, case_fraction=0.55, batches=("V1", "V2", "V3"),
    batch_library=("rRNA_depletion",) * 3, sample_prefix="V", patient_prefix="VP", id_width=3,
    with_repeats=False, n_sex_mislabels=0)


def validation_gene_rows(bio: Biology, rng: np.random.Generator) -> np.ndarray:
    """Rows (sorted) of the validation cohort's genes: the best expressed share (by abundance
    with some noise, as another lab's filter), always with the named genes."""
    n = len(bio.genes)
    score = bio.log2_base + rng.normal(0, 1.0, n)
    score[(bio.genes["role"] != "background").to_numpy()] = np.inf
    return np.sort(np.argsort(-score, kind="stable")[: int(round(VALIDATION_GENE_SHARE * n))])


def simulate_validation(bio: Biology, rng: np.random.Generator) -> tuple[Cohort, np.ndarray]:
    """The count-matrix validation cohort and the gene rows it covers (library sizes refer to
    all genes: the other genes were sequenced, then filtered out)."""
    rows = validation_gene_rows(bio, rng)
    cohort = simulate_cohort(bio, VALIDATION_DESIGN, rng)
    return dataclasses.replace(cohort, counts=cohort.counts[rows]), rows


def write_validation(outdir: Path, bio: Biology, cohort: Cohort, rows: np.ndarray) -> None:
    """counts.tsv, genes.tsv and samples.tsv under outdir/validation."""
    path = Path(outdir) / "validation"
    write_tsv(counts_table(bio.genes, cohort, rows), path / "counts.tsv")
    write_tsv(bio.genes.iloc[rows][["gene_id", "gene_name", "gene_type", "chromosome",
                                    "length"]], path / "genes.tsv")
    write_tsv(cohort.samples, path / "samples.tsv")


def external_gene_rows(bio: Biology, rng: np.random.Generator) -> np.ndarray:
    """Rows (sorted, in genome order) of the genes the external cohort carries."""
    role = bio.genes["role"].to_numpy()
    named = np.flatnonzero(role != "background")
    direct = np.flatnonzero(bio.mechanism == "direct")
    direct = direct[np.argsort(-np.abs(bio.direct_log2fc[direct]), kind="stable")]
    cell = np.flatnonzero((bio.mechanism == "cell_mediated") & (role == "background"))[
        :N_CELL_MEDIATED_GENES]
    chosen = np.concatenate([named, direct[:N_DIRECT_GENES], cell, bio.survival_rows])
    others = np.setdiff1d(np.flatnonzero((role == "background") & (bio.mechanism == "")),
                          chosen)
    background = rng.choice(others, size=N_BACKGROUND_GENES, replace=False)
    return np.unique(np.concatenate([chosen, background]))


def simulate_external(bio: Biology, rng: np.random.Generator) -> tuple[Cohort, np.ndarray]:
    """The external cohort's samples and fragment counts, and the gene rows they cover."""
    rows = external_gene_rows(bio, rng)
    return simulate_cohort(bio, DESIGN, rng, gene_rows=rows), rows


def write_external_tables(outdir: Path, bio: Biology, cohort: Cohort, rows: np.ndarray) -> None:
    """samples.tsv, units.tsv and true_counts.tsv under outdir/external.

    FASTQ paths in units.tsv are `outdir/external/fastq/...` as given (relative to the
    working directory when outdir is relative), so a config can point at them directly.
    """
    ext = Path(outdir) / "external"
    write_tsv(cohort.samples, ext / "samples.tsv")
    ids = cohort.samples["sample_id"]
    units = pd.DataFrame({
        "sample_id": ids,
        "unit": "L001",
        "fq1": [str(ext / "fastq" / f"{s}_R1.fastq.gz") for s in ids],
        "fq2": [str(ext / "fastq" / f"{s}_R2.fastq.gz") for s in ids],
    })
    write_tsv(units, ext / "units.tsv")
    write_tsv(counts_table(bio.genes, cohort, rows), ext / "true_counts.tsv")


def write_external_reads(outdir: Path, bio: Biology, cohort: Cohort, rows: np.ndarray,
                         rng: np.random.Generator) -> None:
    """genome.fa, genes.gtf and one gzipped FASTQ pair per sample (reverse-stranded, 2x75)."""
    from .reads import make_genome, write_fastq_pair

    ext = Path(outdir) / "external"
    genes = bio.genes.iloc[rows][["gene_id", "gene_name", "gene_type", "chromosome", "length"]]
    genome = make_genome(genes.reset_index(drop=True), rng)
    genome.write(ext / "genome.fa", ext / "genes.gtf")
    gene_ids = genes["gene_id"].to_numpy()
    for j, sample in enumerate(cohort.samples["sample_id"]):
        fragments = pd.Series(cohort.counts[:, j], index=gene_ids)
        write_fastq_pair(genome, fragments, rng, ext / "fastq" / f"{sample}_R1.fastq.gz",
                         ext / "fastq" / f"{sample}_R2.fastq.gz", read_length=75,
                         strandedness="reverse", sample=sample)
