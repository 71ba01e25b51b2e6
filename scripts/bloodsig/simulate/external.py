"""External validation cohort: same biology, its own batches, simulated down to FASTQ.

The cohort is restricted to a few hundred genes (the genes the pipeline's stages look for plus
background) so that its genome and read files stay small. `true_counts.tsv` holds the
fragments simulated per gene and sample: the truth for the counting stage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.io import write_tsv
from .cohort import Biology, Cohort, CohortDesign, counts_table, simulate_cohort

N_SAMPLES = 32
CASE_FRACTION = 0.55
FRAGMENTS_PER_SAMPLE = 30_000  # median; a sample's reads take well under a second
N_DIRECT_GENES = 200  # the largest planted direct effects
N_CELL_MEDIATED_GENES = 40
N_BACKGROUND_GENES = 120

DESIGN = CohortDesign(n_samples=N_SAMPLES, case_fraction=CASE_FRACTION, batches=("X1", "X2"),
                      batch_library=("rRNA_depletion", "rRNA_depletion"), sample_prefix="E",
                      patient_prefix="EP", id_width=3, with_repeats=False, n_sex_mislabels=0,
                      median_library_size=FRAGMENTS_PER_SAMPLE)


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
