"""Library strandedness inferred from aligned reads, as RSeQC's infer_experiment.py does
(Wang, Wang & Li 2012).

Uniquely mapped reads (MAPQ >= 30; not secondary, supplementary, QC-failed or duplicate) are
compared with the strand of the genes they overlap. Reads over genes of one strand vote:
for paired-end data "1++,1--,2+-,2-+" (read 1 on the gene's strand) is `forward` and
"1+-,1-+,2++,2--" is `reverse`; for single-end data "++,--" and "+-,-+". Reads over genes of
both strands are undetermined; reads on no gene are not counted. The fractions decide:
`forward`/`reverse` when one holds at least `stranded_threshold` of the voting reads,
`unstranded` when they differ by less than `unstranded_threshold`, else `undetermined`
(the thresholds nf-core/rnaseq uses).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.errors import InputError

STRANDEDNESS = ("unstranded", "forward", "reverse")
_SKIP = 0x4 | 0x100 | 0x200 | 0x400 | 0x800  # unmapped, secondary, QC fail, duplicate, suppl.


def read_alignments(bam_path, max_reads: int = 200_000, min_mapq: int = 30) -> pd.DataFrame:
    """The first `max_reads` usable alignments: chrom, start (0-based), end, reverse, read2."""
    import pysam

    chrom, start, end, reverse, read2, paired = [], [], [], [], [], False
    try:
        bam = pysam.AlignmentFile(str(bam_path), "rb")
    except (OSError, ValueError) as e:
        raise InputError(f"BAM is not readable ({e})", path=bam_path) from None
    with bam:
        for read in bam.fetch(until_eof=True):
            if read.flag & _SKIP or read.mapping_quality < min_mapq:
                continue
            chrom.append(read.reference_name)
            start.append(read.reference_start)
            end.append(read.reference_end)
            reverse.append(read.is_reverse)
            read2.append(read.is_read2)
            paired = paired or read.is_paired
            if len(chrom) >= max_reads:
                break
    reads = pd.DataFrame({"chrom": chrom, "start": np.asarray(start, np.int64),
                          "end": np.asarray(end, np.int64), "reverse": np.asarray(reverse, bool),
                          "read2": np.asarray(read2, bool)})
    reads.attrs["paired"] = paired
    return reads


def _overlaps(genes: pd.DataFrame, reads: pd.DataFrame, strand: str) -> np.ndarray:
    """Whether each read [start, end) overlaps a gene of `strand` (genes 1-based, closed).

    Genes starting before the read's end minus genes ending before its start = genes over it.
    """
    hit = np.zeros(len(reads), dtype=bool)
    g = genes[genes["strand"] == strand]
    for chrom, rows in reads.groupby("chrom", sort=False).indices.items():
        on = g[g["chromosome"] == chrom]
        if on.empty:
            continue
        starts = np.sort(on["start"].to_numpy() - 1)
        ends = np.sort(on["end"].to_numpy())
        r = reads.iloc[rows]
        n = (np.searchsorted(starts, r["end"].to_numpy(), side="left")
             - np.searchsorted(ends, r["start"].to_numpy(), side="right"))
        hit[rows] = n > 0
    return hit


def strand_fractions(reads: pd.DataFrame, genes: pd.DataFrame) -> dict:
    """Fractions of gene-overlapping reads that are forward, reverse or undetermined."""
    plus, minus = _overlaps(genes, reads, "+"), _overlaps(genes, reads, "-")
    one = plus ^ minus
    # the read's strand agrees with the gene's; a read 2 counts for the opposite of its strand
    same = (plus & ~reads["reverse"].to_numpy()) | (minus & reads["reverse"].to_numpy())
    forward = one & (same ^ reads["read2"].to_numpy())
    n = int((plus | minus).sum())
    if n == 0:
        return {"reads": 0, "forward": 0.0, "reverse": 0.0, "undetermined": 0.0}
    return {"reads": n, "forward": forward.sum() / n, "reverse": (one & ~forward).sum() / n,
            "undetermined": (plus & minus).sum() / n}


def decide(forward: float, reverse: float, stranded_threshold: float = 0.8,
           unstranded_threshold: float = 0.1) -> str:
    """forward / reverse / unstranded / undetermined from the two fractions."""
    voting = forward + reverse
    if voting <= 0:
        return "undetermined"
    if forward / voting >= stranded_threshold:
        return "forward"
    if reverse / voting >= stranded_threshold:
        return "reverse"
    if abs(forward - reverse) / voting < unstranded_threshold:
        return "unstranded"
    return "undetermined"


def infer_experiment(bam_path, genes: pd.DataFrame, max_reads: int = 200_000,
                     min_mapq: int = 30, stranded_threshold: float = 0.8,
                     unstranded_threshold: float = 0.1) -> dict:
    """RSeQC infer_experiment on one BAM: layout, read count, fractions and the decision."""
    reads = read_alignments(bam_path, max_reads, min_mapq)
    out = {"layout": "paired" if reads.attrs["paired"] else "single"}
    out.update(strand_fractions(reads, genes))
    out["inferred"] = decide(out["forward"], out["reverse"], stranded_threshold,
                             unstranded_threshold)
    return out


def resolve(configured: str, inferred: dict, sample: str) -> tuple[str, str | None]:
    """The strandedness to count with, and a warning when the configured one disagrees with the
    data. `auto` takes the inferred one and refuses an undetermined library."""
    guess = inferred["inferred"]
    facts = (f"forward {inferred['forward']:.3f}, reverse {inferred['reverse']:.3f} of "
             f"{inferred['reads']} reads on genes")
    if configured == "auto":
        if guess not in STRANDEDNESS:
            raise InputError(f"sample '{sample}': cannot infer strandedness ({facts}); set "
                             "reads: strandedness to unstranded, forward or reverse")
        return guess, None
    if guess != configured:
        return configured, (f"sample '{sample}': configured strandedness '{configured}' "
                            f"disagrees with the reads, which look '{guess}' ({facts})")
    return configured, None
