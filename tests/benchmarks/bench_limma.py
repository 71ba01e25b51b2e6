"""Benchmark: bloodsig TMM + voom + lmFit + eBayes + topTable against R limma/edgeR.

At the reference study's scale (22,332 genes x 694 samples, design ~ group + age + sex +
4 gPCs + batch (6 levels) + library_type + 5 RNA PCs). Each side runs in its own child
process (wrapped so that its peak RSS is its own); the computation is timed inside the
child (from counts in memory to the top table) and the whole child is timed from outside.

    python tests/benchmarks/bench_limma.py [--genes 22332] [--samples 694] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
FORMULA = ("~ group + age + sex + gPC1 + gPC2 + gPC3 + gPC4 + batch + library_type"
           " + rPC1 + rPC2 + rPC3 + rPC4 + rPC5")

R_CODE = r"""
args <- commandArgs(trailingOnly=TRUE)
suppressMessages({library(limma); library(edgeR)})
d <- args[1]
dims <- scan(file.path(d, "dims.txt"), quiet=TRUE)
counts <- matrix(readBin(file.path(d, "counts.i32"), "integer", n=dims[1]*dims[2], size=4),
                 nrow=dims[1], ncol=dims[2])
samples <- read.delim(file.path(d, "samples.tsv"), row.names=1, stringsAsFactors=TRUE)
samples$group <- relevel(samples$group, "control")
design <- model.matrix(as.formula(readLines(file.path(d, "formula.txt"))), data=samples)
t0 <- proc.time()
dge <- calcNormFactors(DGEList(counts))
v <- voom(dge, design)
fit <- eBayes(lmFit(v, design))
tt <- topTable(fit, coef="groupALS", number=Inf, sort.by="none")
el <- proc.time() - t0
writeBin(as.double(tt$t), file.path(d, "r_t.f64"))
cat(sprintf('{"compute_s": %.3f, "compute_cpu_s": %.3f}\n', el[["elapsed"]],
            el[["user.self"]] + el[["sys.self"]]))
"""


def simulate(path: Path, ngenes: int, nsamples: int, seed: int) -> None:
    """NB counts with group, sex, batch, library-type and latent-factor effects."""
    rng = np.random.default_rng(seed)
    samples = pd.DataFrame({
        "group": rng.choice(["ALS", "control"], nsamples, p=[0.6, 0.4]),
        "age": rng.normal(62, 11, nsamples).round(1),
        "sex": rng.choice(["female", "male"], nsamples),
        "batch": rng.choice([f"plate{i}" for i in range(1, 7)], nsamples),
        "library_type": rng.choice(["polyA", "ribo"], nsamples, p=[0.7, 0.3]),
    }, index=[f"S{i:04d}" for i in range(nsamples)])
    for k in range(1, 5):
        samples[f"gPC{k}"] = rng.normal(0, 0.02, nsamples)
    latent = rng.normal(0, 1, (nsamples, 5))
    for k in range(5):
        samples[f"rPC{k + 1}"] = latent[:, k] + rng.normal(0, 0.3, nsamples)
    base = rng.normal(3.5, 2.2, ngenes)
    de = rng.random(ngenes) < 0.15
    lfc = np.where(de, rng.normal(0, 0.4, ngenes), 0.0)
    bcode = samples["batch"].str[-1].astype(int).to_numpy() - 1
    eta = (base[:, None] + lfc[:, None] * (samples["group"] == "ALS").to_numpy()
           + rng.normal(0, 0.3, ngenes)[:, None] * (samples["sex"] == "male").to_numpy()
           + rng.normal(0, 0.15, (ngenes, 6))[:, bcode]
           + rng.normal(0, 0.3, ngenes)[:, None] * (samples["library_type"] == "ribo").to_numpy()
           + rng.normal(0, 0.15, (ngenes, 5)) @ latent.T)
    mu = np.exp(eta) * rng.uniform(0.5, 2.0, nsamples)
    disp = 0.03 + 0.5 / np.sqrt(np.exp(base))
    counts = rng.negative_binomial(1 / disp[:, None], 1 / (1 + mu * disp[:, None]))
    np.asfortranarray(counts.astype(np.int32)).ravel(order="F").tofile(path / "counts.i32")
    (path / "dims.txt").write_text(f"{ngenes} {nsamples}\n")
    samples.to_csv(path / "samples.tsv", sep="\t")
    (path / "formula.txt").write_text(FORMULA + "\n")


def run_python(d: Path) -> None:
    """Child: bloodsig's pipeline on the counts in ``d``; prints compute seconds as JSON."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from bloodsig import design as dz
    from bloodsig import limma, normalize

    ngenes, nsamples = map(int, (d / "dims.txt").read_text().split())
    counts = np.fromfile(d / "counts.i32", dtype=np.int32).reshape(
        (ngenes, nsamples), order="F").astype(np.float64)
    samples = pd.read_csv(d / "samples.tsv", sep="\t", index_col=0)
    design = dz.model_matrix((d / "formula.txt").read_text().strip(), samples,
                             {"group": "control"})
    t0, c0 = time.perf_counter(), time.process_time()
    nf = normalize.calc_norm_factors(counts)
    v = limma.voom(counts, design, norm_factors=nf)
    fit = limma.ebayes(limma.lm_fit(v["E"], design, v["weights"]))
    tt = limma.top_table(fit, "groupALS", sort_by="none")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    tt["t"].to_numpy().tofile(d / "py_t.f64")
    print(json.dumps({"compute_s": round(elapsed, 3), "compute_cpu_s": round(cpu, 3)}))


def measured(cmd: list[str]) -> dict:
    """Run ``cmd`` under a fresh wrapper process; return its JSON line, wall and CPU time and
    peak RSS (the wrapper's RUSAGE_CHILDREN then covers that one child only)."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "w = time.perf_counter() - t; sys.stderr.write(r.stderr); "
               "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print(r.stdout.strip().splitlines()[-1] if r.returncode == 0 else '{}'); "
               "print(w, u.ru_utime + u.ru_stime, u.ru_maxrss); sys.exit(r.returncode)")
    res = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{res.stderr[-3000:]}")
    line, usage = res.stdout.strip().splitlines()[-2:]
    wall, cpu, rss = usage.split()
    return {**json.loads(line), "total_s": float(wall), "total_cpu_s": float(cpu),
            "peak_rss_gb": int(rss) / 1024**2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=22332)
    ap.add_argument("--samples", type=int, default=694)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--run-python", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run_python:
        run_python(args.run_python)
        return
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        simulate(d, args.genes, args.samples, args.seed)
        print(f"simulated {args.genes} genes x {args.samples} samples in "
              f"{time.perf_counter() - t0:.1f} s; design {FORMULA}")
        (d / "bench.R").write_text(R_CODE)
        load0 = os.getloadavg()[0]
        py = measured([sys.executable, __file__, "--run-python", str(d)])
        r = measured(["Rscript", str(d / "bench.R"), str(d)])
        t_py = np.fromfile(d / "py_t.f64")
        t_r = np.fromfile(d / "r_t.f64")
    print(f"load average (1 min) before/after: {load0:.1f} / {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs (other work inflates wall times; CPU times are steadier)")
    for name, m in (("bloodsig", py), ("R limma", r)):
        print(f"{name:9s} compute {m['compute_s']:7.2f} s wall {m['compute_cpu_s']:7.2f} s CPU"
              f"   whole process {m['total_s']:7.2f} s wall {m['total_cpu_s']:7.2f} s CPU"
              f"   peak RSS {m['peak_rss_gb']:.2f} GB")
    print(f"speed-up: compute {r['compute_s'] / py['compute_s']:.1f}x wall, "
          f"{r['compute_cpu_s'] / py['compute_cpu_s']:.1f}x CPU; whole process "
          f"{r['total_s'] / py['total_s']:.1f}x wall")
    rel = np.abs(t_py - t_r) / np.maximum(np.abs(t_r), 1e-12)
    print(f"max relative difference of t: {rel.max():.2e}")


if __name__ == "__main__":
    main()
