"""Provenance of a run: the resolved configuration, software versions and input checksums.

Everything here is a pure function of the configuration, the installed software and the
input files, so a rerun in the same environment writes identical bytes (no dates or host
names). Versions are those of the environment that ran the report rule.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import yaml

NOT_INSTALLED = "not installed"
#: Command-line tools of the pipeline and the argument that prints their version.
TOOLS = {"STAR": ["--version"], "featureCounts": ["-v"], "samtools": ["--version"],
         "cutadapt": ["--version"], "fastqc": ["--version"], "multiqc": ["--version"],
         "R": ["--version"], "Rscript": ["--version"]}
_VERSION = re.compile(r"\d+(?:\.\d+)+[a-z0-9]*")


def config_yaml(config: dict) -> str:
    """The resolved configuration (after --config overrides and schema defaults) as YAML."""
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def package_versions() -> pd.DataFrame:
    """Python and every installed Python distribution (importlib.metadata), sorted by name."""
    versions = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()
                if d.metadata["Name"]}
    rows = [{"kind": "python", "name": "python", "version": platform.python_version()}]
    rows += [{"kind": "package", "name": n, "version": versions[n]}
             for n in sorted(versions, key=str.lower)]
    return pd.DataFrame(rows, columns=["kind", "name", "version"])


def tool_version(tool: str, args: list[str]) -> str:
    """The first version-like token a tool prints, or NOT_INSTALLED when it is absent."""
    exe = shutil.which(tool)
    if exe is None:
        return NOT_INSTALLED
    try:
        res = subprocess.run([exe, *args], capture_output=True, timeout=60,
                             env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e.__class__.__name__})"
    # Some tools print non-UTF-8 bytes (e.g. a Latin-1 copyright sign).
    match = _VERSION.search((res.stdout + b"\n" + res.stderr).decode("utf-8", "replace"))
    return match.group(0) if match else "unknown"


def tool_versions(tools: dict[str, list[str]] = TOOLS) -> pd.DataFrame:
    rows = [{"kind": "tool", "name": t, "version": tool_version(t, a)} for t, a in tools.items()]
    return pd.DataFrame(rows, columns=["kind", "name", "version"])


def sha256(path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def units_files(units: pd.DataFrame) -> list[str]:
    """The FASTQ files a units table names (fq1, and fq2 where given)."""
    cols = [c for c in ("fq1", "fq2") if c in units.columns]
    return sorted({str(p) for c in cols for p in units[c].dropna() if str(p).strip()})


def checksums(paths) -> pd.DataFrame:
    """path, bytes and sha256 of each file (sorted by path, duplicates once)."""
    rows = [{"path": str(p), "bytes": Path(p).stat().st_size, "sha256": sha256(p)}
            for p in sorted({str(p) for p in paths})]
    return pd.DataFrame(rows, columns=["path", "bytes", "sha256"])
