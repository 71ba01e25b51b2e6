"""Rule multiqc: one HTML report of the cohort's FastQC, cutadapt, STAR, samtools,
featureCounts and strandedness results, flagging samples below the configured thresholds."""

import shutil
import tempfile
from pathlib import Path

import yaml

from bloodsig.core.io import read_tsv
from bloodsig.core.script import run
from bloodsig.reads import tools


def main(smk):
    html = Path(smk.output[0])
    inputs = [p for key in ("fastqc", "cutadapt", "star", "samtools", "flagstat", "idxstats",
                            "featurecounts") for p in smk.input[key]]
    with tempfile.TemporaryDirectory(dir=html.parent.parent, prefix=".multiqc.") as tmp:
        tmp = Path(tmp)
        flags = tools.multiqc_flags(smk.params.min_reads, smk.params.min_mapped_percent)
        (tmp / "flags.yaml").write_text(yaml.safe_dump(flags))
        strands = read_tsv(smk.input.strandedness, what="strandedness")
        tools.multiqc_table(strands, tmp / "strandedness_mqc.tsv", "strandedness",
                            "Strandedness (RSeQC infer_experiment)")
        (tmp / "files.txt").write_text("\n".join(map(str, inputs + [tmp / "strandedness_mqc.tsv"])))
        cmd = ["multiqc", "--force", "--no-ansi", "--config", smk.input.config, "--config",
               tmp / "flags.yaml", "--file-list", tmp / "files.txt", "--outdir", tmp / "out",
               "--filename", html.name]
        tools.run_tool(cmd, "MultiQC", smk.input.strandedness, smk.log[0])
        data = tmp / "out" / f"{html.stem}_data"  # MultiQC names it after the report
        tools.check_outputs([tmp / "out" / html.name, data], "MultiQC")
        shutil.rmtree(smk.output[1], ignore_errors=True)
        shutil.move(data, smk.output[1])
        shutil.move(tmp / "out" / html.name, html)


run(main, snakemake)  # noqa: F821
