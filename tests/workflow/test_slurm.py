"""bloodsig on a real Slurm: a single-node cluster started by tests/workflow/slurm/cluster.sh
runs the demo's primary DE through `--profile config/profiles/slurm`. Every job must go through
Slurm (its job id in snakemake's log, in the executor's Slurm log files and COMPLETED in the
controller's job record), the input-size-aware memory requests must reach Slurm, and a bad input
must fail as a Slurm job, retried with more memory, and be reported as failed.

Needs Debian's slurmctld, slurmd, slurm-client and munge and root (.ci/run installs them);
without them the tests skip on a developer machine and fail under CI.
"""

import importlib.util
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import copy_project
from needs import unavailable

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "tests/workflow/slurm/cluster.sh"
PARTITION = "bloodsig_test"  # the partition cluster.sh defines
PIPELINE = ["demo_data", "counts_from_matrix", "expression_qc", "de_covariates", "de_fit"]
# The demo's stages demo, expression_qc and de, for the primary analysis only
DEMO_TARGETS = ["results/demo/truth/params.yaml"] + [
    f"results/discovery/expression_qc/{name}"
    for name in ["counts.tsv", "gene_report.tsv", "sample_report.tsv", "pca.png", "sex_check.png"]
] + [
    f"results/discovery/de/primary/{name}"
    for name in ["toptable.tsv", "degs_up.tsv", "degs_down.tsv", "residuals.tsv", "volcano.png",
                 "ma.png", "pvalue_hist.png", "heatmap.png", "covariate_association.png"]
]

# Test-only overrides of the profile, the placeholders a user edits: the test cluster's
# partition, no account (no accounting database, so squeue reports job status), fast polling,
# and Slurm log files kept so that every job's can be checked.
OVERRIDES = [
    "--default-resources", f"slurm_partition={PARTITION}",
    "--slurm-no-account",
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "2",
    "--slurm-keep-successful-logs",
    "--latency-wait", "5",
]
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A running single-node cluster: the environment that points clients at it, and its job
    record (jobcomp/filetxt). Stops exactly the daemons it started, also when a test fails."""
    missing = [exe for exe in ("munged", "slurmctld", "slurmd", "sbatch", "squeue")
               if shutil.which(exe) is None]
    if missing:
        unavailable(f"{', '.join(missing)} not found "
                 "(apt-get install slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        unavailable("slurmd must run as root")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        unavailable('the SLURM executor is not installed (pip install -e ".[slurm]")')
    state = tmp_path_factory.mktemp("slurm")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["SLURM_CONF"] = str(state / "slurm.conf")
    env["PATH"] = f"{state / 'bin'}{os.pathsep}{env['PATH']}"
    try:
        res = subprocess.run(["bash", str(CLUSTER), "start", str(state)], capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        yield env, state / "jobcomp.txt"
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(state)], timeout=120)


def slurm_records(jobcomp: Path) -> dict[str, dict[str, str]]:
    """The controller's record of finished jobs: job id -> its fields (JobState, Tres, ...)."""
    records = {}
    for line in jobcomp.read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        records[fields["JobId"]] = fields
    return records


def bad_input_project(work: Path) -> list[str]:
    """The discovery cohort is a count matrix with a negative count."""
    samples = pd.read_csv(ROOT / "config/samples.tsv", sep="\t")["sample_id"]
    counts = pd.DataFrame(10, index=["G1", "G2", "G3"], columns=samples)
    counts.loc["G2", samples.iloc[1]] = -3
    counts.rename_axis("gene_id").to_csv(work / "bad_counts.tsv", sep="\t")
    pd.DataFrame({"gene_id": ["G1", "G2", "G3"], "gene_name": ["A", "B", "C"],
                  "gene_type": "protein_coding", "chromosome": "1", "length": 1000}).to_csv(
        work / "bad_genes.tsv", sep="\t", index=False)
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config["cohorts"]["discovery"] = {"role": "discovery", "samples": "config/samples.tsv",
                                      "counts": "bad_counts.tsv", "annotation": "bad_genes.tsv"}
    (work / "bad_config.yaml").write_text(yaml.safe_dump(config))
    return ["--configfile", "bad_config.yaml", "--replace-workflow-config"]


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """Both runs at once on the cluster, which queues their jobs on its two cores: the demo's
    primary DE and a bad input (its counts). Name -> (project dir, exit code, output)."""
    env, _ = cluster
    setups = {"demo": (lambda work: [], DEMO_TARGETS),
              "bad": (bad_input_project, ["results/discovery/counts/counts.tsv"])}
    procs = {}
    try:
        for name, (setup, targets) in setups.items():
            work = copy_project(tmp_path_factory.mktemp(f"slurm_{name}"))
            with open(work / "snakemake.out", "w") as out:
                procs[name] = work, subprocess.Popen(
                    [sys.executable, "-m", "snakemake", *targets, *setup(work),
                     "--profile", "config/profiles/slurm", *OVERRIDES],
                    cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
        for _, proc in procs.values():
            proc.wait(timeout=900)
        yield {name: (work, proc.returncode, (work / "snakemake.out").read_text())
               for name, (work, proc) in procs.items()}
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # snakemake cancels its Slurm jobs
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test_demo_primary_de_runs_through_slurm(cluster, runs):
    _, jobcomp = cluster
    work, code, out = runs["demo"]
    assert code == 0, out[-5000:]

    submitted = dict(SUBMITTED.findall(out))  # Slurm job id -> its Slurm log file
    records = slurm_records(jobcomp)
    assert len(submitted) == len(PIPELINE), out[-5000:]
    for jobid, log in submitted.items():
        assert records[jobid]["JobState"] == "COMPLETED", records.get(jobid)
        assert records[jobid]["Partition"] == PARTITION
        assert (work / log).is_file() and Path(log).stem == jobid
    # one Slurm job per rule, none of them run by the local executor
    rules = sorted(Path(log).relative_to(work / ".snakemake/slurm_logs").parts[0]
                   for log in submitted.values())
    assert rules == sorted(f"rule_{rule}" for rule in PIPELINE)
    assert "localrule" not in out, out[-5000:]
    for target in DEMO_TARGETS:
        assert (work / target).stat().st_size > 0, target

    # the memory Slurm granted de_fit grew with the count matrix (rules/common.smk:input_scaled)
    matrix = work / "results/discovery/expression_qc/counts.tsv"
    fit_job = next(j for j, log in submitted.items() if "/rule_de_fit/" in log)
    expected = math.ceil(1000 + 40 * matrix.stat().st_size / 1e6)
    assert f"mem={expected}M" in records[fit_job]["Tres"], records[fit_job]

    table = pd.read_csv(work / "results/discovery/de/primary/toptable.tsv", sep="\t")
    assert list(table.columns[:8]) == ["gene_id", "gene_name", "logFC", "AveExpr", "t",
                                       "P.Value", "adj.P.Val", "B"]
    assert (table["adj.P.Val"] < 0.01).sum() > 50
    assert sorted(p.name for p in (work / "results/discovery/de").iterdir()) == ["primary"]


def test_bad_input_fails_as_slurm_job(cluster, runs):
    """A negative count stops counts_from_matrix inside Slurm; the profile's retries resubmit it
    with more memory each time, and snakemake reports the Slurm job as failed."""
    _, jobcomp = cluster
    work, code, out = runs["bad"]
    assert code != 0, out[-5000:]

    attempts = SUBMITTED.findall(out)
    retries = yaml.safe_load((ROOT / "config/profiles/slurm/config.yaml").read_text())["retries"]
    assert len(attempts) == retries + 1, out[-5000:]
    records = slurm_records(jobcomp)
    mem = []
    for jobid, _ in attempts:
        assert records[jobid]["JobState"] == "FAILED", records[jobid]
        assert re.search(rf"SLURM-job '{jobid}' failed", out), out[-5000:]
        mem.append(int(re.search(r"mem=(\d+)M", records[jobid]["Tres"]).group(1)))
    size_mb = (work / "bad_counts.tsv").stat().st_size / 1e6
    assert mem == [math.ceil((1000 + 20 * size_mb) * k) for k in range(1, retries + 2)]
    log = (work / "logs/discovery/counts/counts_from_matrix.log").read_text()
    assert "negative count -3 for gene G2" in log and "bad_counts.tsv" in log
    assert not (work / "results/discovery/counts/counts.tsv").exists()
