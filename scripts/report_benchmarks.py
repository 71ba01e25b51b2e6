"""Rule report_benchmarks: every benchmark file of the run in results/benchmarks.tsv and the
10 slowest rules as a figure for the report."""

import logging
from pathlib import Path

from bloodsig.core import benchmarks
from bloodsig.core.io import save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots import report as plots


def main(smk):
    patterns = smk.params.patterns
    files = sorted(str(p) for p in Path(smk.params.folder).rglob(f"*{smk.params.suffix}"))
    table = benchmarks.gather(files, patterns)
    unknown = len(files) - len(table)
    if unknown:
        logging.getLogger(__name__).info("%d benchmark file(s) of no current rule left out",
                                         unknown)
    logging.getLogger(__name__).info("%d jobs of %d rules, %.1f s in all", len(table),
                                     table["rule"].nunique(), table["s"].sum())
    write_tsv(table, smk.output.table)
    slowest = benchmarks.slowest_rules(table, smk.params.top)
    write_tsv(slowest, smk.output.slowest)
    save_figure(plots.slowest_rules(slowest), smk.output.figure)


run(main, snakemake)  # noqa: F821
