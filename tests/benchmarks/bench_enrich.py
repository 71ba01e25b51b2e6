"""Benchmark: stage enrich at the reference study's scale.

ORA of 2,000 up and 1,600 down DEGs among 22,332 tested genes against a GO-BP-sized
collection (16,000 sets of 5-2,000 genes; the real GO BP GMT from BLOODSIG_REFDATA when
set), the enrichment map of the 300 most significant terms, and preranked GSEA of 22,332
genes against 50 Hallmark-sized sets with 1,000 permutations.

    python tests/benchmarks/bench_enrich.py [--seed 1] [--permutations 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from bloodsig.core.gmt import read_gmt  # noqa: E402
from bloodsig.enrich.enrichmap import MapSettings, enrichment_map  # noqa: E402
from bloodsig.enrich.gsea import GseaSettings, prerank, rank_statistic  # noqa: E402
from bloodsig.enrich.ora import OraSettings, ora_up_down  # noqa: E402


def _collection(genes: np.ndarray, rng: np.random.Generator) -> dict:
    ref = os.environ.get("BLOODSIG_REFDATA")
    path = Path(ref or "") / "gene_sets/GO_BP_propagated.orgHsegdb3.16.symbols.gmt.gz"
    if ref and path.exists():
        t0 = time.perf_counter()
        sets, _ = read_gmt(path)
        print(f"read GO BP GMT ({len(sets)} sets): {time.perf_counter() - t0:.2f} s")
        return sets
    sizes = np.clip(np.exp(rng.normal(np.log(40), 1.2, 16_000)), 5, 2000).astype(int)
    return {f"SET{i:05d}": tuple(rng.choice(genes, s, replace=False))
            for i, s in enumerate(sizes)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--permutations", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n = 22_332
    sets = _collection(np.array([f"G{i}" for i in range(n)]), rng)
    pool = np.array(sorted({g for s in sets.values() for g in s}))
    genes = np.concatenate([pool, [f"X{i}" for i in range(max(n - len(pool), 0))]])[:n]
    t = rng.normal(size=n)
    tt = pd.DataFrame({"gene_name": genes, "logFC": t / 10,
                       "P.Value": np.clip(np.exp(-np.abs(t) * 3), 1e-300, 1)})
    order = np.argsort(-np.abs(t))
    up = tt.iloc[[i for i in order if t[i] > 0][:2000]]
    down = tt.iloc[[i for i in order if t[i] < 0][:1600]]

    t0 = time.perf_counter()
    table = ora_up_down(tt, up, down, sets, OraSettings("tested", 10, 500))
    print(f"ORA up+down, {len(sets)} sets x {n} genes: {time.perf_counter() - t0:.2f} s "
          f"({len(table)} tests)")
    t0 = time.perf_counter()
    top = table.nsmallest(300, "pvalue").assign(FDR=0.0)
    emap = enrichment_map(top, sets, MapSettings(fdr=0.01, similarity="jaccard", cutoff=0.25))
    print(f"enrichment map, 300 terms: {time.perf_counter() - t0:.2f} s "
          f"({len(emap.edges)} edges, {emap.nodes['theme'].nunique()} themes)")
    hallmark = {f"H{i:02d}": tuple(rng.choice(genes, int(rng.integers(30, 200)), replace=False))
                for i in range(50)}
    t0 = time.perf_counter()
    res = prerank(rank_statistic(tt), hallmark,
                  GseaSettings(args.permutations, min_size=15, max_size=500, plots=0), seed=1)
    print(f"GSEA prerank, {n} genes x 50 sets x {args.permutations} permutations: "
          f"{time.perf_counter() - t0:.2f} s ({len(res.table)} sets)")


if __name__ == "__main__":
    main()
