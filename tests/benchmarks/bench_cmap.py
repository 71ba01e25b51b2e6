"""Benchmark: the CMap signature store and query engine at LINCS scale.

LINCS GSE92742 in BING space is 473,647 signatures x 10,174 genes. The benchmark writes a
synthetic level-5 GCTX of that shape (or a stated fraction of its signatures, when the disk
cannot hold the GCTX plus the store: 10 bytes per value), builds the gene-major store in a
child process (timed, with its peak RSS), then times queries of 150 up + 150 down genes in a
second child limited to 2 threads: the enrichment scan alone (ES up and down for every
signature) and the full scoring (WTCS, NCS, FDR null, tau on a small reference background),
one query at a time and as a batch. Query time grows linearly with the number of signatures,
so the full-size time is the measured time divided by the fraction.

    python tests/benchmarks/bench_cmap.py [--fraction auto|F] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
N_SIGNATURES = 473_647
N_GENES = 10_174
BYTES_PER_VALUE = 4 + 4 + 2  # GCTX float32 + store float32 scores + int16 ranks
KEEP_FREE = 30 * 2**30
COLUMNS = {"sig": {"sig_id": "sig_id", "pert_id": "pert_id", "pert_name": "pert_iname",
                   "pert_type": "pert_type", "cell_id": "cell_id"},
           "gene": {"gene_id": "gene_id", "gene_symbol": "gene_symbol"},
           "cmp": {"pert_id": "pert_id", "pert_name": "pert_iname", "moa": "moa",
                   "target": "target"}}  # leave this much disk to the other users of the machine

BUILD = r"""
import json, sys, time, resource
sys.path.insert(0, sys.argv[1] + "/scripts")
from bloodsig import cmapstore
d = sys.argv[2]
cols = json.loads(sys.argv[3])
t, c = time.perf_counter(), time.process_time()
cmapstore.build_store(d + "/sigs.gctx", cmapstore.read_siginfo(d + "/siginfo.tsv", cols["sig"]),
                      cmapstore.read_geneinfo(d + "/geneinfo.tsv", cols["gene"]),
                      cmapstore.read_compoundinfo(d + "/compoundinfo.tsv", cols["cmp"]),
                      d + "/store", "all")
print(json.dumps({"build_s": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

QUERY = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1] + "/scripts")
from bloodsig import cmapstore, connectivity as cn
store = cmapstore.open_store(sys.argv[2] + "/store")
n_batch, n_bg = int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(7)
def query():
    perm = rng.permutation(store.n_genes)
    return perm[:150], perm[150:300]
def timed(f, n=1):
    w, c = time.perf_counter(), time.process_time()
    f()
    return [(time.perf_counter() - w) / n, (time.process_time() - c) / n]
def median3(f):
    runs = [timed(f) for _ in range(3)]
    return runs[int(np.argsort([r[0] for r in runs])[1])]
tiny = np.ascontiguousarray(store.ranks[:, :64]), np.ascontiguousarray(store.scores[:, :64])
cn.enrichment_scores(*tiny, list(query()))  # JIT warm-up (compiled code is cached on disk)
out = {"es_first": timed(lambda: cn.enrichment_scores(store.ranks, store.scores, list(query())))}
out["es_single"] = median3(lambda: cn.enrichment_scores(store.ranks, store.scores, list(query())))
qs = [query() for _ in range(n_batch)]
out["es_batch_per_query"] = timed(lambda: cn.enrichment_scores(
    store.ranks, store.scores, [g for q in qs for g in q]), n_batch)
bg = []
out["background_per_query"] = timed(lambda: bg.append(cn.reference_background(
    store, cn.reference_queries(store, n_bg, 150, 1), True)), n_bg)
out["full_single"] = median3(lambda: cn.score_queries(store, {"q": query()}, True, bg[0],
                                                     seed=1))
out["full_batch_per_query"] = timed(lambda: cn.score_queries(
    store, {f"q{i}": q for i, q in enumerate(qs)}, True, bg[0], seed=1), n_batch)
print(json.dumps(out))
"""


def write_inputs(d: Path, n_sig: int, seed: int) -> float:
    """Synthetic GCTX (cmapPy layout, chunked HDF5) and its annotation tables; seconds."""
    import h5py
    import pandas as pd

    t = time.perf_counter()
    rng = np.random.default_rng(seed)
    genes = [str(100 + i) for i in range(N_GENES)]
    sigs = [f"SIG{i:07d}" for i in range(n_sig)]
    cells = np.array(["A375", "A549", "HA1E", "HCC515", "HEPG2", "HT29", "MCF7", "PC3", "VCAP"])
    perts = [f"BRD-K{i:08d}" for i in range(max(n_sig // 20, 1))]
    pd.DataFrame({"sig_id": sigs, "pert_id": np.array(perts)[np.arange(n_sig) % len(perts)],
                  "pert_iname": "x", "pert_type": "trt_cp",
                  "cell_id": cells[np.arange(n_sig) % len(cells)]}).to_csv(
        d / "siginfo.tsv", sep="\t", index=False)
    pd.DataFrame({"gene_id": genes, "gene_symbol": [f"G{g}" for g in genes],
                  "feature_space": "best inferred"}).to_csv(d / "geneinfo.tsv", sep="\t",
                                                            index=False)
    pd.DataFrame({"pert_id": perts, "pert_iname": "x", "moa": "m", "target": "T"}).to_csv(
        d / "compoundinfo.tsv", sep="\t", index=False)
    with h5py.File(d / "sigs.gctx", "w") as f:
        data = f.create_dataset("0/DATA/0/matrix", (n_sig, N_GENES), dtype="f4",
                                chunks=(256, N_GENES))
        step = 8192
        for s in range(0, n_sig, step):
            n = min(step, n_sig - s)
            data[s:s + n] = rng.standard_normal((n, N_GENES), dtype=np.float32)
        f.create_dataset("0/META/ROW/id", data=np.array([g.encode() for g in genes]))
        f.create_dataset("0/META/COL/id", data=np.array([s.encode() for s in sigs]))
    return time.perf_counter() - t


def child(code: str, *args) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="2", OMP_NUM_THREADS="2",
               OPENBLAS_NUM_THREADS="2")
    res = subprocess.run([sys.executable, "-c", code, str(ROOT), *map(str, args)], env=env,
                         capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fraction", default="auto", help="share of the 473,647 signatures")
    ap.add_argument("--workdir", default=None, help="where to write (default: a temp dir)")
    ap.add_argument("--batch", type=int, default=10, help="queries in the batch")
    ap.add_argument("--background", type=int, default=20, help="reference queries (tau)")
    ap.add_argument("--keep", action="store_true", help="keep the GCTX and the store")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_cmap_", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(work).free
    need = N_SIGNATURES * N_GENES * BYTES_PER_VALUE
    if args.fraction == "auto":
        fraction = min(1.0, max(free - KEEP_FREE, 0) / need)
        fraction = float(np.floor(fraction * 8) / 8) or 1 / 16
    else:
        fraction = float(args.fraction)
    n_sig = int(round(N_SIGNATURES * fraction))
    print(f"disk free {free / 2**30:.1f} GiB, full size needs {need / 2**30:.1f} GiB; "
          f"measuring {n_sig:,} signatures (fraction {fraction:g}) x {N_GENES:,} genes")
    try:
        gen_s = write_inputs(work, n_sig, seed=1)
        print(f"synthetic GCTX written in {gen_s:.1f} s")
        build = child(BUILD, work, json.dumps(COLUMNS))
        query = child(QUERY, work, args.batch, args.background)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    scale = 1 / fraction
    print(f"store build: {build['build_s']:.1f} s wall, {build['cpu_s']:.1f} s cpu "
          f"(full size ~{build['build_s'] * scale:.0f} s wall), "
          f"peak RSS {build['peak_rss_mb']:.0f} MB (bounded by the chunk, not the size)")
    rows = [("ES scan, first query after build", "es_first"),
            ("ES scan, one query (median of 3)", "es_single"),
            (f"ES scan, batch of {args.batch}, per query", "es_batch_per_query"),
            ("full scoring, one query (median of 3)", "full_single"),
            (f"full scoring, batch of {args.batch}, per query", "full_batch_per_query"),
            ("reference background, per query", "background_per_query")]
    # CPU seconds / 2 is the wall time on 2 idle cores; wall time on a shared machine is more.
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'2 threads':45s} {'wall s':>8s} {'cpu s':>8s} {'full: wall':>11s} "
          f"{'full: cpu/2':>11s}")
    for label, key in rows:
        wall, cpu = query[key]
        print(f"{label:45s} {wall:8.3f} {cpu:8.3f} {wall * scale:11.2f} {cpu * scale / 2:11.2f}")
    print(json.dumps({"fraction": fraction, "n_signatures": n_sig, "build": build,
                      "query": query, "max_rss_children_mb":
                      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
