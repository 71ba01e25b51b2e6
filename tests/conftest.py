"""Shared fixtures: where the reference data lives and whether R is there.

Validation tests need ../shared/data (BLOODSIG_REFDATA) and R with Bioconductor. Without
them they fail naming what is missing, never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from needs import unavailable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The shared reference-data directory (env BLOODSIG_REFDATA)."""
    path = os.environ.get("BLOODSIG_REFDATA")
    if not path or not Path(path).is_dir():
        unavailable("set BLOODSIG_REFDATA to the shared reference-data directory")
    return Path(path)


@pytest.fixture(scope="session")
def rscript():
    """Run an R script and return its stdout; requires the named Bioconductor packages."""
    exe = shutil.which("Rscript")
    if exe is None:
        unavailable("Rscript not found (apt-get install r-base-core r-bioc-limma r-bioc-edger)")

    def run(code: str, packages=(), cwd=None, timeout=1800) -> str:
        for pkg in packages:
            probe = subprocess.run([exe, "-e", f"library({pkg})"], capture_output=True)
            if probe.returncode != 0:
                unavailable(f"R package {pkg} not installed")
        res = subprocess.run([exe, "-e", code], capture_output=True, text=True, cwd=cwd,
                             timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"R failed:\n{res.stderr[-3000:]}")
        return res.stdout

    return run


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT
