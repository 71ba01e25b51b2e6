"""The run's Snakemake benchmark files gathered into one table, and its slowest rules.

Snakemake writes one TSV per job for a rule with a ``benchmark:`` directive (columns s,
h:m:s, max_rss, max_vms, max_uss, max_pss, io_in, io_out, mean_load, cpu_time; memory and
I/O in MB; a job faster than the first sample has NA there). Which rule and wildcards a file
belongs to is read back from its path with the rules' benchmark patterns, so the table names
each job without Snakemake's extended format.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

#: Snakemake's wildcard syntax in a file pattern: {name} or {name,constraint}.
_WILDCARD = re.compile(
    r"\{\s*(?P<name>\w+?)(\s*,\s*(?P<constraint>([^{}]+|\{\d+(,\d+)?\})*))?\s*\}")
#: Columns of the gathered table, in order.
COLUMNS = ["rule", "wildcards", "s", "cpu_s", "max_rss_mb", "max_vms_mb", "io_in_mb",
           "io_out_mb", "mean_load", "benchmark"]
_FROM = {"s": "s", "cpu_time": "cpu_s", "max_rss": "max_rss_mb", "max_vms": "max_vms_mb",
         "io_in": "io_in_mb", "io_out": "io_out_mb", "mean_load": "mean_load"}


@lru_cache(maxsize=512)
def pattern_regex(pattern: str) -> re.Pattern:
    """The regular expression of a Snakemake file pattern, as Snakemake builds it: a wildcard
    matches its constraint (``.+`` without one), a repeated wildcard the same text again."""
    parts, seen, last = [], set(), 0
    for m in _WILDCARD.finditer(pattern):
        parts.append(re.escape(pattern[last:m.start()]))
        name = m.group("name")
        if name in seen:
            parts.append(f"(?P={name})")
        else:
            seen.add(name)
            parts.append(f"(?P<{name}>{m.group('constraint') or '.+'})")
        last = m.end()
    parts.append(re.escape(pattern[last:]))
    return re.compile("".join(parts) + "$")


def identify(path: str, patterns: dict[str, str]) -> tuple[str, dict] | None:
    """(rule, wildcards) of a benchmark file from the rules' benchmark patterns; None when no
    rule writes that path. If several patterns match, the one with the most literal text (the
    most specific) wins, as it would be the better description of the file."""
    best = None
    for rule, pattern in patterns.items():
        m = pattern_regex(pattern).match(path)
        if m:
            literal = len(_WILDCARD.sub("", pattern))
            if best is None or literal > best[0]:
                best = (literal, rule, m.groupdict())
    return None if best is None else (best[1], best[2])


def read_benchmark(path) -> dict:
    """One job's record from its benchmark file (``repeat()`` rows: mean time, peak memory)."""
    path = Path(path)
    try:
        df = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as e:
        raise InputError(f"not a Snakemake benchmark file ({e})", path=path) from None
    missing = [c for c in ("s", "max_rss", "cpu_time") if c not in df.columns]
    if missing or df.empty:
        raise InputError(f"not a Snakemake benchmark file (no {missing[0] if missing else 'rows'}"
                         ")", path=path)
    rec = {}
    for src, dst in _FROM.items():
        col = pd.to_numeric(df[src], errors="coerce") if src in df.columns else pd.Series([np.nan])
        rec[dst] = col.max() if dst.startswith("max_") else col.mean()
    return rec


def gather(files, patterns: dict[str, str], root=".") -> pd.DataFrame:
    """One row per job (columns ``COLUMNS``) from benchmark files, rule and wildcards read from
    each path relative to ``root`` by ``patterns`` (rule -> benchmark pattern); files that no
    rule writes are left out. Wildcards are "name=value" pairs joined by ","; rows are sorted
    by rule and wildcards."""
    rows = []
    root = Path(root)
    for f in files:
        rel = Path(f).relative_to(root).as_posix() if Path(f).is_absolute() else Path(f).as_posix()
        found = identify(rel, patterns)
        if found is None:
            continue
        rule, wildcards = found
        rows.append({"rule": rule, "wildcards": ",".join(f"{k}={v}" for k, v in wildcards.items()),
                     **read_benchmark(root / rel), "benchmark": rel})
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values(["rule", "wildcards"], kind="stable").reset_index(drop=True)


def slowest_rules(table: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` rules with the most wall time over their jobs: rule, jobs, total_s, max_s
    (slowest job), cpu_s, max_rss_mb (largest job); ties broken by rule name."""
    by = table.groupby("rule", sort=True)
    out = pd.DataFrame({"jobs": by.size(), "total_s": by["s"].sum(), "max_s": by["s"].max(),
                        "cpu_s": by["cpu_s"].sum(min_count=1),
                        "max_rss_mb": by["max_rss_mb"].max()}).reset_index()
    out = out.sort_values(["total_s", "rule"], ascending=[False, True], kind="stable")
    return out.head(n).reset_index(drop=True)
