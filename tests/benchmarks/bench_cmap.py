"""Benchmark: the CMap signature store and query engine at the full size of LINCS GSE92742.

GSE92742 in BING space is 473,647 signatures x 10,174 genes. `--full` measures that size, not
a fraction of it:

1. the store build (wall, CPU, peak RSS, bytes on disk) in a child process. When the disk
   cannot hold the release's GCTX (12,328 genes, float32) and the store together, with
   KEEP_FREE left to the machine's other users, the store is written directly from synthetic
   blocks of scores through the same writer (bloodsig.connectivity.store.StoreWriter: ranking,
   gene-major writes) that the GCTX path uses, and the GCTX reading path is timed separately
   on a part of the signatures (GCTX written, then built into a second store);
2. in a second child limited to 2 threads: the first query after the build (fresh process,
   store just written: opening the store, loading background.npy as rule connectivity_score
   does, the query), one query of 150 up + 150 down genes (median of 3) and a batch of 25
   such queries, each with the whole scoring of bloodsig.connectivity.queries.analyse_queries (ES,
   WTCS, NCS, FDR against the store's null signatures, tau, perturbagen summaries,
   candidates), the enrichment scan alone, and the reference background for tau.

Values are synthetic (standard normal scores); ids are realistic (LINCS sig_id, BRD pert_id,
Entrez gene ids, the 9 core cell lines; 5% of signatures are DMSO controls, the FDR null).
Wall times depend on the machine's load: the load average is printed beside them, and CPU
seconds / 2 is the wall time the same work takes on 2 idle cores. Everything is written under
a temporary folder in /tmp that is removed at the end (--keep to keep it).

    python tests/benchmarks/bench_cmap.py --full [--background 100] [--workdir DIR] [--keep]
    python tests/benchmarks/bench_cmap.py --signatures 47365      # a quick smaller run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
N_SIGNATURES = 473_647
N_GENES = 10_174  # BING space
N_GCTX_GENES = 12_328
STORE_BYTES_PER_VALUE = 4 + 2  # float32 scores + int16 ranks
GCTX_PART = 0.1  # share of the signatures written as a GCTX to time the reading path
KEEP_FREE = 30 * 2**30  # disk left to the other users of the machine
TARGETS = {"full_single": 5.0, "full_batch_per_query": 1.0, "first_query": 10.0,
           "peak_rss_mb": 4096}

SETUP = r"""
import json, os, resource, sys, time
import numpy as np, pandas as pd
sys.path.insert(0, sys.argv[1] + "/scripts")
from bloodsig.connectivity import release
from bloodsig.connectivity import store as cmapstore
CELLS = ["A375", "A549", "HA1E", "HCC515", "HEPG2", "HT29", "MCF7", "PC3", "VCAP"]

def tables(n_sig, n_genes):
    i = np.arange(n_sig)
    n_pert = max(n_sig // 25, 1)
    pert = (i * 7919) % n_pert
    ctl = i % 20 == 0
    pert_id = np.where(ctl, "DMSO", np.char.add("BRD-K", np.char.zfill(pert.astype(str), 8)))
    cell = np.array(CELLS)[i % len(CELLS)]
    plate = np.char.add("CPC", np.char.zfill((i // 384 % 1000).astype(str), 3))
    sig_id = np.char.add(np.char.add(np.char.add(np.char.add(plate, "_"), cell), "_24H:"),
                         np.char.add(pert_id, np.char.add(":", i.astype(str))))
    sigs = pd.DataFrame({"sig_id": sig_id, "pert_id": pert_id,
                         "pert_name": np.where(ctl, "DMSO", np.char.add("cmpd-", pert.astype(str))),
                         "pert_type": np.where(ctl, "ctl_vehicle", "trt_cp"), "cell_id": cell,
                         "qc_pass": True, "is_ncs_sig": ~ctl, "is_null_sig": ctl})
    gene_ids = [str(g) for g in range(1, 60000, 5)][:n_genes]
    genes = pd.DataFrame({"gene_id": gene_ids, "gene_symbol": ["G" + g for g in gene_ids],
                          "feature_space": "best inferred"})
    ids = sorted(set(pert_id) - {"DMSO"})
    compounds = pd.DataFrame({"pert_id": ids,
                              "pert_name": [p.replace("BRD-K", "cmpd-") for p in ids],
                              "moa": "inhibitor", "target": "EGFR"})
    return sigs, genes, compounds

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

BUILD_SYNTHETIC = SETUP + r"""
out, n_sig, chunk = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sigs, genes, compounds = tables(n_sig, len(range(1, 60000, 5)[:10174]))
rng = np.random.default_rng(1)
t, c, gen = time.perf_counter(), time.process_time(), 0.0
with cmapstore.StoreWriter(out, len(genes), n_sig) as w:
    for s in range(0, n_sig, chunk):
        g = time.perf_counter()
        block = rng.standard_normal((min(chunk, n_sig - s), len(genes)), dtype=np.float32)
        gen += time.perf_counter() - g
        w.write(block)
    w.finish(genes, sigs, compounds, "bing", {"synthetic": True})
print(json.dumps({"build_s": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                  "generate_s": gen, "peak_rss_mb": peak_mb()}))
"""

WRITE_GCTX = SETUP + r"""
import h5py
d, n_sig, n_bing = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sigs, genes, compounds = tables(n_sig, n_bing)
extra = [str(g) for g in range(2, 60000, 5)][:int(sys.argv[5]) - n_bing]
all_genes = list(genes["gene_id"]) + extra
pd.DataFrame({"pr_gene_id": all_genes, "pr_gene_symbol": ["G" + g for g in all_genes],
              "pr_gene_title": "gene", "pr_is_lm": 0,
              "pr_is_bing": [1] * n_bing + [0] * len(extra)}).to_csv(
    d + "/gene_info.txt", sep="\t", index=False)
sigs.to_csv(d + "/siginfo.tsv", sep="\t", index=False)
compounds.to_csv(d + "/compounds.tsv", sep="\t", index=False)
rng = np.random.default_rng(2)
with h5py.File(d + "/part.gctx", "w") as f:
    data = f.create_dataset("0/DATA/0/matrix", (n_sig, len(all_genes)), dtype="f4",
                            chunks=(256, len(all_genes)))
    for s in range(0, n_sig, 8192):
        data[s:s + 8192] = rng.standard_normal((min(8192, n_sig - s), len(all_genes)),
                                              dtype=np.float32)
    f.create_dataset("0/META/ROW/id", data=np.array([g.encode() for g in all_genes]))
    f.create_dataset("0/META/COL/id", data=np.array([s.encode() for s in sigs["sig_id"]]))
print(json.dumps({"bytes": os.path.getsize(d + "/part.gctx")}))
"""

BUILD_GCTX = SETUP + r"""
d = sys.argv[2]
cols = {"sig_id": "sig_id", "pert_id": "pert_id", "pert_name": "pert_name",
        "pert_type": "pert_type", "cell_id": "cell_id"}
t, c = time.perf_counter(), time.process_time()
geneinfo = release.read_geneinfo(d + "/gene_info.txt", {"gene_id": "pr_gene_id",
                                                          "gene_symbol": "pr_gene_symbol"})
cmapstore.build_store(d + "/part.gctx", release.read_siginfo(d + "/siginfo.tsv", cols), geneinfo,
                      pd.read_csv(d + "/compounds.tsv", sep="\t", dtype=str), d + "/part_store",
                      "bing")
print(json.dumps({"build_s": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                  "peak_rss_mb": peak_mb()}))
"""

QUERY = SETUP + r"""
from bloodsig.connectivity import queries as cn
from bloodsig.connectivity import results as cres
from bloodsig.connectivity import enrichment
enrichment.set_threads(2)
path, n_batch, n_bg = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
SETTINGS = cn.ScoringSettings.from_config(
    {"weighted": True, "ncs_floor": 0.01, "null_queries": 10, "null_signatures": 5000,
     "summary_quantiles": [33, 67],
     "candidates": {"direction": "reversing", "max_fdr": 0.05, "require_moa": True,
                    "qc_pass": True, "top": 20}})
rng = np.random.default_rng(7)
out = {}

def timed(f, n=1):
    w, c = time.perf_counter(), time.process_time()
    res = f()
    return [(time.perf_counter() - w) / n, (time.process_time() - c) / n, os.getloadavg()[0]], res

def table(store, names):
    rows = []
    for name in names:
        perm = rng.permutation(store.n_genes)
        ids = store.genes["gene_id"].to_numpy()
        rows += [(name, "up", ids[g], ids[g]) for g in perm[:150]]
        rows += [(name, "down", ids[g], ids[g]) for g in perm[150:300]]
    return pd.DataFrame(rows, columns=["query", "direction", "gene_name", "gene_id"])

# A stand-in for the reference background, written where rule connectivity_background puts it
n_sig = json.loads(open(path + "/manifest.json").read())["n_signatures"]
cmapstore.save_background(path + "/background.npy",
                          np.sort(np.abs(rng.standard_normal((n_sig, n_bg))), 1))

def first():  # everything a fresh process does for its first query (rule connectivity_score)
    store = cmapstore.open_store(path)
    bg = np.load(path + "/background.npy", mmap_mode="r")
    return store, cn.analyse_queries(store, table(store, ["q"]), bg, SETTINGS, 1)

out["first_query"], (store, _) = timed(first)
q = table(store, ["q"])
sets = cn.query_sets(store, q)["q"]
out["es_single"], _ = timed(
    lambda: enrichment.enrichment_scores(store.ranks, store.scores, list(sets)))
queries = cn.reference_queries(store, n_bg, 150, 1)
out["background_per_query"], bg = timed(lambda: cn.reference_background(store, queries, True),
                                        n_bg)
runs = [timed(lambda: cn.analyse_queries(store, table(store, ["q"]), bg, SETTINGS, 1))[0]
        for _ in range(3)]
out["full_single"] = sorted(runs)[1]
batch = table(store, [f"q{i}" for i in range(n_batch)])
out["full_batch_per_query"], res = timed(lambda: cn.analyse_queries(store, batch, bg, SETTINGS, 1),
                                         n_batch)
out["batch_queries"] = len(res)

def write_batch():  # what rule connectivity_batch writes (top tables, summaries, GCTX matrices)
    from bloodsig.core.io import write_tsv
    d = os.path.join(os.path.dirname(path), "batch_out")
    for name, tables in res.items():
        write_tsv(cres.signature_table(store, tables, 1000), f"{d}/{name}/top_signatures.tsv")
        for t in ("perturbagens", "candidates", "ncs_means"):
            write_tsv(tables[t], f"{d}/{name}/{t}.tsv")
    cres.write_score_matrices(store, res, d + "/matrices")
    write_tsv(cres.combined_table(res, store.compounds), d + "/combined.tsv")

out["batch_write_per_query"], _ = timed(write_batch, n_batch)
out["peak_rss_mb"] = peak_mb()
print(json.dumps(out))
"""


def child(code: str, *args) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="2", OMP_NUM_THREADS="2",
               OPENBLAS_NUM_THREADS="2")
    res = subprocess.run([sys.executable, "-c", code, str(ROOT), *map(str, args)], env=env,
                         capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def du(path: Path) -> int:
    return sum(os.stat(p).st_blocks * 512 for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="473,647 signatures (GSE92742)")
    ap.add_argument("--signatures", type=int, default=None, help="or this many signatures")
    ap.add_argument("--batch", type=int, default=25, help="queries in the batch (clue.io: 25)")
    ap.add_argument("--background", type=int, default=100,
                    help="reference queries for tau (timed per query; CMap uses ~1000s)")
    ap.add_argument("--chunk", type=int, default=8192, help="signatures per build block")
    ap.add_argument("--workdir", default=None, help="where to write (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep what was written")
    args = ap.parse_args()
    n_sig = N_SIGNATURES if args.full or not args.signatures else args.signatures
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_cmap_", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(work).free
    store_bytes = n_sig * N_GENES * STORE_BYTES_PER_VALUE
    gctx_bytes = n_sig * N_GCTX_GENES * 4
    direct = free - KEEP_FREE < store_bytes + gctx_bytes
    n_part = int(round(n_sig * GCTX_PART)) if direct else n_sig
    print(f"{time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores; disk free "
          f"{free / 2**30:.1f} GiB; store {store_bytes / 2**30:.1f} GiB + GCTX "
          f"{gctx_bytes / 2**30:.1f} GiB {'do not' if direct else 'do'} fit with "
          f"{KEEP_FREE / 2**30:.0f} GiB left free")
    print(f"measuring {n_sig:,} signatures x {N_GENES:,} genes: "
          + (f"store written from synthetic blocks; GCTX path timed on {n_part:,} signatures"
             if direct else "GCTX written, then built"))
    try:
        part = work / "gctx"
        part.mkdir(exist_ok=True)
        gctx = child(WRITE_GCTX, part, n_part, N_GENES, N_GCTX_GENES)
        load = os.getloadavg()[0]
        part_build = child(BUILD_GCTX, part)
        part_build["load"] = load
        part_build["disk_bytes"] = du(part / "part_store")
        if direct:
            shutil.rmtree(part)
            load = os.getloadavg()[0]
            build = child(BUILD_SYNTHETIC, work / "store", n_sig, args.chunk)
            build["load"] = load
            store = work / "store"
        else:
            build, store = part_build, part / "part_store"
        build["disk_bytes"] = du(store)
        query = child(QUERY, store, args.batch, args.background)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report(n_sig, n_part, direct, gctx, part_build, build, query, args)


def report(n_sig, n_part, direct, gctx, part_build, build, query, args) -> None:
    print(f"\nstore build, {n_sig:,} x {N_GENES:,}"
          + (" (synthetic blocks, same writer)" if direct else "") + ":")
    print(f"  wall {build['build_s']:.0f} s (of which generating the values "
          f"{build.get('generate_s', 0):.0f} s), cpu {build['cpu_s']:.0f} s, peak RSS "
          f"{build['peak_rss_mb']:.0f} MB (target < {TARGETS['peak_rss_mb']} MB), "
          f"disk {build['disk_bytes'] / 2**30:.2f} GiB, load {build['load']:.1f}")
    if direct:
        rate = n_part / part_build["build_s"]
        print(f"GCTX path on {n_part:,} signatures ({gctx['bytes'] / 2**30:.2f} GiB GCTX, "
              f"{N_GCTX_GENES:,} genes read, BING kept): wall {part_build['build_s']:.1f} s, "
              f"cpu {part_build['cpu_s']:.1f} s, peak RSS {part_build['peak_rss_mb']:.0f} MB, "
              f"load {part_build['load']:.1f}; at {rate:,.0f} signatures/s the full GCTX "
              f"would take ~{N_SIGNATURES / rate / 60:.0f} min (extrapolated)")
    print(f"\nqueries of 150 up + 150 down genes, 2 threads, whole scoring "
          f"(tau on {args.background} reference queries):")
    print(f"  {'':44s} {'wall s':>8s} {'cpu s':>8s} {'cpu/2':>7s} {'load':>6s} {'target':>7s}")
    rows = [("first query after the build (fresh process)", "first_query"),
            ("one query (median of 3)", "full_single"),
            (f"batch of {args.batch}, per query", "full_batch_per_query"),
            ("writing the batch's results, per query", "batch_write_per_query"),
            ("enrichment scan alone, one query", "es_single"),
            ("reference background, per reference query", "background_per_query")]
    missed = []
    for label, key in rows:
        wall, cpu, load = query[key]
        target = TARGETS.get(key)
        print(f"  {label:44s} {wall:8.2f} {cpu:8.2f} {cpu / 2:7.2f} {load:6.1f} "
              f"{'< ' + str(target) if target else '':>7s}")
        if target and wall >= target:
            missed.append(f"{label}: {wall:.2f} s wall (cpu/2 {cpu / 2:.2f} s) vs < {target} s")
    print(f"  peak RSS of the query process {query['peak_rss_mb']:.0f} MB")
    if build["peak_rss_mb"] >= TARGETS["peak_rss_mb"]:
        missed.append(f"build peak RSS {build['peak_rss_mb']:.0f} MB")
    print("\ntargets missed: " + ("; ".join(missed) if missed else "none"))
    print(json.dumps({"n_signatures": n_sig, "direct": direct, "gctx_part": part_build,
                      "build": build, "query": query}))


if __name__ == "__main__":
    main()
