"""The connectivity store is built once: editing a setting that is not the database or its gene
space reruns no store build (`snakemake -n` on a project whose store and background were built
from a tiny database), and only the background's own keys rerun the background. The same
project scores a clue.io-style GMT batch."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import copy_project

from bloodsig.connectivity import store as cs
from bloodsig.simulate.cmapdb import write_gctx

pytestmark = pytest.mark.slow  # runs Snakemake

TARGETS = ["results/connectivity_store/manifest.json", "results/connectivity_store/background.npy"]


def snakemake(project, *args):
    res = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=project,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A project copy whose store and background exist (tiny custom database)."""
    project = copy_project(tmp_path_factory.mktemp("rerun"))
    db = project / "db"
    db.mkdir()
    rng = np.random.default_rng(1)
    genes = [str(100 + i) for i in range(60)]
    sigs = [f"S{i}" for i in range(24)]
    write_gctx(db / "sigs.gctx", rng.standard_normal((24, 60)), genes, sigs)
    pd.DataFrame({"sig_id": sigs, "pert_id": [f"P{i // 3}" for i in range(24)],
                  "pert_iname": [f"d{i // 3}" for i in range(24)], "pert_type": "trt_cp",
                  "cell_id": np.tile(["A375", "MCF7", "PC3"], 8)}).to_csv(
        db / "siginfo.tsv", sep="\t", index=False)
    pd.DataFrame({"gene_id": genes, "gene_symbol": [f"G{g}" for g in genes],
                  "feature_space": "landmark"}).to_csv(db / "geneinfo.tsv", sep="\t", index=False)
    pd.DataFrame({"pert_id": [f"P{i}" for i in range(8)], "pert_iname": "x", "moa": "m",
                  "target": "T"}).to_csv(db / "compoundinfo.tsv", sep="\t", index=False)
    (db / "up.gmt").write_text("".join(f"q{k}_UP\tna\t" + "\t".join(
        f"G{g}" for g in genes[k * 10:k * 10 + 12]) + "\n" for k in range(3)))
    (db / "down.gmt").write_text("".join(f"q{k}_DN\tna\t" + "\t".join(
        genes[40 + k * 5:50 + k * 5]) + "\n" for k in range(3)))
    base = {"connectivity": {"database": {"gctx": "db/sigs.gctx", "siginfo": "db/siginfo.tsv",
                                          "geneinfo": "db/geneinfo.tsv",
                                          "compoundinfo": "db/compoundinfo.tsv"},
                             "background": {"queries": 4, "genes": 10},
                             "batches": {"b1": {"up": "db/up.gmt", "down": "db/down.gmt"}}}}
    (project / "base.yaml").write_text(yaml.safe_dump(base))
    snakemake(project, *TARGETS, "results/connectivity_batches/b1/combined.tsv", "--cores", "1",
              "--configfile", "base.yaml")
    return project, base


def test_gmt_batch_gives_results_per_query_and_one_combined_table(built):
    project, _ = built
    out = project / "results/connectivity_batches/b1"
    combined = pd.read_csv(out / "combined.tsv", sep="\t")
    assert combined["query"].unique().tolist() == ["q0", "q1", "q2"]
    for _, part in combined.groupby("query"):
        assert part["rank"].tolist() == list(range(1, 9))  # 8 perturbagens, ranked per query
        assert part["ncs"].is_monotonic_increasing
    ncs = cs.read_gctx(out / "matrices" / "ncs.gctx")  # signatures x queries
    assert ncs.shape == (24, 3) and list(ncs.columns) == ["q0", "q1", "q2"]
    for q in ("q0", "q1", "q2"):
        sigs = pd.read_csv(out / "queries" / q / "top_signatures.tsv", sep="\t")
        assert len(sigs) == 24 and sigs["fdr_q"].between(0, 1).all()  # 2 x 1000 > 24: all
        assert sigs["ncs"].is_monotonic_increasing
        np.testing.assert_allclose(ncs.loc[sigs["sig_id"], q], sigs["ncs"], rtol=1e-6)


def would_run(project, config) -> set[str]:
    (project / "edit.yaml").write_text(yaml.safe_dump(config))
    out = snakemake(project, *TARGETS, "-n", "--quiet", "rules", "--configfile", "edit.yaml")
    return {line.split()[0] for line in out.splitlines()
            if line.split() and line.split()[0].startswith("connectivity_")}


@pytest.mark.parametrize("key, value, expected", [
    ("candidates.max_fdr", 0.2, set()),
    ("fdr", 0.05, set()),
    ("seed", 7, {"connectivity_background"}),
    ("background.queries", 6, {"connectivity_background"}),
    ("gene_space", "bing", {"connectivity_store", "connectivity_background"}),  # the control
])
def test_only_the_database_rebuilds_the_store(built, key, value, expected):
    project, base = built
    config = yaml.safe_load(yaml.safe_dump(base))
    if key == "seed":
        config["seed"] = value
    else:
        *parents, leaf = key.split(".")
        node = config["connectivity"]
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    assert would_run(project, config) == expected
