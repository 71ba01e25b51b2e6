"""Benchmark: bloodsig duplicate_correlation against R limma::duplicateCorrelation.

Simulated voom data with a subject effect, 20,000 genes x 45 samples (5 subjects x 9 visits,
design ~ visit time with 3 levels), with voom weights and without. Both sides read the same
E and weights; each reports the CPU and wall time of the call alone.

    python tests/benchmarks/bench_limma_block.py [--genes 20000] [--subjects 5] [--seed 1]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bloodsig.stats import limma, limma_block

R_CODE = r"""
suppressMessages(library(limma))
d <- commandArgs(trailingOnly=TRUE)[1]
E <- as.matrix(read.delim(file.path(d, "E.tsv"), row.names=1))
W <- as.matrix(read.delim(file.path(d, "W.tsv"), row.names=1))
s <- read.delim(file.path(d, "samples.tsv"), row.names=1, stringsAsFactors=TRUE)
design <- model.matrix(~time, s)
for (w in list(W, NULL)) {
  t <- system.time(dc <- duplicateCorrelation(E, design, block=s$subject, weights=w))
  cat(sprintf("R %s: cpu %.2f s, wall %.2f s, consensus %.7f\n",
              if (is.null(w)) "unweighted" else "weighted", t[["user.self"]],
              t[["elapsed"]], dc$consensus.correlation))
}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--genes", type=int, default=20000)
    ap.add_argument("--subjects", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    n = a.subjects * 9
    samples = pd.DataFrame({"subject": np.repeat([f"S{i}" for i in range(a.subjects)], 9),
                            "time": np.tile(["Fast", "h3", "h6"], n // 3)},
                           index=[f"X{i}" for i in range(n)])
    base = rng.normal(3, 2, a.genes)
    subj = rng.normal(0, 0.3, (a.genes, a.subjects))[:, np.repeat(np.arange(a.subjects), 9)]
    mu = np.exp(base[:, None] + subj) * rng.uniform(0.7, 1.3, n) * 20
    counts = pd.DataFrame(rng.negative_binomial(10, 10 / (10 + mu)), columns=samples.index,
                          index=[f"G{i}" for i in range(a.genes)])
    x = np.column_stack([np.ones(n), samples["time"] == "h3", samples["time"] == "h6"])
    x = x.astype(float)
    v = limma.voom(counts, x)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        v["E"].to_csv(d / "E.tsv", sep="\t")
        v["weights"].to_csv(d / "W.tsv", sep="\t")
        samples.to_csv(d / "samples.tsv", sep="\t")
        for w, label in ((v["weights"], "weighted"), (None, "unweighted")):
            c0, t0 = time.process_time(), time.perf_counter()
            dc = limma_block.duplicate_correlation(v["E"], x, samples["subject"], w)
            print(f"bloodsig {label}: cpu {time.process_time() - c0:.2f} s, wall "
                  f"{time.perf_counter() - t0:.2f} s, consensus "
                  f"{dc['consensus_correlation']:.7f}")
        subprocess.run(["Rscript", "-e", R_CODE, tmp], check=True)


if __name__ == "__main__":
    main()
