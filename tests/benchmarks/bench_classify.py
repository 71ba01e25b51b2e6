"""Benchmark: the three XGBoost RFE panel searches at the reference study's scale.

694 samples; DEG filters of 3,640, 3,261 and 2,621 genes (the study's FDR < 0.01 DEGs and
those with AveExpr > 0 and > 2, from its source data all_deg_sig); config/paper.yaml's XGBoost
and RFE settings (100 rounds, eta 0.1, max_depth 20, 64 histogram bins, 10-fold CV, 15% steps
down to 100 genes, then one at a time). Target: under 15 minutes in total on 2 cores.

    python tests/benchmarks/bench_classify.py            # estimate from timed steps
    python tests/benchmarks/bench_classify.py --full     # run the three searches

The estimate times every fold fit of RFE steps at a few panel sizes, fits
seconds = a + b * n_genes and sums that over each search's schedule (the cost of one step is
linear in the number of genes for histogram trees at fixed depth and rounds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from bloodsig.classify import algorithms, panel_selection  # noqa: E402

N_SAMPLES, FILTER_SIZES, CASE_FRACTION = 694, (3640, 3261, 2621), 0.65


def paper_settings() -> dict:
    root = Path(__file__).resolve().parents[2]
    demo = yaml.safe_load((root / "config/config.yaml").read_text())["classify"]
    paper = yaml.safe_load((root / "config/paper.yaml").read_text())["classify"]
    return {**demo, "xgboost": paper["xgboost"], "rfe": paper["rfe"]}


def data(seed: int = 1) -> tuple[pd.DataFrame, pd.Series]:
    """Standardised expression with a small planted case effect on every gene (all DEGs)."""
    rng = np.random.default_rng(seed)
    y = pd.Series((rng.random(N_SAMPLES) < CASE_FRACTION).astype(int),
                  index=[f"S{i:04d}" for i in range(N_SAMPLES)])
    effect = rng.choice([-1, 1], FILTER_SIZES[0]) * rng.uniform(0.1, 0.6, FILTER_SIZES[0])
    x = rng.normal(size=(N_SAMPLES, FILTER_SIZES[0])) + y.to_numpy()[:, None] * effect
    return pd.DataFrame(x, index=y.index, columns=[f"G{j:05d}" for j in range(x.shape[1])]), y


def step_seconds(X, y, settings, n_genes: int, threads: int) -> tuple[float, float]:
    """Wall and CPU time of one RFE step at n_genes: the k CV-fold fits, side by side on
    threads. On a busy shared machine CPU time / threads estimates the wall time on idle
    cores (the fold fits are independent)."""
    xs, yy = X.to_numpy()[:, :n_genes], y.to_numpy()
    splits = list(StratifiedKFold(settings["rfe"]["cv_folds"], shuffle=True,
                                  random_state=1).split(xs, yy))
    t, c = time.perf_counter(), time.process_time()
    xgb = algorithms.XGBoostSettings.from_config(settings["xgboost"])
    algorithms._map(lambda s: algorithms.xgb_classifier(xgb, 1).fit(
        xs[s[0]], yy[s[0]]), splits, threads)
    return time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="run the three searches")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="2000,800,200,50",
                    help="panel sizes timed for the estimate")
    args = ap.parse_args()
    settings = paper_settings()
    X, y = data()
    r = settings["rfe"]
    if args.full:
        total = 0.0
        for n in FILTER_SIZES:
            t = time.perf_counter()
            panel_selection.rfe(X.iloc[:, :n], y,
                                algorithms.XGBoostSettings.from_config(settings["xgboost"]),
                                r["drop_fraction"], r["stepwise_below"], r["cv_folds"], seed=1,
                                n_jobs=args.threads)
            total += time.perf_counter() - t
            print(f"RFE over {n} genes: {time.perf_counter() - t:.0f} s", flush=True)
        print(f"total {total / 60:.1f} min on {args.threads} threads")
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    wall, cpu = [], []
    for n in sizes:
        w, c = step_seconds(X, y, settings, n, args.threads)
        wall.append(w)
        cpu.append(c / args.threads)
        print(f"one RFE step at {n} genes ({r['cv_folds']} folds): {w:.1f} s wall, "
              f"{c:.1f} s CPU", flush=True)
    for label, measured in (("wall", wall), ("CPU / threads", cpu)):
        b, a = np.polyfit(sizes, measured, 1)
        total = 0.0
        for n in FILTER_SIZES:
            sched = np.array(panel_selection.rfe_schedule(n, r["drop_fraction"],
                                                          r["stepwise_below"]))
            est = float(np.sum(a + b * sched))
            total += est
            print(f"[{label}] RFE over {n} genes: {len(sched)} steps, {est / 60:.1f} min")
        print(f"[{label}] estimated total {total / 60:.1f} min on {args.threads} threads "
              f"(a = {a:.2f} s, b = {b * 1000:.2f} ms/gene per step)")


if __name__ == "__main__":
    main()
