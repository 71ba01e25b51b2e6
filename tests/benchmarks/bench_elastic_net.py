"""Benchmark: the elastic net's tuning in classify_compare, prox-Newton against saga.

Each tuning fold fits the alpha grid as a warm-started path (`algorithms._tune`); this times
one such path per fold and the refit on the whole training part with the stage's solver
(skglm's prox-Newton) and with the one it replaced (scikit-learn's saga, tol 1e-4, as
bloodsig used it), and sets the objective each reaches at every alpha beside the other:
mean log-loss + alpha * (l1_ratio |b|_1 + (1 - l1_ratio) / 2 |b|_2^2), intercept unpenalised.

    python tests/benchmarks/bench_elastic_net.py                  # simulated study-scale genes
    python tests/benchmarks/bench_elastic_net.py --run /path/to/project --config config/paper.yaml

--run reads a finished run's DE outputs and sample table (results/<cohort>/) with that run's
config, and builds the training part and folds as classify_compare does. Without it: 688
samples of `bench_classify.data`'s module genes (2,369, the study's FDR filter after QC).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_classify import data as module_data  # noqa: E402

from bloodsig.classify import algorithms  # noqa: E402
from bloodsig.classify import models as classify  # noqa: E402
from bloodsig.classify.features import (  # noqa: E402
    CaseControl,
    _groups,
    grouped_folds,
    grouped_split,
)
from bloodsig.core.cohort import read_samples  # noqa: E402


def objective(x, y, coef, intercept, alpha, l1_ratio) -> float:
    """The elastic net's objective at (coef, intercept); y in {0, 1}."""
    margin = np.where(y == 1, 1.0, -1.0) * (x @ coef + intercept)
    return float(np.mean(np.logaddexp(0.0, -margin))
                 + alpha * (l1_ratio * np.abs(coef).sum() + (1 - l1_ratio) / 2 * coef @ coef))


def merged_config(run: Path, extra: str | None) -> dict:
    """config/config.yaml updated by `extra` (nested mappings merged, as snakemake does)."""
    def merge(a, b):
        return {**a, **{k: merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict)
                        else v for k, v in b.items()}}

    cfg = yaml.safe_load((run / "config/config.yaml").read_text())
    return merge(cfg, yaml.safe_load((run / extra).read_text())) if extra else cfg


def run_data(run: Path, extra: str | None, cohort: str):
    cfg = merged_config(run, extra)
    sheet = {"other_groups": [], **cfg["samples"]}
    settings = classify.ClassifySettings.from_config(cfg["classify"])
    d = run / "results" / cohort
    samples = d / "expression_qc/samples.tsv"
    de = d / "de" / cfg["classify"]["analysis"]
    data = classify.read_training_data(de / "toptable.tsv", de / "residuals.tsv",
                                       read_samples(samples, sheet), CaseControl.from_config(sheet),
                                       settings.filters, samples)
    return (data.X[data.sets[settings.compare.filter]], data.y, data.groups, settings.compare,
            settings.xgboost, cfg["seed"])


def simulated_data():
    root = Path(__file__).resolve().parents[2]
    cfg = yaml.safe_load((root / "config/config.yaml").read_text())
    paper = yaml.safe_load((root / "config/paper.yaml").read_text())["classify"]
    settings = classify.ClassifySettings.from_config(
        {**cfg["classify"], "compare": {**cfg["classify"]["compare"], **paper["compare"]}})
    X, y = module_data()
    return X.iloc[:688, :2369], y.iloc[:688], None, settings.compare, settings.xgboost, 1


def saga_path(x, y, alphas, l1_ratio, seed):
    """The replaced solver: saga warm-started along the path (tol 1e-4, max_iter 5000)."""
    est = LogisticRegression(l1_ratio=l1_ratio, solver="saga", tol=1e-4, max_iter=5000,
                             random_state=seed, warm_start=True)
    fits = []
    for alpha in alphas:
        est.set_params(C=1.0 / (alpha * len(y))).fit(x, y)
        fits.append((est.coef_.ravel().copy(), float(est.intercept_[0])))
    return fits


def new_path(x, y, alphas, l1_ratio, _seed):
    est, fits = None, []
    for alpha in alphas:
        est = algorithms.PenalisedLogistic("elastic_net", alpha=alpha,
                                           l1_ratio=l1_ratio).fit(x, y, init=est)
        fits.append((est.coef_, est.intercept_))
    return fits


def timed(fn, *args):
    t, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, help="project directory of a finished run")
    ap.add_argument("--config", help="its extra config file (relative to --run)")
    ap.add_argument("--cohort", default="discovery")
    ap.add_argument("--folds", type=int, help="only the first k folds (default all)")
    args = ap.parse_args()
    X, y, groups, settings, xgb, seed = (run_data(args.run, args.config, args.cohort)
                                         if args.run else simulated_data())
    g = _groups(y, groups)
    train, _ = grouped_split(y, g, settings.test_fraction, seed)
    xtr, ytr = X.to_numpy()[train], y.to_numpy()[train]
    cv = grouped_folds(y.iloc[train], g.iloc[train], settings.cv_folds, seed, "bench")
    alphas, ratio = sorted(settings.alphas["elastic_net"], reverse=True), settings.l1_ratio
    print(f"{len(ytr)} training samples x {xtr.shape[1]} genes, {len(cv)} folds, "
          f"alphas {alphas}, l1_ratio {ratio}", flush=True)
    new_path(xtr[:50], ytr[:50], alphas[:1], ratio, seed)  # numba compiles skglm's solver
    parts = [(f"fold {k}", tr) for k, (tr, _) in enumerate(cv[:args.folds])]
    totals = {"saga": [0.0, 0.0], "prox-Newton": [0.0, 0.0]}
    worst = -np.inf
    for name, rows in [*parts, ("refit (all training)", np.arange(len(ytr)))]:
        x = StandardScaler().fit_transform(xtr[rows])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # saga's ConvergenceWarning, if any
            results = {s: timed(f, x, ytr[rows], alphas, ratio, seed)
                       for s, f in [("saga", saga_path), ("prox-Newton", new_path)]}
        line = [name]
        for s, (_, wall, cpu) in results.items():
            totals[s][0] += wall
            totals[s][1] += cpu
            line.append(f"{s} {wall:.2f} s wall / {cpu:.2f} s CPU")
        print(", ".join(line), flush=True)
        for alpha, old, new in zip(alphas, results["saga"][0], results["prox-Newton"][0],
                                   strict=True):
            o, n = (objective(x, ytr[rows], c, b, alpha, ratio) for c, b in (old, new))
            worst = max(worst, (n - o) / abs(o))
            print(f"  alpha {alpha:g}: objective saga {o:.10f} (nnz {np.sum(old[0] != 0)}), "
                  f"prox-Newton {n:.10f} (nnz {np.sum(new[0] != 0)}), "
                  f"(new - old) / old {(n - o) / abs(o):+.2e}", flush=True)
    for s, (wall, cpu) in totals.items():
        print(f"{s}: all paths {wall:.1f} s wall / {cpu:.1f} s CPU")
    print(f"largest (new - old) / old objective: {worst:+.2e}")
    _, wall, cpu = timed(algorithms._tune, "elastic_net", xtr, ytr, cv, settings, xgb, seed, 1)
    print(f"_tune('elastic_net') with prox-Newton, one thread: {wall:.1f} s wall / "
          f"{cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
