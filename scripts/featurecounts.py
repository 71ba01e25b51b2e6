"""Rule featurecounts: count a sample's fragments per gene with the strandedness it resolved."""

from pathlib import Path

from bloodsig.core.io import read_tsv, scratch_dir
from bloodsig.core.script import run
from bloodsig.reads import tools


def main(smk):
    found = read_tsv(smk.input.strandedness, what="strandedness").iloc[0]
    out = Path(smk.output.counts)
    with scratch_dir(out) as tmp:
        counts = tmp / out.name
        cmd = tools.featurecounts_command(smk.input.bam, smk.input.gtf, counts, found["used"],
                                          found["layout"] == "paired", smk.threads,
                                          smk.params.attribute, smk.params.feature)
        tools.run_tool(cmd, "featureCounts", smk.input.gtf, smk.log[0])
        summary = Path(f"{counts}.summary")
        tools.check_outputs([counts, summary], "featureCounts")
        summary.replace(smk.output.summary)
        counts.replace(out)


run(main, snakemake)  # noqa: F821
