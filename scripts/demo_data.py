"""Rule demo_data: simulate the embedded demo cohorts into results/demo/."""

from pathlib import Path

from bloodsig.core.script import run
from bloodsig.simulate import write_demo


def main(smk):
    outdir = Path(smk.output[0]).parents[1]  # results/demo/discovery/counts.tsv -> results/demo
    write_demo(outdir, seed=smk.params.seed, scale=smk.params.scale)


run(main, snakemake)  # noqa: F821
