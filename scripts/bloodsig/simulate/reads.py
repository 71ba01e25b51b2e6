"""A synthetic genome and realistic paired-end reads for the read-level demo cohort.

The demo's external validation cohort is simulated down to FASTQ so that the `reads` stage
(cutadapt, STAR, featureCounts, FastQC, strandedness inference) runs on data that behave like
an Illumina TruSeq stranded library: one small contig per chromosome, spliced single-transcript
genes on both strands with GT-AG introns, and read pairs with adapter read-through on short
fragments, declining qualities and sequencing errors where the quality is low.

Everything is vectorised over fragments: a sample of ~30,000 fragments takes a fraction of a
second. Outputs are byte-identical for the same seed.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.io import atomic_path

TRUSEQ_ADAPTER1 = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCA"
TRUSEQ_ADAPTER2 = "AGATCGGAAGAGCGTCGTGTAGGGAAAGGGTGT"
STRANDEDNESS = ("reverse", "forward", "unstranded")

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_CODES = np.full(256, 255, dtype=np.uint8)
_CODES[_BASES] = np.arange(4, dtype=np.uint8)
_PHRED_ERROR = 10.0 ** (-np.arange(42) / 10.0)
_MIN_EXON = 50
# Shortest insert simulated: long enough to be placed uniquely, short enough that the read runs
# into the adapter (cutadapt's typical --minimum-length is 20).
_MIN_FRAGMENT = 30
_MITOCHONDRIAL = {"MT", "M", "chrM", "chrMT"}
_GENE_COLUMNS = ["gene_id", "gene_name", "gene_type", "chromosome"]


def encode(seq: str) -> np.ndarray:
    """A/C/G/T string -> uint8 codes 0-3 (complement of code c is 3 - c)."""
    codes = _CODES[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
    if (codes == 255).any():
        raise ValueError(f"sequence has characters other than A, C, G, T: {seq[:50]}")
    return codes


def decode(codes: np.ndarray) -> str:
    """uint8 codes 0-3 -> A/C/G/T string."""
    return _BASES[codes].tobytes().decode("ascii")


def reverse_complement(seq: str) -> str:
    """Reverse complement of an A/C/G/T string."""
    return decode(3 - encode(seq)[::-1])


@dataclass
class Genome:
    """A synthetic genome with one single-transcript gene per input gene.

    chromosomes: contig name -> sequence (A, C, G, T only), in natural chromosome order.
    genes: the gene table (see `gene_table`), 1-based inclusive coordinates, in contig order.
    exons: gene_id -> int array (n_exons, 2) of 1-based inclusive [start, end], ascending.
    transcripts: gene_id -> spliced transcript sequence, 5'->3' on the gene's strand.
    """

    chromosomes: dict[str, str]
    genes: pd.DataFrame
    exons: dict[str, np.ndarray]
    transcripts: dict[str, str]

    def gene_table(self) -> pd.DataFrame:
        """Truth per gene: gene_id, gene_name, gene_type, chromosome, start, end, strand,
        exonic_length, n_exons, transcript_id."""
        return self.genes.copy()

    def gtf_lines(self) -> list[str]:
        """Ensembl-style GTF lines (gene, transcript, exons in transcript order), no newlines."""
        lines = ["#!genome-build bloodsig-synthetic"]
        for g in self.genes.itertuples(index=False):
            gene_attrs = (f'gene_id "{g.gene_id}"; gene_name "{g.gene_name}"; '
                          f'gene_type "{g.gene_type}"; gene_biotype "{g.gene_type}";')
            tx_attrs = (f'gene_id "{g.gene_id}"; transcript_id "{g.transcript_id}"; '
                        f'gene_name "{g.gene_name}"; gene_type "{g.gene_type}"; '
                        f'gene_biotype "{g.gene_type}"; transcript_name "{g.gene_name}-201"; '
                        f'transcript_type "{g.gene_type}"; transcript_biotype "{g.gene_type}";')
            head = f"{g.chromosome}\tbloodsig"
            lines.append(f"{head}\tgene\t{g.start}\t{g.end}\t.\t{g.strand}\t.\t{gene_attrs}")
            lines.append(f"{head}\ttranscript\t{g.start}\t{g.end}\t.\t{g.strand}\t.\t{tx_attrs}")
            exons = self.exons[g.gene_id]
            # Ensembl lists exons 5'->3' along the transcript, i.e. descending on the minus strand
            for number, (start, end) in enumerate(exons if g.strand == "+" else exons[::-1], 1):
                attrs = f'{tx_attrs} exon_number "{number}"; exon_id "{g.transcript_id}.e{number}";'
                lines.append(f"{head}\texon\t{start}\t{end}\t.\t{g.strand}\t.\t{attrs}")
        return lines

    def write(self, fasta_path, gtf_path) -> None:
        """Write the genome FASTA (60-column lines) and its GTF annotation, atomically."""
        with atomic_path(fasta_path) as tmp, open(tmp, "w", newline="\n") as fh:
            for name, seq in self.chromosomes.items():
                fh.write(f">{name}\n")
                fh.writelines(f"{seq[i:i + 60]}\n" for i in range(0, len(seq), 60))
        with atomic_path(gtf_path) as tmp:
            tmp.write_text("\n".join(self.gtf_lines()) + "\n", newline="\n")


def _chromosome_key(name: str) -> tuple:
    """Natural order: 1..22, then X, Y, MT, then anything else alphabetically."""
    bare = name.removeprefix("chr")
    if bare.isdigit():
        return (0, int(bare), "")
    return (1, {"X": 0, "Y": 1, "M": 2, "MT": 2}.get(bare, 3), name)


def _transcript_id(gene_id: str) -> str:
    return "ENST" + gene_id[4:] if gene_id.startswith("ENSG") else f"{gene_id}-T1"


def make_genome(genes: pd.DataFrame, rng: np.random.Generator, intergenic=(300, 1500),
                exons=(1, 6), introns=(80, 500), exonic_length=(400, 2500),
                gc: float = 0.45) -> Genome:
    """Build one contig per chromosome in `genes`, holding its genes in table order.

    `genes` has columns gene_id, gene_name, gene_type, chromosome and optionally length (the
    exonic length, clipped to `exonic_length`; drawn uniformly in it otherwise). Each gene gets a
    random strand, a number of exons drawn from `exons` (one on the mitochondrial contig),
    introns from `introns` with GT..AG motifs, and `intergenic` spacers around it. Bases are
    i.i.d. with the given GC fraction, so no two genes (chrY versus chrX included) share a
    25-mer except with negligible probability, and there are no N bases at all.
    All ranges are inclusive.
    """
    missing = [c for c in _GENE_COLUMNS if c not in genes.columns]
    if missing:
        raise ValueError(f"gene table lacks column(s) {', '.join(missing)}")
    table = genes.reset_index(drop=True).copy()
    table["gene_id"] = table["gene_id"].astype(str)
    table["chromosome"] = table["chromosome"].astype(str)
    dup = table["gene_id"][table["gene_id"].duplicated()]
    if len(dup):
        raise ValueError(f"gene table has duplicated gene_id '{dup.iloc[0]}'")
    table["gene_name"] = table["gene_name"].where(table["gene_name"].notna(), table["gene_id"])
    lengths = table["length"] if "length" in table.columns else pd.Series(np.nan, table.index)
    probs = np.array([1 - gc, gc, gc, 1 - gc]) / 2

    def random_seq(n: int) -> np.ndarray:
        return rng.choice(4, size=n, p=probs).astype(np.uint8)

    chromosomes, rows, exon_map, transcripts = {}, [], {}, {}
    for chrom in sorted(table["chromosome"].unique(), key=_chromosome_key):
        pieces, pos = [], 0
        for i in np.flatnonzero(table["chromosome"].to_numpy() == chrom):
            gene_id = table.at[i, "gene_id"]
            spacer = random_seq(int(rng.integers(intergenic[0], intergenic[1] + 1)))
            pieces.append(spacer)
            pos += len(spacer)
            if pd.notna(lengths.iloc[i]):
                total = int(np.clip(round(float(lengths.iloc[i])), *exonic_length))
            else:
                total = int(rng.integers(exonic_length[0], exonic_length[1] + 1))
            n_exons = 1 if chrom in _MITOCHONDRIAL else int(rng.integers(exons[0], exons[1] + 1))
            n_exons = max(1, min(n_exons, total // _MIN_EXON))
            exon_lens = _MIN_EXON + rng.multinomial(total - _MIN_EXON * n_exons,
                                                    rng.dirichlet(np.ones(n_exons)))
            strand = "+" if rng.random() < 0.5 else "-"
            # Build the pre-mRNA on the sense strand, then place it (reverse-complemented on -)
            sense, spans, cursor = [], [], 0
            for k, exon_len in enumerate(exon_lens):
                if k:
                    intron = random_seq(int(rng.integers(introns[0], introns[1] + 1)))
                    intron[:2], intron[-2:] = (2, 3), (0, 2)  # GT ... AG
                    sense.append(intron)
                    cursor += len(intron)
                sense.append(random_seq(int(exon_len)))
                spans.append((cursor, cursor + int(exon_len)))
                cursor += int(exon_len)
            pre = np.concatenate(sense)
            transcripts[gene_id] = decode(np.concatenate(sense[::2]))
            if strand == "+":
                coords = [(pos + a + 1, pos + b) for a, b in spans]
                pieces.append(pre)
            else:
                coords = [(pos + cursor - b + 1, pos + cursor - a) for a, b in spans][::-1]
                pieces.append(3 - pre[::-1])
            exon_map[gene_id] = np.array(coords, dtype=np.int64)
            rows.append({
                "gene_id": gene_id, "gene_name": str(table.at[i, "gene_name"]),
                "gene_type": str(table.at[i, "gene_type"]), "chromosome": chrom,
                "start": coords[0][0], "end": coords[-1][1], "strand": strand,
                "exonic_length": total, "n_exons": n_exons,
                "transcript_id": _transcript_id(gene_id),
            })
            pos += cursor
        pieces.append(random_seq(int(rng.integers(intergenic[0], intergenic[1] + 1))))
        chromosomes[chrom] = decode(np.concatenate(pieces))
    return Genome(chromosomes, pd.DataFrame(rows), exon_map, transcripts)


@dataclass
class ReadPairs:
    """Simulated read pairs in FASTQ order, with the truth behind each pair.

    gene_id: gene of each fragment; start: 0-based start on the spliced transcript; length:
    fragment (insert) length; r1_antisense: True where R1 reads the reverse complement of the
    transcript. seq1/qual1/seq2/qual2: (n, read_length) uint8 ASCII bases and Phred+33 qualities.
    """

    gene_id: np.ndarray
    start: np.ndarray
    length: np.ndarray
    r1_antisense: np.ndarray
    seq1: np.ndarray
    qual1: np.ndarray
    seq2: np.ndarray
    qual2: np.ndarray


def _fragment_counts(genome: Genome, fragments: pd.Series) -> np.ndarray:
    """Counts in genome gene order; unknown genes, negative or fractional counts are errors."""
    ids = genome.genes["gene_id"]
    unknown = pd.Index(fragments.index.astype(str)).difference(ids)
    if len(unknown):
        raise ValueError(f"fragments name gene(s) not in the genome, e.g. '{unknown[0]}'")
    values = pd.Series(fragments.to_numpy(), index=fragments.index.astype(str))
    counts = pd.to_numeric(values.reindex(ids, fill_value=0), errors="coerce").to_numpy(float)
    bad = np.isnan(counts) | (counts < 0) | (counts != np.round(counts))
    if bad.any():
        raise ValueError(f"fragment count for gene {ids.iloc[np.flatnonzero(bad)[0]]} "
                         "is not a non-negative integer")
    return counts.astype(np.int64)


def _qualities(rng: np.random.Generator, n: int, length: int, end_drop: float,
               tail_rate: float) -> np.ndarray:
    """Phred scores (n, length): Illumina-like profile with per-read and per-base noise.

    The first cycles are a little lower, then a plateau near Q37 declines by `end_drop` towards
    the 3' end; a `tail_rate` fraction of reads ends in a low-quality tail (Q2-14) starting in
    their second half.
    """
    pos = np.arange(length)
    curve = 37.0 - 4.0 * np.exp(-pos / 2.0) - end_drop * (pos / max(length - 1, 1)) ** 2
    q = curve + rng.normal(0.0, 1.5, (n, 1)) + rng.normal(0.0, 2.0, (n, length))
    tail_start = np.where(rng.random(n) < tail_rate, rng.integers(length // 2, length, n), length)
    in_tail = pos >= tail_start[:, None]
    q[in_tail] = rng.integers(2, 15, int(in_tail.sum()))
    return np.clip(np.rint(q), 2, 41).astype(np.uint8)


def _error_probabilities(q: np.ndarray, error_rate: float) -> np.ndarray:
    """Substitution probability per Phred score: c * 10^(-Q/10), capped at 0.75, with c set
    so that the mean over the bases of `q` is `error_rate` (as near as the cap allows)."""
    hist = np.bincount(q.ravel(), minlength=len(_PHRED_ERROR)) / max(q.size, 1)
    scale = error_rate / max(hist @ _PHRED_ERROR, 1e-300)
    # The cap makes the mean sublinear in the scale; a few fixed-point steps restore it
    for _ in range(30):
        mean = hist @ np.minimum(scale * _PHRED_ERROR, 0.75)
        if mean <= 0 or abs(mean - error_rate) <= 1e-4 * error_rate:
            break
        scale *= error_rate / mean
    return np.minimum(scale * _PHRED_ERROR, 0.75)


def simulate_read_pairs(genome: Genome, fragments: pd.Series, rng: np.random.Generator,
                        read_length: int = 75, strandedness: str = "reverse",
                        fragment_mean: float = 220, fragment_sd: float = 40,
                        adapter1: str = TRUSEQ_ADAPTER1, adapter2: str = TRUSEQ_ADAPTER2,
                        error_rate: float = 0.002, short_fraction: float = 0.05) -> ReadPairs:
    """Simulate read pairs for one sample; `write_fastq_pair` writes exactly these.

    fragments: gene_id -> number of fragments. Each fragment starts uniformly on its gene's
    spliced transcript; its length is Normal(fragment_mean, fragment_sd), except for a
    `short_fraction` drawn uniformly below `read_length` (at least 30 bp), and never longer
    than the transcript. Reads shorter than the read length continue into the adapter (then
    random bases). "reverse" is TruSeq stranded (dUTP): R1 antisense, R2 sense; "forward" the
    opposite; "unstranded" picks per fragment. Substitution errors hit each base with a
    probability proportional to its Phred error probability 10^(-Q/10) (at most 0.75), scaled
    so that the mean per-base rate of each mate is `error_rate`; low-quality tails therefore
    carry most errors. Pairs come in random order.
    """
    if strandedness not in STRANDEDNESS:
        raise ValueError(f"strandedness must be one of {', '.join(STRANDEDNESS)}, "
                         f"not '{strandedness}'")
    if read_length <= _MIN_FRAGMENT:
        raise ValueError(f"read_length must exceed {_MIN_FRAGMENT}")
    counts = _fragment_counts(genome, fragments)
    ids = genome.genes["gene_id"].to_numpy()
    tx_lengths = np.array([len(genome.transcripts[g]) for g in ids], dtype=np.int64)
    tx = encode("".join(genome.transcripts[g] for g in ids))
    offsets = np.concatenate([[0], np.cumsum(tx_lengths)[:-1]])

    gene = rng.permutation(np.repeat(np.arange(len(ids)), counts))
    n, length = len(gene), read_length
    flen = np.rint(rng.normal(fragment_mean, fragment_sd, n)).astype(np.int64)
    short = rng.random(n) < short_fraction
    flen[short] = rng.integers(_MIN_FRAGMENT, length, int(short.sum()))
    flen = np.minimum(np.maximum(flen, _MIN_FRAGMENT), tx_lengths[gene])
    start = (rng.random(n) * (tx_lengths[gene] - flen + 1)).astype(np.int64)
    if strandedness == "unstranded":
        antisense = rng.random(n) < 0.5
    else:
        antisense = np.full(n, strandedness == "reverse")

    # Base j of the sense read is transcript[start + j]; of the antisense read, the complement
    # of transcript[start + flen - 1 - j]. Beyond the insert (j >= flen) the adapter follows.
    j = np.arange(length)
    inside = j < flen[:, None]
    k = np.minimum(j, flen[:, None] - 1)
    first = (offsets[gene] + start)[:, None]
    sense = tx[first + k]
    anti = 3 - tx[first + flen[:, None] - 1 - k]
    past = np.maximum(j - flen[:, None], 0)
    pad = rng.integers(0, 4, length).astype(np.uint8)  # read-through past the adapter
    ad1, ad2 = (np.concatenate([encode(a), pad])[past] for a in (adapter1, adapter2))
    flip = antisense[:, None]
    r1 = np.where(inside, np.where(flip, anti, sense), ad1)
    r2 = np.where(inside, np.where(flip, sense, anti), ad2)

    q1 = _qualities(rng, n, length, end_drop=4.0, tail_rate=0.04)
    q2 = _qualities(rng, n, length, end_drop=7.0, tail_rate=0.07)
    # Uniforms first, so a run with another error_rate shares everything but the errors
    u1, u2 = rng.random((n, length)), rng.random((n, length))
    for read, q, u in ((r1, q1, u1), (r2, q2, u2)):
        err = u < _error_probabilities(q, error_rate)[q]
        read[err] = (read[err] + rng.integers(1, 4, int(err.sum()))) % 4
    return ReadPairs(gene_id=ids[gene], start=start, length=flen, r1_antisense=antisense,
                     seq1=_BASES[r1], qual1=q1 + 33, seq2=_BASES[r2], qual2=q2 + 33)


def fastq_bytes(sample: str, mate: int, seq: np.ndarray, qual: np.ndarray) -> bytes:
    """Uncompressed FASTQ for one mate; read n (1-based) is named '@{sample}:{n}/{mate}'."""
    n, length = seq.shape
    width = 2 * length + 4
    body = np.full((n, width), ord("\n"), dtype=np.uint8)
    body[:, :length] = seq
    body[:, length + 1] = ord("+")
    body[:, length + 3:width - 1] = qual
    flat = memoryview(body.tobytes())
    headers = [f"@{sample}:{i}/{mate}\n".encode() for i in range(1, n + 1)]
    records = (flat[i * width:(i + 1) * width] for i in range(n))
    return b"".join(chain.from_iterable(zip(headers, records, strict=True)))


def sample_from_path(path) -> str:
    """'S01_R1.fastq.gz' -> 'S01' (strips FASTQ/gzip suffixes and a trailing R1/1 mate tag)."""
    name = re.sub(r"\.(fastq|fq)(\.gz)?$|\.gz$", "", Path(path).name)
    return re.sub(r"[._]R?1$", "", name) or name


def write_fastq_pair(genome: Genome, fragments: pd.Series, rng: np.random.Generator, r1_path,
                     r2_path, read_length: int = 75, strandedness: str = "reverse",
                     fragment_mean: float = 220, fragment_sd: float = 40,
                     adapter1: str = TRUSEQ_ADAPTER1, adapter2: str = TRUSEQ_ADAPTER2,
                     error_rate: float = 0.002, *, short_fraction: float = 0.05,
                     sample: str | None = None, compresslevel: int = 4) -> None:
    """Simulate one sample (see `simulate_read_pairs`) and write gzipped R1/R2 FASTQ atomically.

    Reads are named '@{sample}:{n}/1' and '@{sample}:{n}/2'; `sample` defaults to the R1 file
    name without its FASTQ suffix and mate tag. The gzip header has mtime 0 and no file name,
    so the same seed gives byte-identical files.
    """
    reads = simulate_read_pairs(genome, fragments, rng, read_length, strandedness,
                                fragment_mean, fragment_sd, adapter1, adapter2, error_rate,
                                short_fraction)
    sample = sample or sample_from_path(r1_path)
    for mate, path, seq, qual in ((1, r1_path, reads.seq1, reads.qual1),
                                  (2, r2_path, reads.seq2, reads.qual2)):
        data = gzip.compress(fastq_bytes(sample, mate, seq, qual), compresslevel, mtime=0)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
