"""`python -m bloodsig.simulate OUTDIR`: write the demo cohorts (see bloodsig.simulate)."""

from __future__ import annotations

import argparse
import time

from . import SCALES, write_demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bloodsig.simulate", description=__doc__)
    parser.add_argument("outdir")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", choices=sorted(SCALES), default="demo")
    parser.add_argument("--no-reads", action="store_true",
                        help="skip the external cohort's genome and FASTQ files")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    write_demo(args.outdir, args.seed, scale=args.scale, reads=not args.no_reads)
    print(f"wrote {args.scale} cohorts to {args.outdir} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
