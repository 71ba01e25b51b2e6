"""Gene identifiers as count files carry them: which kind they are, and the same gene once.

`normalise_gene_ids` is the one entry point; `bloodsig.core.countfiles` calls it for every format.

- Kind: ``ensembl`` when most ids match ``^ENS[A-Z]*G\\d{11}(\\.\\d+)?(_PAR_Y)?$`` (human
  ENSG, mouse ENSMUSG, ...), ``entrez`` when most are all digits, else ``symbol``. Ids that do
  not fit the majority kind (spike-ins such as ERCC-00002, transgenes) are kept as they are and
  counted in a note.
- Ensembl version suffixes are stripped (ENSG00000223972.5 -> ENSG00000223972). GENCODE gives
  the pseudoautosomal genes a second row, ``ENSG..._PAR_Y``, that STAR/featureCounts/salmon
  leave all-zero: such a row is dropped when its chrX copy is present; a non-zero one, or one
  without a chrX copy, is kept under its own id ``ENSG..._PAR_Y``. Two rows that are one id
  after stripping are two versions of a gene: refused, naming both lines.
- Rows that are not genes: htseq-count's ``__no_feature`` etc. and STAR ReadsPerGene's
  ``N_unmapped``, ``N_multimapping``, ``N_noFeature``, ``N_ambiguous`` are dropped (noted).
- Symbols damaged by spreadsheets (Ziemann et al. 2016, Genome Biol 17:177; Abeysooriya et al.
  2021, PLoS Comput Biol 17:e1008984): day-month and month-day dates (``1-Mar``, ``Sep-02``,
  ``1-Dec``) and RIKEN clone ids read as numbers (``2.31E+13``). They are kept as they are (the
  original symbol cannot be known for sure: 1-Mar was MARCH1 or MARC1) and listed with their
  line and probable symbol in ``damaged`` and in a note; `countfiles.check_damaged` refuses them
  for a user who asks for that.
- Duplicated symbols: ``duplicates="sum"`` adds their rows (noted, with lines), ``"refuse"``
  raises `InputError` with both lines. Duplicated Ensembl or Entrez ids are always refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError

ID_KINDS = ("ensembl", "entrez", "symbol")
ENSEMBL_RE = re.compile(r"^(ENS[A-Z]*G\d{11})(\.\d+)?(_PAR_Y)?$")
NOT_GENES = ("N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous")
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DATE_RE = re.compile(rf"^(?:(\d{{1,2}})-({_MONTHS})|({_MONTHS})-(\d{{1,2}}))$", re.IGNORECASE)
_RIKEN_RE = re.compile(r"^\d(?:\.\d+)?E\+\d{2}$", re.IGNORECASE)
_OCT = {1: "POU2F1 (OCT1)", 2: "POU2F2 (OCT2)", 4: "POU5F1 (OCT4)"}


@dataclass(frozen=True, eq=False)
class IdResult:
    counts: pd.DataFrame       # index: normalised ids, name "gene_id"
    rows: np.ndarray           # for each output row, the input row it came from (first if summed)
    kind: str
    notes: list[str]
    damaged: pd.DataFrame      # line, value, probable_symbol


def _lines(lines, limit: int = 5) -> str:
    shown = ", ".join(str(x) for x in lines[:limit])
    return shown + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


def detect_id_kind(ids) -> tuple[str, int]:
    """The kind most ids are, and how many ids are not of that kind."""
    ids = pd.Index(ids, dtype=object).astype(str)
    n = len(ids)
    ens = int(ids.str.match(ENSEMBL_RE.pattern).sum())
    ent = int(ids.str.fullmatch(r"\d+").sum())
    if n and ens * 2 > n:
        return "ensembl", n - ens
    if n and ent * 2 > n:
        return "entrez", n - ent
    return "symbol", 0


def probable_symbol(value: str) -> str:
    """What a spreadsheet-damaged value probably was ('' when it is not a damaged form)."""
    if _RIKEN_RE.match(value):
        return "a RIKEN clone id (e.g. 2310009E13) read as a number"
    m = _DATE_RE.match(value)
    if not m:
        return ""
    day = int(m.group(1) or m.group(4))
    month = (m.group(2) or m.group(3)).lower()
    if month == "sep":
        return "SELENOF (SEP15)" if day == 15 else f"SEPTIN{day} (SEPT{day})"
    if month == "mar":
        marc = f" or MTARC{day} (MARC{day})" if day in (1, 2) else ""
        return f"MARCHF{day} (MARCH{day}){marc}"
    if month == "dec" and day == 1:
        return "DELEC1 (DEC1)"
    if month == "oct" and day in _OCT:
        return _OCT[day]
    return "unknown (a date)"


def find_damaged(ids, lines) -> pd.DataFrame:
    """Rows whose id is a spreadsheet-damaged symbol: line, value, probable_symbol."""
    ids = [str(x) for x in ids]
    found = [(int(ln), v, probable_symbol(v)) for v, ln in zip(ids, lines, strict=True)]
    found = [f for f in found if f[2]]
    return pd.DataFrame(found, columns=["line", "value", "probable_symbol"]).astype(
        {"line": "int64", "value": object, "probable_symbol": object})


def _refuse_duplicates(ids: pd.Series, lines: np.ndarray, what: str, path, column,
                       why: str = "") -> None:
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        first = ids[dup].iloc[0]
        at = lines[(ids == first).to_numpy()]
        raise InputError(f"{what} '{first}' on lines {_lines(list(at))}{why}", path=path,
                         row=int(at[1]), column=column)


def normalise_gene_ids(counts: pd.DataFrame, lines, *, path=None, column=None,
                       duplicates: str = "sum") -> IdResult:
    """Normalise the ids of a genes x samples int64 table whose index holds the ids as read.

    `lines` gives each row's line number in the file (for messages); `column` names the id
    column. Returns the table with one row per gene, the input row of each output row, the id
    kind, notes for the log and the damaged-symbol table (see the module docstring).
    """
    if duplicates not in ("sum", "refuse"):
        raise ValueError(f"duplicates must be 'sum' or 'refuse', not {duplicates!r}")
    lines = np.asarray(lines, dtype=np.int64)
    ids = pd.Series(counts.index.astype(str).str.strip(), dtype=object)
    empty = (ids == "").to_numpy()
    if empty.any():
        raise InputError("empty gene id", path=path, row=int(lines[empty][0]), column=column)
    notes: list[str] = []
    keep = ~(ids.isin(NOT_GENES) | ids.str.startswith("__")).to_numpy()
    if not keep.all():
        notes.append(f"dropped {int((~keep).sum())} rows that are not genes "
                     f"({', '.join(ids[~keep].head(5))}; htseq-count / STAR summary rows)")
    rows = np.flatnonzero(keep)
    values = counts.to_numpy()[rows]
    ids, lines = ids.iloc[rows].reset_index(drop=True), lines[rows]
    kind, other = detect_id_kind(ids)
    note = f"gene ids: {kind}"
    if other:
        pattern = ENSEMBL_RE.pattern if kind == "ensembl" else r"^\d+$"
        odd = ids[~ids.str.match(pattern)]
        note += f"; {other} ids of another kind kept as they are (e.g. {', '.join(odd.head(3))})"
    notes.append(note)
    damaged = find_damaged([], [])
    if kind == "ensembl":
        ids, keep = _ensembl(ids, values, lines, notes, path, column)
        rows, values, lines = rows[keep], values[keep], lines[keep]
        ids = ids[keep].reset_index(drop=True)
        _refuse_duplicates(ids, lines, "duplicated gene id", path, column,
                           " (Ensembl ids are compared without their version suffix)")
    elif kind == "entrez":
        _refuse_duplicates(ids, lines, "duplicated gene id", path, column)
    else:
        damaged = find_damaged(ids, lines)
        if len(damaged):
            notes.append(f"{len(damaged)} gene symbols look damaged by a spreadsheet (kept as "
                         "they are): " + "; ".join(
                             f"{r.value} on line {r.line} (probably {r.probable_symbol})"
                             for r in damaged.head(10).itertuples()))
        dup = ids.duplicated(keep=False).to_numpy()
        if dup.any():
            if duplicates == "refuse":
                _refuse_duplicates(ids, lines, "duplicated gene symbol", path, column)
            groups = ids[dup].drop_duplicates()
            notes.append(f"summed {len(groups)} duplicated symbols ({int(dup.sum())} rows): "
                         + "; ".join(f"{g} (lines {_lines(list(lines[(ids == g).to_numpy()]))})"
                                     for g in groups.head(5)))
            first = ~ids.duplicated().to_numpy()
            summed = pd.DataFrame(values, columns=counts.columns).groupby(
                ids.to_numpy(), sort=False).sum()
            rows, ids = rows[first], ids[first].reset_index(drop=True)
            values = summed.loc[ids].to_numpy()
    out = pd.DataFrame(values.astype(np.int64), index=pd.Index(ids, name="gene_id", dtype=object),
                       columns=counts.columns)
    return IdResult(out, rows, kind, notes, damaged)


def strip_versions(ids) -> pd.Index:
    """Ensembl ids without their version (ENSG00000223972.5 -> ENSG00000223972), GENCODE's
    _PAR_Y tag kept (ENSG00000182378.14_PAR_Y -> ENSG00000182378_PAR_Y); others unchanged."""
    ids = pd.Series(pd.Index(ids).astype(str))
    parts = ids.str.extract(ENSEMBL_RE.pattern)
    stripped = (parts[0] + parts[2].fillna("")).where(parts[0].notna(), ids)
    return pd.Index(stripped.to_numpy(), name=getattr(ids, "name", None))


def _ensembl(ids: pd.Series, values: np.ndarray, lines: np.ndarray, notes: list[str], path,
             column) -> tuple[pd.Series, np.ndarray]:
    parts = ids.str.extract(ENSEMBL_RE.pattern)
    matched = parts[0].notna().to_numpy()
    versioned = int(parts[1].notna().sum())
    if versioned:
        notes.append(f"stripped Ensembl version suffixes from {versioned} ids")
    base = ids.where(~matched, parts[0])
    par = parts[2].notna().to_numpy()
    keep = np.ones(len(ids), dtype=bool)
    if par.any():
        has_x = base.isin(set(base[~par])).to_numpy()
        zero = ~values.any(axis=1)
        drop = par & has_x & zero
        keep &= ~drop
        kept = par & ~drop
        msg = f"{int(par.sum())} GENCODE _PAR_Y rows: {int(drop.sum())} all-zero copies of " \
              "their chrX gene dropped"
        if kept.any():
            msg += (f"; {int(kept.sum())} kept under their own id (non-zero or without a chrX "
                    f"row): {', '.join(base[kept].head(5) + '_PAR_Y')}")
        notes.append(msg)
        base = base.where(~par, base + "_PAR_Y")
    return base, keep
