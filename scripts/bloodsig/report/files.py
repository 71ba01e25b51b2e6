"""The result files a report is built from, by their path inside the cohort's results folder.

A report is built from whatever the enabled stages wrote: each section asks for the files it
draws on by relative name ("de/primary/toptable.tsv") and is left out, with a line saying
so, when its stage did not run.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pandas as pd

from ..core.io import read_tsv


class Results:
    """`paths` (the report rule's inputs) keyed by their path under results/<cohort>/; files
    outside it (results/provenance/..., another cohort's) keep their path from the project."""

    def __init__(self, paths, cohort: str):
        prefix = f"results/{cohort}/"
        self.cohort = cohort
        self.paths: dict[str, Path] = {}
        for p in map(str, paths):
            key = p.split(prefix, 1)[1] if prefix in p else p
            self.paths[key] = Path(p)

    def has(self, key: str) -> bool:
        return key in self.paths

    def path(self, key: str) -> Path:
        return self.paths[key]

    def tsv(self, key: str) -> pd.DataFrame:
        return read_tsv(self.paths[key], what=key)

    def text(self, key: str) -> str:
        return self.paths[key].read_text()

    def glob(self, pattern: str) -> list[str]:
        """The keys matching a shell pattern, sorted."""
        return sorted(k for k in self.paths if fnmatch.fnmatchcase(k, pattern))

    def any(self, pattern: str) -> bool:
        return bool(self.glob(pattern))
