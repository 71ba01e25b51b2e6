"""Benchmark: the XGBoost RFE panel searches at the reference study's scale.

694 samples; DEG filters of 3,640, 3,261 and 2,621 genes (the study's FDR < 0.01 DEGs and
those with AveExpr > 0 and > 2, from its source data all_deg_sig); config/paper.yaml's XGBoost
and RFE settings (100 rounds, eta 0.1, max_depth 20, 64 histogram bins, 10-fold CV; coarse
halving steps ranked by one model down to 100 genes, then the curve in 10% steps). The genes
follow eight co-expression modules whose case shifts cap the AUC near 0.9, as in the
calibrated demo (`bloodsig.simulate.modules`): on such data the depth-20 trees grow deep, so a
fit costs several times what it costs on genes that each separate the groups alone.
The searches are those of classify_panels (three) and classify_nested (three per outer fold,
on the outer training part).

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
    return {**demo, "xgboost": paper["xgboost"], "rfe": paper["rfe"], "nested": paper["nested"]}


def data(seed: int = 1) -> tuple[pd.DataFrame, pd.Series]:
    """Expression of module genes: eight patient factors shifted 0.32-0.69 sd in cases, each
    gene one factor's loading 0.2-0.5 plus unit noise (all genes DEGs)."""
    rng = np.random.default_rng(seed)
    y = pd.Series((rng.random(N_SAMPLES) < CASE_FRACTION).astype(int),
                  index=[f"S{i:04d}" for i in range(N_SAMPLES)])
    shift = rng.choice([-1, 1], 8) * np.linspace(0.32, 0.69, 8)
    factors = rng.normal(size=(N_SAMPLES, 8)) + y.to_numpy()[:, None] * shift
    module = rng.integers(0, 8, FILTER_SIZES[0])
    x = factors[:, module] * rng.uniform(0.2, 0.5, FILTER_SIZES[0]) / 0.35 \
        + rng.normal(size=(N_SAMPLES, FILTER_SIZES[0]))
    return pd.DataFrame(x, index=y.index, columns=[f"G{j:05d}" for j in range(x.shape[1])]), y


def step_seconds(X, y, settings, n_genes: int, threads: int, n_samples: int
                 ) -> tuple[float, float]:
    """Wall and CPU time of one curve step at n_genes on n_samples: the k CV-fold fits, side
    by side on threads (a coarse step's one model costs about a k-th of it). On a busy shared
    machine CPU time / threads estimates the wall time on idle cores (the fits are
    independent)."""
    xs, yy = X.to_numpy()[:n_samples, :n_genes], y.to_numpy()[:n_samples]
    splits = list(StratifiedKFold(settings["rfe"]["cv_folds"], shuffle=True,
                                  random_state=1).split(xs, yy))
    t, c = time.perf_counter(), time.process_time()
    xgb = algorithms.XGBoostSettings.from_config(settings["xgboost"])
    algorithms._map(lambda s: algorithms.xgb_classifier(xgb, 1).fit(
        xs[s[0]], yy[s[0]]), splits, threads)
    return time.perf_counter() - t, time.process_time() - c


def search_seconds(n_genes: int, rfe: panel_selection.RFESettings, a: float, b: float) -> float:
    """One search's estimated time: a curve step costs a + b * genes, a coarse step a k-th."""
    sched = np.array(panel_selection.rfe_schedule(n_genes, rfe.drop_fraction, rfe.curve_from,
                                                  rfe.curve_drop_fraction))
    step = a + b * sched
    return float(np.sum(np.where(sched > rfe.curve_from, step / rfe.cv_folds, step)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="run the three panel searches")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", default="1000,300,100,20",
                    help="panel sizes timed for the estimate")
    args = ap.parse_args()
    settings = paper_settings()
    X, y = data()
    rfe = panel_selection.RFESettings.from_config(
        {"curve_drop_fraction": 0.0, "knee_max_genes": None, **settings["rfe"]})
    xgb = algorithms.XGBoostSettings.from_config(settings["xgboost"])
    if args.full:
        total = 0.0
        for n in FILTER_SIZES:
            t = time.perf_counter()
            res = panel_selection.rfe(X.iloc[:, :n], y, xgb, rfe, seed=1, n_jobs=args.threads)
            k = panel_selection.knee(res.curve, rfe)
            total += time.perf_counter() - t
            print(f"RFE over {n} genes: {time.perf_counter() - t:.0f} s, knee {k} genes",
                  flush=True)
        print(f"total {total / 60:.1f} min on {args.threads} threads")
        return
    outer = settings["nested"]["outer_folds"]
    inner_n = round(N_SAMPLES * (1 - 1 / outer))
    sizes = [int(s) for s in args.sizes.split(",")]
    for n_samples, label in ((N_SAMPLES, "panels"), (inner_n, f"nested ({outer} outer folds)")):
        wall, cpu = [], []
        for n in sizes:
            w, c = step_seconds(X, y, settings, n, args.threads, n_samples)
            wall.append(w)
            cpu.append(c / args.threads)
            print(f"one curve step at {n} genes, {n_samples} samples ({rfe.cv_folds} folds): "
                  f"{w:.1f} s wall, {c:.1f} s CPU", flush=True)
        searches = 1 if label == "panels" else outer
        for what, measured in (("wall", wall), ("CPU / threads", cpu)):
            b, a = np.polyfit(sizes, measured, 1)
            est = searches * sum(search_seconds(n, rfe, a, b) for n in FILTER_SIZES)
            print(f"[{what}] {label}: {3 * searches} searches, {est / 60:.1f} min on "
                  f"{args.threads} threads (a = {a:.2f} s, b = {b * 1000:.2f} ms/gene per step)")


if __name__ == "__main__":
    main()
