"""Asking for one file builds only what that file needs, for the demo and for a user's cohort
given with `--configfile my_cohort.yaml --replace-workflow-config` (as README.md shows)."""

import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from helpers import ROOT, copy_project

pytestmark = pytest.mark.slow  # runs Snakemake


def scheduled(work, *args) -> dict[str, int]:
    """Rule -> number of jobs in the dry run's job stats."""
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", *args], cwd=work,
                         capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    stats = out.split("Job stats:", 1)[1].split("total", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stats, flags=re.M)}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("targets"))


def test_one_de_table_schedules_only_its_chain(work):
    jobs = scheduled(work, "results/discovery/de/primary/toptable.tsv")
    assert jobs == {"demo_data": 1, "counts_from_matrix": 1, "expression_qc": 1,
                    "de_covariates": 1, "de_fit": 1}


def test_own_cohort_config_replaces_the_demo(work):
    """A cohort file with its own cohort name: no demo, no demo cohorts, its own chain."""
    samples = pd.read_csv(ROOT / "config/samples.tsv", sep="\t")["sample_id"]
    pd.DataFrame(10, index=pd.Index(["G1", "G2"], name="gene_id"), columns=samples).to_csv(
        work / "my_counts.tsv", sep="\t")
    pd.DataFrame({"gene_id": ["G1", "G2"], "gene_name": ["A", "B"],
                  "gene_type": "protein_coding", "chromosome": "1", "length": 1000}).to_csv(
        work / "my_genes.tsv", sep="\t", index=False)
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config["stages"] = dict.fromkeys(config["stages"], False)
    del config["cohorts"]["discovery"]  # the external validation cohort stays
    config["cohorts"]["mystudy"] = {"role": "discovery", "samples": "config/samples.tsv",
                                    "counts": "my_counts.tsv", "annotation": "my_genes.tsv"}
    (work / "my_cohort.yaml").write_text(yaml.safe_dump(config))
    jobs = scheduled(work, "results/mystudy/de/primary/toptable.tsv",
                     "--configfile", "my_cohort.yaml", "--replace-workflow-config")
    assert jobs == {"counts_from_matrix": 1, "expression_qc": 1, "de_covariates": 1,
                    "de_fit": 1}
