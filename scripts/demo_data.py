"""Rule demo_data: simulate the embedded demo cohorts into results/demo/."""

from bloodsig.script import run
from bloodsig.simulate import write_demo


def main(smk):
    write_demo(smk.params.outdir, seed=smk.params.seed, scale=smk.params.scale)


run(main, snakemake)  # noqa: F821
