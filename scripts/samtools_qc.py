"""Rule samtools_qc: samtools stats, flagstat and idxstats of a sample's BAM."""

from bloodsig.core.io import atomic_path
from bloodsig.core.script import run
from bloodsig.reads import tools


def main(smk):
    for command, output in (("stats", smk.output.stats), ("flagstat", smk.output.flagstat),
                            ("idxstats", smk.output.idxstats)):
        with atomic_path(output) as tmp:
            tools.run_tool(["samtools", command, smk.input.bam], f"samtools {command}",
                           smk.input.bam, smk.log[0], stdout=tmp)
            tools.check_outputs([tmp], f"samtools {command}")


run(main, snakemake)  # noqa: F821
