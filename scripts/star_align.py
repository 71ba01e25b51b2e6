"""Rule star_align: STAR on a sample's trimmed reads (all its units), then a sorted, indexed BAM."""

import shutil
import tempfile
from pathlib import Path

from bloodsig.core.script import run
from bloodsig.reads import tools


def main(smk):
    out = Path(smk.output.bam)
    mates = [sorted(Path(d).glob("*.fastq.gz")) for d in smk.input.trimmed]
    read1 = [m[0] for m in mates]
    read2 = [m[1] for m in mates if len(m) == 2]
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        prefix = f"{tmp}/"
        cmd = tools.star_align_command(smk.input.index, read1, read2, smk.threads, prefix,
                                       smk.params.extra)
        tools.run_tool(cmd, "STAR", smk.input.trimmed[0], smk.log[0])
        tools.check_outputs([f"{tmp}/Aligned.out.bam", f"{tmp}/Log.final.out"], "STAR")
        sorted_bam = Path(tmp) / "sorted.bam"
        tools.run_tool(["samtools", "sort", "-@", smk.threads, "-m", "500M", "-T",
                        f"{tmp}/sort", "-o", sorted_bam, f"{tmp}/Aligned.out.bam"],
                       "samtools sort", smk.input.trimmed[0], smk.log[0])
        tools.run_tool(["samtools", "index", sorted_bam], "samtools index", sorted_bam,
                       smk.log[0])
        shutil.move(f"{tmp}/Log.final.out", smk.output.log_final)
        shutil.move(f"{sorted_bam}.bai", smk.output.bai)
        shutil.move(sorted_bam, out)


run(main, snakemake)  # noqa: F821
