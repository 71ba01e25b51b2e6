"""Rule cutadapt: check one unit's FASTQ, then trim adapters and low-quality ends."""

import shutil
from pathlib import Path

from bloodsig.core.io import scratch_dir
from bloodsig.core.script import run
from bloodsig.reads import fastq, tools


def main(smk):
    fq, (sample, unit) = list(smk.input.fastq), (smk.wildcards.sample, smk.wildcards.unit)
    fastq.check_unit(*fq, listed_in=smk.params.listed_in)
    out = Path(smk.output.trimmed)
    with scratch_dir(out) as tmp:
        # links named after sample and unit, so MultiQC's sample names say which unit it was
        links = [tools.link_as(f, Path(tmp) / "in" / n) for f, n in
                 zip(fq, tools.unit_names(sample, unit, len(fq) == 2), strict=True)]
        trimmed = [Path(tmp) / "out" / n for n in
                   tools.unit_names(sample, unit, len(fq) == 2, trimmed=True)]
        trimmed[0].parent.mkdir()
        report = Path(tmp) / "cutadapt.json"
        cmd = tools.cutadapt_command(links, trimmed, smk.params.adapter1, smk.params.adapter2,
                                     smk.params.quality_cutoff, smk.params.minimum_length,
                                     smk.threads, report)
        tools.run_tool(cmd, "cutadapt", fq[0], smk.log[0])
        tools.check_outputs(trimmed + [report], "cutadapt")
        shutil.move(report, smk.output.report)
        shutil.move(trimmed[0].parent, out)


run(main, snakemake)  # noqa: F821
