"""Benchmark: the survival stage's heavy steps at the reference study's scale.

About 400 cases with survival data (694 samples, ~60% cases), ~12,000 input genes without an
external-cohort filter, ~575 screened genes (the study's count), ~100 hub candidates:
log-rank screen of every gene, WGCNA-like hubs, stepwise Cox, one XGBoost-Cox grid, the
C-index with its Kang (2015) SE and one compareC test, and one honest train/test split.

    python tests/benchmarks/bench_survival.py [--cases 400] [--genes 12000] [--seed 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from bloodsig.stats import discrimination  # noqa: E402
from bloodsig.stats import survival as sv  # noqa: E402
from bloodsig.stats.coexpression import coexpression_hubs  # noqa: E402
from bloodsig.survival import inputs, selection  # noqa: E402

SETTINGS = {
    "clinical": ["onset_segment", "onset_age", "sex"], "logrank_p": 0.01, "ties": "breslow",
    "coexpression": {"power": "auto", "r2_cutoff": 0.8, "cut_height": 0.95,
                     "min_module_size": 30, "hub_fraction": 0.1},
    "stepwise": {"max_steps": 50},
    "xgboost": {"folds": 5, "top_genes": 20,
                "grid": {"max_depth": [2, 3], "learning_rate": [0.05], "n_rounds": [100, 300],
                         "subsample": [0.8], "colsample_bytree": [0.8],
                         "min_child_weight": [1]}},
}
SELECTION = selection.SelectionSettings.from_config(SETTINGS)


def simulate(n, n_genes, seed):
    rng = np.random.default_rng(seed)
    modules = rng.normal(size=(n, 20))
    load = np.zeros((n_genes, 20))
    member = rng.integers(0, 20, n_genes)
    load[np.arange(n_genes), member] = rng.uniform(0.3, 1.5, n_genes)
    x = modules @ load.T + rng.normal(size=(n, n_genes)) * 0.6
    expr = pd.DataFrame(x, columns=[f"G{i:05d}" for i in range(n_genes)])
    bulbar, age, male = rng.random(n) < 0.3, rng.normal(60, 10, n), rng.random(n) < 0.6
    eta = 0.8 * bulbar + 0.035 * (age - 60) + x[:, :10] @ rng.uniform(-0.3, 0.3, 10)
    t = 36 * (rng.exponential(size=n) / np.exp(eta)) ** (1 / 1.3)
    c = rng.exponential(80, n)
    cases = pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int),
                          "onset_segment": np.where(bulbar, "bulbar", "spinal"),
                          "onset_age": age, "sex": np.where(male, "male", "female")})
    return expr, cases


def timed(label, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<40s} {time.perf_counter() - t0:8.2f} s", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=400)
    ap.add_argument("--genes", type=int, default=12000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    expr, cases = simulate(args.cases, args.genes, args.seed)
    clin = inputs.clinical_matrix(cases, SETTINGS["clinical"], {"onset_segment": "spinal"})
    time_, event = cases["time"], cases["event"]
    screen = timed(f"log-rank screen ({args.genes} genes)",
                   lambda: selection.logrank_screen(expr, time_, event, 0.01))
    top = screen.nsmallest(575, "p_value")["gene_id"]
    co = SETTINGS["coexpression"]
    mods = timed("co-expression hubs (575 genes)", lambda: coexpression_hubs(
        expr[top], r2_cutoff=co["r2_cutoff"], cut_height=co["cut_height"],
        min_module_size=co["min_module_size"], hub_fraction=co["hub_fraction"]))
    cand = mods.table.loc[mods.table["hub"], "gene_id"].tolist()[:100]
    print(f"  {int(mods.table['module'].max())} modules, {len(cand)} candidates")
    timed(f"stepwise Cox ({len(cand)} candidates)", lambda: selection.stepwise_cox(
        clin, expr[cand], sv.CoxData(time_, event), "breslow", 50))
    x = pd.concat([clin, expr[cand]], axis=1)
    timed("XGBoost-Cox grid (4 settings x 5 folds)", lambda: selection.xgboost_cox(
        x, time_, event, cand, SELECTION.xgboost, args.seed))
    risk = x.to_numpy() @ np.r_[0.8, 0.03, 0.1, np.zeros(len(cand))]
    timed(f"C-index + Kang SE (n={args.cases})",
          lambda: discrimination.concordance(time_, event, risk))
    timed("compareC test",
          lambda: discrimination.compare_concordance(time_, event, risk, x.iloc[:, 3]))
    timed("td-AUC at 7 times", lambda: discrimination.cumulative_dynamic_auc(
        time_, event, risk, np.arange(24, 97, 12)))
    sub = expr[top]
    timed("one honest split (selection + models)", lambda: selection.select_genes(
        sub.iloc[:320], clin.iloc[:320], time_[:320], event[:320],
        dataclasses.replace(SELECTION, logrank_p=0.05), args.seed))


if __name__ == "__main__":
    main()
