"""Rule star_index: STAR genome index, --genomeSAindexNbases from the genome's length."""

import shutil
import tempfile
from pathlib import Path

from bloodsig.core.script import run
from bloodsig.reads import tools


def main(smk):
    out = Path(smk.output[0])
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".star_index.") as tmp:
        # STAR reads neither gzipped FASTA nor gzipped GTF
        fasta, gtf = (tools.gunzipped(p, Path(tmp)) for p in (smk.input.genome, smk.input.gtf))
        build = Path(tmp) / "index"
        build.mkdir()
        cmd = tools.star_index_command(fasta, gtf, build, smk.threads,
                                       tools.genome_length(fasta),
                                       int(smk.resources.mem_mb * 0.9e6), Path(tmp) / "star")
        tools.run_tool(cmd, "STAR genomeGenerate", smk.input.genome, smk.log[0])
        tools.check_outputs([build / "SA", build / "SAindex", build / "sjdbList.out.tab"],
                            "STAR genomeGenerate")
        shutil.move(build, out)


run(main, snakemake)  # noqa: F821
