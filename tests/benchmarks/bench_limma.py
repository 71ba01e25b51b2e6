"""Benchmark: bloodsig TMM + voom + lmFit + eBayes + topTable against R limma/edgeR.

At the reference study's scale (22,332 genes x 694 samples, design ~ group + age + sex +
4 gPCs + batch (6 levels) + library_type + 5 RNA PCs). Each side runs in its own child
process (wrapped so that its peak RSS is its own); the computation is timed inside the
child (from counts in memory to the top table) and the whole child is timed from outside.
bloodsig's numba kernels are compiled (or loaded from their cache) by a warm-up run on a
small matrix first, as any run after the first finds them cached; the warm-up time is
printed. Several sizes run one after the other (e.g. `--samples 694 5000`); R is stopped
after `--r-timeout` seconds (the comparison then says R was skipped).

    python tests/benchmarks/bench_limma.py [--genes 22332] [--samples 694 [5000 ...]]
        [--seed 1] [--threads 2] [--r-timeout 600] [--no-r]
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


def run_python(d: Path, threads: int) -> None:
    """Child: bloodsig's pipeline on the counts in ``d``; prints compute seconds (in all and
    per step) as JSON."""
    import numba
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    sys.path.insert(0, str(ROOT / "scripts"))
    from bloodsig.stats import design as dz
    from bloodsig.stats import limma, normalize

    ngenes, nsamples = map(int, (d / "dims.txt").read_text().split())
    counts = np.fromfile(d / "counts.i32", dtype=np.int32).reshape(
        (ngenes, nsamples), order="F").astype(np.float64)
    samples = pd.read_csv(d / "samples.tsv", sep="\t", index_col=0)
    design = dz.model_matrix((d / "formula.txt").read_text().strip(), samples,
                             {"group": "control"})
    steps, t0, c0 = {}, time.perf_counter(), time.process_time()

    def step(name, fn, *args, **kwargs):
        t, c = time.perf_counter(), time.process_time()
        out = fn(*args, **kwargs)
        steps[name] = [round(time.perf_counter() - t, 3), round(time.process_time() - c, 3)]
        return out

    nf = step("TMM", normalize.calc_norm_factors, counts)
    v = step("voom", limma.voom, counts, design, norm_factors=nf)
    fit = step("lmFit", limma.lm_fit, v["E"], design, v["weights"])
    fit = step("eBayes", limma.ebayes, fit)
    tt = step("topTable", limma.top_table, fit, "groupALS", sort_by="none")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    tt["t"].to_numpy().tofile(d / "py_t.f64")
    print(json.dumps({"compute_s": round(elapsed, 3), "compute_cpu_s": round(cpu, 3),
                      "steps": steps}))


def measured(cmd: list[str], timeout: float | None = None) -> dict | None:
    """Run ``cmd`` under a fresh wrapper process; return its JSON line, wall and CPU time and
    peak RSS (the wrapper's RUSAGE_CHILDREN then covers that one child only); None if it ran
    past ``timeout`` seconds (it is killed)."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               f"r = subprocess.run(sys.argv[1:], capture_output=True, text=True, "
               f"timeout={timeout}); "
               "w = time.perf_counter() - t; sys.stderr.write(r.stderr); "
               "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print(r.stdout.strip().splitlines()[-1] if r.returncode == 0 else '{}'); "
               "print(w, u.ru_utime + u.ru_stime, u.ru_maxrss); sys.exit(r.returncode)")
    res = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
    if "TimeoutExpired" in res.stderr:
        return None
    if res.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{res.stderr[-3000:]}")
    line, usage = res.stdout.strip().splitlines()[-2:]
    wall, cpu, rss = usage.split()
    return {**json.loads(line), "total_s": float(wall), "total_cpu_s": float(cpu),
            "peak_rss_gb": int(rss) / 1024**2}


def uptime() -> str:
    """The machine's load as `uptime` prints it (other work inflates wall times)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def compare(genes: int, samples: int, seed: int, threads: int, r_timeout: float | None,
            run_r: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        simulate(d, genes, samples, seed)
        print(f"\n== {genes} genes x {samples} samples (simulated in "
              f"{time.perf_counter() - t0:.1f} s); design {FORMULA}")
        (d / "bench.R").write_text(R_CODE)
        print(f"before: {uptime()}")
        py = measured([sys.executable, __file__, "--run-python", str(d),
                       "--threads", str(threads)])
        r = measured(["Rscript", str(d / "bench.R"), str(d)], r_timeout) if run_r else None
        print(f"after:  {uptime()}  ({os.cpu_count()} CPUs)")
        t_py = np.fromfile(d / "py_t.f64")
        t_r = np.fromfile(d / "r_t.f64") if r else None
    print("bloodsig steps (wall / CPU s): " + ", ".join(
        f"{k} {w:.2f} / {c:.2f}" for k, (w, c) in py["steps"].items()))
    for name, m in (("bloodsig", py), ("R limma", r)):
        if m is None:
            why = (f"skipped: ran past --r-timeout {r_timeout:.0f} s and was stopped" if run_r
                   else "skipped (--no-r)")
            print(f"{name:9s} {why}")
            continue
        print(f"{name:9s} compute {m['compute_s']:7.2f} s wall {m['compute_cpu_s']:7.2f} s CPU"
              f"   whole process {m['total_s']:7.2f} s wall {m['total_cpu_s']:7.2f} s CPU"
              f"   peak RSS {m['peak_rss_gb']:.2f} GB")
    if r is None:
        return
    print(f"speed-up: compute {r['compute_s'] / py['compute_s']:.1f}x wall, "
          f"{r['compute_cpu_s'] / py['compute_cpu_s']:.1f}x CPU; whole process "
          f"{r['total_s'] / py['total_s']:.1f}x wall, {r['total_cpu_s'] / py['total_cpu_s']:.1f}x"
          " CPU")
    rel = np.abs(t_py - t_r) / np.maximum(np.abs(t_r), 1e-12)
    print(f"max relative difference of t: {rel.max():.2e}")


def warm_up(threads: int) -> None:
    """Compile bloodsig's numba kernels, or load them from their cache, on a small matrix."""
    with tempfile.TemporaryDirectory() as tmp:
        simulate(Path(tmp), 500, 40, 0)
        t0 = time.perf_counter()
        measured([sys.executable, __file__, "--run-python", tmp, "--threads", str(threads)])
        print(f"warm-up (numba kernels compiled or loaded from cache, one small run): "
              f"{time.perf_counter() - t0:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genes", type=int, default=22332)
    ap.add_argument("--samples", type=int, nargs="+", default=[694])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="bloodsig's BLAS and numba threads")
    ap.add_argument("--r-timeout", type=float, default=600,
                    help="stop R after this many seconds and report it skipped")
    ap.add_argument("--no-r", action="store_true", help="time bloodsig only")
    ap.add_argument("--run-python", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run_python:
        run_python(args.run_python, args.threads)
        return
    warm_up(args.threads)
    for samples in args.samples:
        compare(args.genes, samples, args.seed, args.threads, args.r_timeout, not args.no_r)


if __name__ == "__main__":
    main()
