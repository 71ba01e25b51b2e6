"""Interruption, reproducibility and no network: a second run of the demo up to the DE
tables, offline, killed in the middle of the DE stage and resumed, must give tables
byte-identical to those of the full `demo` run."""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import copy_project

OFFLINE = ["unshare", "--net"] if shutil.which("unshare") else None


def offline(cmd):
    if OFFLINE is None or subprocess.run([*OFFLINE, "true"]).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("cannot drop the network (unshare --net) for the offline run")
        pytest.skip("unshare --net not available")
    return [*OFFLINE, *cmd]


def digests(root):
    out = {}
    for path in sorted((root / "results").rglob("*")):
        if path.is_file() and path.suffix in {".tsv", ".gmt", ".yaml", ".gtf", ".fa", ".json"}:
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_killed_offline_run_resumes_to_identical_tables(demo, tmp_path):
    work = copy_project(tmp_path)
    analyses = yaml.safe_load((work / "config/config.yaml").read_text())["de"]["analyses"]
    targets = [f"results/discovery/de/{a}/residuals.tsv" for a in analyses]
    cmd = offline([sys.executable, "-m", "snakemake", "--cores", "2", *targets])
    log = (tmp_path / "killed_run.log").open("w")
    proc = subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    marker = work / "results/discovery/expression_qc/counts.tsv"
    deadline = time.time() + 1200
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    assert proc.poll() is None, "run ended before the DE stage: " + (
        tmp_path / "killed_run.log").read_text()[-3000:]
    time.sleep(3)  # let a DE job start, then kill everything as a cluster would
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    # a killed Snakemake leaves its lock, as on a cluster node that died: unlock, then resume
    subprocess.run(cmd + ["--unlock"], cwd=work, capture_output=True, check=True)

    res = subprocess.run(cmd + ["--rerun-incomplete"], cwd=work, capture_output=True,
                         text=True, timeout=2400)
    assert res.returncode == 0, res.stderr[-4000:]
    first, second = digests(demo), digests(work)
    assert len(second) > 40 and set(second) <= set(first)
    differ = [name for name in second if first[name] != second[name]]
    assert not differ, f"{len(differ)} files differ, e.g. {differ[:5]}"
    # no temporary files of the atomic writers were left behind
    left = [p for p in (work / "results").rglob(".*")
            if p.is_file() and p.name != ".snakemake_timestamp"]  # Snakemake's own marker
    assert not left
