"""Running the external read-processing tools: command lines, runs, checks, clear failures.

The rule scripts for cutadapt, STAR, samtools, featureCounts, FastQC and MultiQC build their
command lines here (pure functions, testable without the tools), run them with `run_tool`,
which sends the tool's output to the rule's log and turns a failure into one InputError, and
check what the tool wrote with `check_outputs`.
"""

from __future__ import annotations

import gzip
import logging
import math
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import InputError

log = logging.getLogger("bloodsig.reads.tools")

# featureCounts -s: 0 unstranded, 1 stranded (read 1 on the gene's strand), 2 reversely stranded
FEATURECOUNTS_STRAND = {"unstranded": 0, "forward": 1, "reverse": 2}
_ERROR_LINE = re.compile(r"error|fatal|exiting|failed|invalid|not found|no such", re.IGNORECASE)


def run_tool(cmd: Sequence[str], name: str, subject=None, log_path=None, stdout=None) -> None:
    """Run a tool; its stderr (and stdout unless redirected to `stdout`) goes to `log_path`.

    A non-zero exit raises InputError naming the tool, the file it was working on (`subject`)
    and the most telling line of its output (the last line that looks like an error).
    """
    cmd = [str(c) for c in cmd]
    log.info("running: %s", shlex.join(cmd))
    out_fh = open(stdout, "wb") if stdout else None  # noqa: SIM115 (closed below)
    try:
        res = subprocess.run(cmd, stdout=out_fh or subprocess.PIPE, stderr=subprocess.PIPE,
                             check=False)
    except FileNotFoundError:
        raise InputError(f"{name} is not installed (command '{cmd[0]}' not found); see the "
                         "README's install command") from None
    finally:
        if out_fh:
            out_fh.close()
    text = (res.stderr or b"").decode(errors="replace")
    if not stdout:
        text = (res.stdout or b"").decode(errors="replace") + text
    if log_path:
        with open(log_path, "a") as fh:
            fh.write(text)
    if res.returncode != 0:
        raise InputError(f"{name} failed (exit status {res.returncode}): "
                         f"{failure_line(text)}", path=subject)


def failure_line(output: str) -> str:
    """The line of a tool's output that best says why it failed."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return "no message"
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    return (errors or lines)[-1][:500]


def check_outputs(paths, name: str) -> None:
    """Every path must exist (and a file must not be empty) after a tool says it succeeded."""
    for path in map(Path, paths):
        if not path.exists() or (path.is_file() and path.stat().st_size == 0):
            raise InputError(f"{name} finished but did not write this file", path=path)


def link_as(target, link: Path) -> Path:
    """A symlink `link` -> `target` (absolute), so a tool sees the name bloodsig chose."""
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(Path(target).resolve())
    return link


def unit_names(sample: str, unit, paired: bool, trimmed: bool = False) -> list[str]:
    """File names a unit's reads take in the tools' reports: `{sample}_{unit}_R1.fastq.gz`,
    `..._R2...` (paired) or `{sample}_{unit}.fastq.gz`; trimmed reads end `.trimmed.fastq.gz`
    (which MultiQC strips, so raw and trimmed reads share a sample name)."""
    end = ".trimmed.fastq.gz" if trimmed else ".fastq.gz"
    if paired:
        return [f"{sample}_{unit}_R1{end}", f"{sample}_{unit}_R2{end}"]
    return [f"{sample}_{unit}{end}"]


def cutadapt_command(inputs: Sequence, outputs: Sequence, adapter1: str, adapter2: str,
                     quality_cutoff: int, minimum_length: int, threads: int,
                     json_report) -> list[str]:
    """cutadapt 3' adapter and quality trimming (Martin 2011), single- or paired-end.

    -q applies to both mates (cutadapt's -Q defaults to it); a pair is kept or dropped
    together (--minimum-length applies to both mates). An empty adapter or a quality cutoff of
    0 switches that trimming off (reads that were trimmed before).
    """
    cmd = ["cutadapt", "--cores", threads, "--minimum-length", minimum_length,
           "--json", json_report, "-o", outputs[0]]
    if quality_cutoff:
        cmd += ["-q", quality_cutoff]
    if adapter1:
        cmd += ["-a", adapter1]
    if len(inputs) == 2:
        cmd += ["-A", adapter2] if adapter2 else []
        cmd += ["-p", outputs[1]]
    return cmd + list(inputs)


def genome_length(fasta) -> int:
    """Total sequence length of a (gzipped) FASTA file."""
    opener = gzip.open if str(fasta).endswith(".gz") else open
    total = 0
    with opener(fasta, "rb") as fh:
        for line in fh:
            if not line.startswith(b">"):
                total += len(line.strip())
    if total == 0:
        raise InputError("genome FASTA has no sequence", path=fasta)
    return total


def sa_index_nbases(length: int) -> int:
    """STAR --genomeSAindexNbases: min(14, log2(GenomeLength)/2 - 1), as STAR's manual says for
    small genomes (floored; at least 4)."""
    return int(max(4, min(14, math.floor(math.log2(length) / 2 - 1))))


def star_index_command(fasta, gtf, outdir, threads: int, length: int, ram_bytes: int,
                       tmpdir) -> list[str]:
    """STAR genomeGenerate with the GTF's splice junctions (Dobin et al. 2013)."""
    return ["STAR", "--runMode", "genomeGenerate", "--runThreadN", threads,
            "--genomeDir", outdir, "--genomeFastaFiles", fasta, "--sjdbGTFfile", gtf,
            "--genomeSAindexNbases", sa_index_nbases(length),
            "--limitGenomeGenerateRAM", ram_bytes, "--outTmpDir", tmpdir,
            "--outFileNamePrefix", f"{tmpdir}.", ]


def star_align_command(index, read1: Sequence, read2: Sequence, threads: int, prefix,
                       extra: str = "") -> list[str]:
    """STAR alignment of one sample; several units (lanes) are given comma-separated, so the
    sample's reads are aligned, and later counted, together. Writes an unsorted BAM."""
    cmd = ["STAR", "--runThreadN", threads, "--genomeDir", index,
           "--readFilesIn", ",".join(map(str, read1))]
    if read2:
        cmd.append(",".join(map(str, read2)))
    cmd += ["--readFilesCommand", "gzip", "-cd", "--outSAMtype", "BAM", "Unsorted",
            "--outSAMattributes", "NH", "HI", "AS", "nM", "--outSAMunmapped", "Within",
            "--outFileNamePrefix", prefix, "--outTmpDir", f"{prefix}tmp"]
    return cmd + shlex.split(extra)


def featurecounts_command(bam, gtf, output, strandedness: str, paired: bool, threads: int,
                          attribute: str = "gene_id", feature: str = "exon") -> list[str]:
    """featureCounts (Liao et al. 2014): uniquely mapped reads on one gene's exons; a read pair
    is one fragment (-p --countReadPairs); reads overlapping several genes are not counted."""
    cmd = ["featureCounts", "-T", threads, "-a", gtf, "-F", "GTF", "-t", feature, "-g",
           attribute, "-s", FEATURECOUNTS_STRAND[strandedness], "-o", output]
    if paired:
        cmd += ["-p", "--countReadPairs"]
    return cmd + [bam]


def read_featurecounts(path) -> pd.Series:
    """featureCounts' table -> gene id -> count (int64)."""
    df = pd.read_csv(path, sep="\t", comment="#", dtype={"Geneid": str})
    if df.shape[1] != 7 or df.columns[0] != "Geneid":
        raise InputError("not a one-sample featureCounts table", path=path)
    return pd.Series(df.iloc[:, 6].to_numpy(np.int64), index=df["Geneid"].to_numpy())


def merge_counts(per_sample: dict[str, pd.Series], gene_ids: pd.Index) -> pd.DataFrame:
    """Per-sample counts -> gene x sample matrix in the annotation's gene order."""
    counts = pd.DataFrame(per_sample).reindex(gene_ids)
    if counts.isna().any().any():
        gene = counts.index[counts.isna().any(axis=1)][0]
        raise InputError(f"gene '{gene}' of the annotation was not counted by featureCounts")
    return counts.astype(np.int64).rename_axis("gene_id")



def gunzipped(path, tmpdir: Path) -> Path:
    """`path` itself, or a decompressed copy in `tmpdir` if it is gzipped (STAR needs text)."""
    path = Path(path)
    with open(path, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return path
    out = Path(tmpdir) / path.name.removesuffix(".gz")
    try:
        with gzip.open(path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
    except (EOFError, OSError) as e:
        raise InputError(f"gzip file is truncated or corrupt ({e})", path=path) from None
    return out


def multiqc_flags(min_reads: int, min_mapped_percent: float) -> dict:
    """MultiQC conditional formatting of the general statistics: red for samples with fewer
    than `min_reads` raw reads (FastQC; MultiQC shows millions) or a unique mapping rate below
    `min_mapped_percent` (STAR). Rules are keyed by the table's column anchors."""
    return {
        "read_count_multiplier": 1e-6,
        "read_count_prefix": "M",
        "table_cond_formatting_rules": {
            "fastqc_raw-total_sequences": {"fail": [{"lt": min_reads * 1e-6}]},
            "star-uniquely_mapped_percent": {"fail": [{"lt": min_mapped_percent}]},
        },
    }


def multiqc_table(df: pd.DataFrame, path, section_id: str, title: str) -> None:
    """A table as MultiQC custom content (`*_mqc.tsv` with its header in comments)."""
    header = f"# id: '{section_id}'\n# section_name: '{title}'\n# plot_type: 'table'\n"
    Path(path).write_text(header + df.to_csv(sep="\t", index=False, float_format="%.4f",
                                             lineterminator="\n"))
