"""Helpers for tests that run the workflow (fixtures stay in the conftest.py files)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["Snakefile", "rules", "scripts", "config", "resources", "envs"]


def copy_project(dest: Path) -> Path:
    """A copy of the workflow (no results) in `dest`, to run Snakemake in."""
    for part in PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / part)
    return dest


def snakemake(project: Path, *args: str, timeout: int = 600) -> str:
    """Run Snakemake in `project`; its stdout and stderr, asserting it succeeded."""
    res = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=project,
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


def mark_done(project: Path) -> Path:
    """`project` (a `copy_project`) with every job of its config done, in minutes: the demo's
    input data simulated for real, every other output an empty placeholder marked done with
    `--touch --forceall` (which records each job's params and inputs, as a real run does)."""
    snakemake(project, "--cores", "1", "demo_data", timeout=900)
    for line in snakemake(project, "--summary").splitlines():
        path = line.split("\t")[0]
        if "\t" not in line or path == "output_file" or (project / path).exists():
            continue
        if "." in Path(path).name:
            (project / path).parent.mkdir(parents=True, exist_ok=True)
            (project / path).touch()
        else:  # directory() outputs (STAR index, FastQC, trimmed reads, MultiQC data)
            (project / path).mkdir(parents=True)
    snakemake(project, "--cores", "1", "--touch", "--forceall", timeout=900)
    return project
