"""Readers that validate and writers that are atomic.

Every table is TSV with a header. Writers go through a temporary file in the target
directory and an atomic rename, so a killed job never leaves a file that looks complete.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A job killed mid-write leaves its temporary file; the rerun that replaces it clears it.
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or "".join(path.suffixes), dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        # mkstemp creates 0600; give the result the mode a plain open() would have.
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def scratch_dir(path: str | os.PathLike) -> Iterator[Path]:
    """A hidden working folder `.<name>.tmp` next to `path`, emptied first and removed after.

    Its name is fixed, not random, because tools write the paths of their inputs and outputs
    into their reports (cutadapt's JSON, featureCounts' header), which must be the same in
    every run. The rule's lock on `path` keeps two jobs from sharing it.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_tsv(df: pd.DataFrame, path, index: bool = False, float_format: str = "%.10g") -> None:
    """Write a TSV atomically with a fixed float format, so two runs give identical bytes."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=index, float_format=float_format, lineterminator="\n")


def write_text(text: str, path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_figure(fig, path, dpi: int = 150) -> None:
    """Save a matplotlib figure atomically with fixed metadata (byte-stable PNG/SVG/PDF)."""
    import matplotlib.pyplot as plt

    meta = {"Software": None} if str(path).endswith(".png") else {"Creator": None}
    if str(path).endswith(".svg"):
        meta = {"Creator": None, "Date": None}
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", metadata=meta, format=Path(path).suffix[1:])
    plt.close(fig)


def read_tsv(path, required: list[str] | tuple[str, ...] = (), what: str = "table",
             **kwargs) -> pd.DataFrame:
    """Read a TSV and check that it exists, is not empty and has the required columns."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} not found", path=path)
    try:
        df = pd.read_csv(path, sep="\t", **kwargs)
    except pd.errors.EmptyDataError:
        raise InputError(f"{what} is empty", path=path) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise InputError(f"{what} is not a valid TSV ({e})", path=path) from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{what} lacks required column(s) {', '.join(missing)}", path=path,
                         column=missing[0])
    return df


def read_counts(path) -> pd.DataFrame:
    """Read a gene x sample count matrix: first column gene_id, then one integer column per sample.

    A `gene_name` column, if present, is dropped here (names come from the annotation).
    Refuses duplicated gene ids or sample ids, non-numeric, NaN, negative or non-integer values,
    naming the first offending gene and sample.
    """
    path = Path(path)
    df = read_tsv(path, required=["gene_id"], what="count matrix", dtype={"gene_id": str})
    df = df.drop(columns=[c for c in ("gene_name",) if c in df.columns])
    dup = df["gene_id"][df["gene_id"].duplicated()]
    if len(dup):
        raise InputError(f"duplicated gene id '{dup.iloc[0]}'", path=path,
                         row=int(dup.index[0]) + 2, column="gene_id")
    if df["gene_id"].isna().any():
        raise InputError("empty gene id", path=path, row=int(np.flatnonzero(
            df["gene_id"].isna())[0]) + 2, column="gene_id")
    df = df.set_index("gene_id")
    if df.shape[1] == 0:
        raise InputError("count matrix has no sample columns", path=path)
    cols = pd.Index(df.columns)
    if cols.duplicated().any():
        raise InputError("duplicated sample id", path=path, column=cols[cols.duplicated()][0])
    arr = df.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    arr = check_count_values(arr, lambda i, j: df.iat[i, j], df.index, df.columns,
                             np.arange(2, len(df) + 2), path)
    return pd.DataFrame(arr.astype(np.int64), index=df.index, columns=df.columns)


def check_count_values(arr: np.ndarray, raw, genes, samples, rows, path,
                       allow_fraction: bool = False) -> np.ndarray:
    """Refuse a missing, non-numeric, negative or (unless `allow_fraction`) non-integer count.

    `arr` holds the values as floats (NaN where a cell is not a number); `raw(i, j)` gives the
    cell as written and `rows[i]` its line in the file, so the message names file, line, gene,
    sample and value. The one check for counts, whichever reader parsed the file.
    """
    bad = ~np.isfinite(arr) | (arr < 0)
    if not allow_fraction:
        bad |= np.isfinite(arr) & (arr != np.round(arr))
    if not bad.any():
        return arr
    j, i = (int(x) for x in np.argwhere(bad.T)[0])
    v = raw(i, j)
    v = v.strip() if isinstance(v, str) else v
    if pd.isna(v) or v in ("", "NA", "NaN", "nan"):
        problem = "missing value (NaN)"
    elif not np.isfinite(arr[i, j]):
        problem = f"non-numeric value '{v}'"
    elif arr[i, j] < 0:
        problem = f"negative count {arr[i, j]:g}"
    else:
        problem = (f"non-integer count {arr[i, j]:g} (bloodsig needs raw counts, not normalised "
                   "values; for salmon/RSEM estimated counts name the format nfcore)")
    raise InputError(f"{problem} for gene {genes[i]}", path=path, row=int(rows[i]),
                     column=samples[j])


def setup_logging(log_path=None) -> logging.Logger:
    """Send the library's log records to the rule's log file (or stderr)."""
    handlers = [logging.FileHandler(log_path, mode="w")] if log_path else [logging.StreamHandler()]
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return logging.getLogger("bloodsig")
