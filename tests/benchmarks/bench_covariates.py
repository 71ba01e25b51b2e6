"""Benchmark: RNA-PC covariates and SVA at the reference study's scale (22,332 genes x 694).

Times, on a seeded simulation (5 hidden factors, a group effect on 5% of genes, age and sex):
residualize + residual PCA + kneedle + group association (bloodsig.de.covariates), num_sv("be",
B=20) and irw_sva (bloodsig.stats.sva); optionally R's sva::num.sv("be") and numpy's at a smaller
size for comparison. Prints wall time and peak RSS (of this process, cumulative; of the R
process from its VmHWM). BLAS threads follow OPENBLAS_NUM_THREADS / OMP_NUM_THREADS.

    python tests/benchmarks/bench_covariates.py [--genes 22332] [--samples 694] [--seed 1]
        [--r-genes 5000 --r-samples 200]   # R comparison; --r-genes 0 skips it
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from bloodsig.de import covariates as cv  # noqa: E402
from bloodsig.stats import sva  # noqa: E402


def simulate(n_genes: int, n_samples: int, seed: int):
    rng = np.random.default_rng(seed)
    group = rng.permutation(np.arange(n_samples) % 2).astype(float)
    age = rng.normal(60, 10, n_samples)
    sex = rng.integers(0, 2, n_samples).astype(float)
    strengths = np.array([3.0, 2.0, 1.5, 1.0, 0.7])
    factors = rng.standard_normal((n_samples, len(strengths)))
    load = rng.standard_normal((n_genes, len(strengths))) * strengths
    load *= rng.uniform(size=load.shape) < 0.3
    de = (rng.uniform(size=n_genes) < 0.05) * rng.normal(0, 0.5, n_genes)
    expr = rng.standard_normal((n_genes, n_samples))
    expr += rng.normal(5, 2, (n_genes, 1)) + load @ factors.T + np.outer(de, group)
    expr += np.outer(rng.normal(0, 0.01, n_genes), age - 60)
    expr += np.outer(rng.normal(0, 0.3, n_genes), sex)
    samples = [f"S{i}" for i in range(n_samples)]
    expr = pd.DataFrame(expr, index=[f"G{i}" for i in range(n_genes)], columns=samples)
    bio = pd.DataFrame({"Intercept": 1.0, "age": age, "sex": sex}, index=samples)
    return expr, bio, pd.Series(group, index=samples, name="group")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<58s} {time.perf_counter() - t0:8.2f} s   peak RSS {peak_rss_mb():7.0f} MB")
    return out


R_NUM_SV = r"""
suppressMessages(library(sva))
dat <- as.matrix(read.delim("{wd}/expr.tsv", row.names = 1, check.names = FALSE))
mod <- as.matrix(read.delim("{wd}/mod.tsv", row.names = 1))
t0 <- proc.time()[["elapsed"]]
n <- num.sv(dat, mod, method = "be", B = 20, seed = 1)
hwm <- grep("^VmHWM", readLines("/proc/self/status"), value = TRUE)
cat(n, proc.time()[["elapsed"]] - t0, as.numeric(gsub("[^0-9]", "", hwm)) / 1024, "\n")
"""


def r_comparison(n_genes: int, n_samples: int, seed: int) -> None:
    if shutil.which("Rscript") is None:
        print("Rscript not found: R comparison skipped")
        return
    expr, bio, group = simulate(n_genes, n_samples, seed)
    mod = bio.assign(group=group)
    with tempfile.TemporaryDirectory() as wd:
        expr.to_csv(f"{wd}/expr.tsv", sep="\t", float_format="%.10g")
        mod.to_csv(f"{wd}/mod.tsv", sep="\t")
        res = subprocess.run(["Rscript", "-e", R_NUM_SV.replace("{wd}", wd)],
                             capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        print(f"R failed: {res.stderr[-500:]}")
        return
    n_r, secs, r_rss = res.stdout.split()
    n_py = timed(f"numpy num_sv('be', B=20) at {n_genes} x {n_samples}",
                 lambda: sva.num_sv(expr, mod, B=20, seed=seed))
    print(f"{f'R sva::num.sv(be, B=20) at {n_genes} x {n_samples}':<58s} {float(secs):8.2f} s"
          f"   peak RSS {float(r_rss):7.0f} MB (R process)")
    print(f"  n.sv: R {n_r}, numpy {n_py}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=22332)
    ap.add_argument("--samples", type=int, default=694)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--r-genes", type=int, default=5000)
    ap.add_argument("--r-samples", type=int, default=200)
    args = ap.parse_args()

    expr, bio, group = timed(f"simulate {args.genes} x {args.samples}",
                             lambda: simulate(args.genes, args.samples, args.seed))
    res = timed("RNA-PC covariates (residualize+PCA+kneedle+association)",
                lambda: cv.rna_pc_covariates(expr, bio, group, bio[["age", "sex"]]))
    print(f"  kneedle n_pcs {res.n_pcs}; kept {list(res.covariates.columns)}")
    mod = bio.assign(group=group)
    n_sv = timed("num_sv('be', B=20)", lambda: sva.num_sv(expr, mod, B=20, seed=args.seed))
    print(f"  num_sv {n_sv} (5 planted)")
    timed(f"irw_sva(n_sv={n_sv}, B=5)",
          lambda: sva.irw_sva(expr, mod, bio, n_sv=max(n_sv, 1), B=5))
    if args.r_genes:
        r_comparison(args.r_genes, args.r_samples, args.seed)


if __name__ == "__main__":
    main()
