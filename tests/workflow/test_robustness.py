"""Interruption, reproducibility and no network: a second complete run of the demo, from an
empty results/ folder, offline, killed (Snakemake and its jobs, as a cluster would) in the
middle of the heaviest stage and resumed, must give every final table byte-identical to
those of the `demo` run."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import copy_project
from needs import unavailable

pytestmark = pytest.mark.slow  # runs Snakemake

OFFLINE = ["unshare", "--net"] if shutil.which("unshare") else None
TABLES = {".tsv", ".gmt", ".yaml", ".gtf", ".fa", ".json", ".graphml"}
# MultiQC's record of its own run (its command line, the absolute paths of its inputs, the
# time); the numbers it gathers are compared in the tables they come from. The jobs' measured
# wall times and memory (benchmarks*.tsv) differ from run to run by nature.
RUN_RECORDS = {"multiqc_data.json", "benchmarks.tsv", "benchmarks_slowest.tsv"}
HEAVY_JOB = "logs/discovery/classify/classify_nested.log"  # RFE in every outer fold, ~40 s


def offline(cmd):
    if OFFLINE is None or subprocess.run([*OFFLINE, "true"]).returncode != 0:
        unavailable("cannot drop the network (unshare --net) for the offline run")
    return [*OFFLINE, *cmd]


def digests(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted((root / "results").rglob("*")):
        if path.is_file() and path.suffix in TABLES and path.name not in RUN_RECORDS:
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_killed_offline_run_resumes_to_identical_tables(demo, tmp_path):
    work = copy_project(tmp_path)
    cmd = offline([sys.executable, "-m", "snakemake", "--cores", "2"])
    log_path = tmp_path / "killed_run.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.time() + 1800
        while not (work / HEAVY_JOB).exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.5)
        assert proc.poll() is None, "run ended before the heavy job: " + log_path.read_text()[
            -3000:]
        time.sleep(3)  # inside the job (its log appears after its imports): kill it all
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # a killed Snakemake leaves its lock, as on a cluster node that died: unlock, then resume
    subprocess.run(cmd + ["--unlock"], cwd=work, capture_output=True, check=True)
    res = subprocess.run(cmd + ["--rerun-incomplete"], cwd=work, capture_output=True,
                         text=True, timeout=2400)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "classify_nested" in res.stderr  # the killed job was run again

    first, second = digests(demo), digests(work)
    assert len(first) > 200  # every stage's tables (244 in the demo with 12 read-level samples)
    assert set(second) == set(first), set(first) ^ set(second)
    differ = [name for name in second if first[name] != second[name]]
    assert not differ, f"{len(differ)} files differ, e.g. {differ[:5]}"
    # no temporary files of the atomic writers were left behind
    left = [p for p in (work / "results").rglob(".*")
            if p.is_file() and p.name != ".snakemake_timestamp"]  # Snakemake's own marker
    assert not left
