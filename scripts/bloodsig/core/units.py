"""FASTQ units (sequencing runs or lanes of a sample) checked against the cohort's sample sheet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import InputError


def match_units(units: pd.DataFrame, samples: pd.DataFrame, units_path,
                samples_path) -> pd.DataFrame:
    """Units whose samples are all in the sample sheet, every sheet sample having units, and
    each sample's units all single-end or all paired-end; adds a boolean `paired` column (and an
empty `fq2` if the sheet has none)."""
    units = units.copy()
    if "fq2" not in units:  # a sheet of single-end units may leave the column out
        units["fq2"] = None
    units["paired"] = units["fq2"].notna()
    unknown = ~units["sample_id"].isin(samples.index)
    if unknown.any():
        i = int(unknown.to_numpy().nonzero()[0][0])
        raise InputError(f"sample '{units['sample_id'].iloc[i]}' is not in the sample sheet "
                         f"{samples_path}", path=units_path, row=i + 2, column="sample_id")
    no_reads = [s for s in samples.index if s not in set(units["sample_id"])]
    if no_reads:
        raise InputError(f"sample '{no_reads[0]}' has no FASTQ units in {units_path} "
                         f"({len(no_reads)} such samples)", path=samples_path,
                         row=samples.index.get_loc(no_reads[0]) + 2)
    mixed = units.groupby("sample_id")["paired"].nunique() > 1
    if mixed.any():
        sample = mixed.index[mixed.to_numpy()][0]
        raise InputError(f"sample '{sample}' mixes single-end and paired-end units",
                         path=units_path, column="fq2")
    return units


def check_fastq_paths(units: pd.DataFrame, units_path, pending=()) -> None:
    """Every FASTQ that the units sheet names exists, unless it lies in a folder that the run
    itself writes (`pending`, e.g. the demo's reads), so a path typo stops the run at once."""
    for column in ("fq1", "fq2"):
        for i, path in enumerate(units[column]):
            if isinstance(path, str) and Path(path).parent.as_posix() not in pending \
                    and not Path(path).exists():
                raise InputError(f"FASTQ file '{path}' not found", path=units_path, row=i + 2,
                                 column=column)
