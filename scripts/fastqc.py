"""Rule fastqc: FastQC on a sample's raw and trimmed reads (one folder per sample)."""

import shutil
import tempfile
from pathlib import Path

from bloodsig.core.script import run
from bloodsig.reads import tools


def main(smk):
    out, sample = Path(smk.output[0]), smk.wildcards.sample
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        files = []
        for unit, trimmed in zip(smk.params.units, smk.input.trimmed, strict=True):
            raw = [unit["fq1"], unit["fq2"]] if unit["paired"] else [unit["fq1"]]
            names = tools.unit_names(sample, unit["unit"], unit["paired"])
            files += [tools.link_as(f, Path(tmp) / "in" / n) for f, n in
                      zip(raw, names, strict=True)]
            files += [Path(trimmed) / n for n in
                      tools.unit_names(sample, unit["unit"], unit["paired"], trimmed=True)]
        (Path(tmp) / "out").mkdir()
        cmd = ["fastqc", "--quiet", "--threads", smk.threads, "--outdir", Path(tmp) / "out"]
        tools.run_tool(cmd + files, "FastQC", files[0], smk.log[0])
        tools.check_outputs([Path(tmp) / "out" / f.name.replace(".fastq.gz", "_fastqc.zip")
                             for f in files], "FastQC")
        shutil.move(Path(tmp) / "out", out)


run(main, snakemake)  # noqa: F821
