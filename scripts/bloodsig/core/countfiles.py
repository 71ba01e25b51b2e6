"""Count matrices in the forms users bring them, read into one genes x samples table.

    read_count_table(path, fmt="auto", annot_path=None, sample_ids=None, duplicates="sum")
        -> CountTable(counts, gene_names, annotation, format, id_kind, notes,
                      damaged_symbols, path, id_column)
    check_damaged(table, refuse=True) -> list[str]
    bam_sample_ids(columns, sample_ids=None, path=None) -> list[str]
    read_geo_annotation(path) -> DataFrame (gene_name, gene_type, chromosome, length by GeneID)

Input is TSV (or CSV, told by the header line), plain or gzip (told by its magic bytes), with
R's quotes allowed. Row numbers in messages are line numbers in the file (header = 1 when there
is no comment line). Counts must be finite, non-negative integers (the checks of
`bloodsig.core.io.read_counts`); only the nf-core format's estimated counts are rounded.

Formats, and how ``fmt="auto"`` tells them from the first lines:

- ``featurecounts``: a ``# Program:featureCounts`` line, or a header starting
  ``Geneid Chr Start End Strand Length`` (the Subread table; confirmed against
  nf-core/rnaseq modules/local/multiqc_custom_biotype/tests/data/test.featureCounts.txt). The
  other columns are BAM paths, reduced to sample ids by `bam_sample_ids`. Chr (first of a
  ;-joined list) and Length go to ``annotation``.
- ``nfcore``: nf-core/rnaseq merged gene tables. Header ``gene_id gene_name <samples>`` for
  ``salmon.merged.gene_counts[_length_scaled|_scaled].tsv`` (tximport.r writes rowData columns
  1:2 = gene_id, gene_name: modules/nf-core/tximeta/tximport/templates/tximport.r) and
  ``gene_id transcript_id(s) <samples>`` for ``rsem.merged.gene_counts.tsv`` (the first two
  columns of RSEM's genes.results: modules/local/rsem_merge_counts/main.nf). Auto-detected for
  the RSEM header, and for the salmon header when the file name holds ``merged.gene_counts``
  (a gene_id/gene_name table under another name is read as plain, so normalised values are
  refused, not rounded). Estimated counts are rounded half to even (numpy.round, as R's
  round() in DESeq2's DESeqDataSetFromTximport, ``counts <- round(txi$counts)``, which is
  what tximport users feed DESeq2/edgeR); the note gives how many values changed and the
  largest change. A ``*tpm*`` file is refused.
- ``geo``: NCBI GEO's generated ``GSE..._raw_counts_GRCh38.p13_NCBI.tsv.gz``: header ``GeneID``
  then GSM accessions, Entrez ids. Auto-detected when the first header is GeneID and every
  sample column is a GSM id.
- ``plain``: anything else. The first column holds gene ids whatever its header, including an
  empty header cell and a header with one field fewer than the rows (R's write.table). A
  second column named gene_name or symbol is taken as gene names.

``annot_path``: NCBI's companion ``Human.GRCh38.p13.annot.tsv.gz``, for Entrez ids (any
format). Its header, GeneID Symbol Description Synonyms GeneType EnsemblGeneID Status ChrAcc
ChrStart ChrStop Orientation Length GOFunctionID GOProcessID GOComponentID GOFunction GOProcess
GOComponent, was confirmed from public code that reads it (an R annotation-repair script that
lists these columns in this order; scripts filtering ``GeneType == "protein-coding"``, reading
``GOComponentID`` split on ``///``, selecting GeneID/Symbol/EnsemblGeneID). Symbol ->
gene_name, GeneType -> gene_type (``protein-coding`` -> ``protein_coding``, ``pseudo`` ->
``pseudogene``, as in Ensembl), chromosome from a Chromosome column or from ChrAcc (RefSeq
NC_ accessions of human and mouse -> 1..22/19, X, Y, MT; other accessions kept), Length.

Gene ids are normalised by `bloodsig.core.geneids.normalise_gene_ids` (kind, Ensembl versions,
_PAR_Y rows, damaged symbols, duplicates): see that module.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from .errors import InputError
from .geneids import ID_KINDS, normalise_gene_ids
from .io import check_count_values

FORMATS = ("plain", "nfcore", "featurecounts", "geo")
__all__ = ["FORMATS", "ID_KINDS", "CountTable", "read_count_table", "check_damaged",
           "bam_sample_ids", "read_geo_annotation"]
FC_COLUMNS = ["Geneid", "Chr", "Start", "End", "Strand", "Length"]
NFCORE_SECOND = {"gene_name": "salmon/tximport", "transcript_id(s)": "RSEM"}
ANNOT_COLUMNS = ["gene_name", "gene_type", "chromosome", "length"]
BAM_SUFFIXES = (".bam", ".sam", ".cram", ".sortedByCoord.out", ".toTranscriptome.out", ".out",
                "Aligned", ".sorted", "_sorted", ".markdup", "_markdup", ".dedup", "_dedup",
                ".primary", ".filtered")
_GSM = re.compile(r"^GSM\d+$")


@dataclass(frozen=True, eq=False)
class CountTable:
    counts: pd.DataFrame                  # genes x samples, int64, index "gene_id" (normalised)
    gene_names: pd.Series | None          # symbols by gene id (nf-core gene_name, GEO Symbol)
    annotation: pd.DataFrame | None       # gene_name, gene_type, chromosome, length by gene id
    format: str                           # one of FORMATS
    id_kind: str                          # one of ID_KINDS
    notes: list[str] = field(default_factory=list)
    damaged_symbols: pd.DataFrame | None = None  # line, value, probable_symbol
    path: str = ""
    id_column: str = "gene ids"


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    raw = gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _read_cells(path: Path):
    """Comment lines, header cells, its line number, data rows and their line numbers."""
    try:
        with _open_text(path) as fh:
            text = fh.read()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise InputError(f"count matrix cannot be read ({e})", path=path) from None
    lines = text.splitlines()
    comments, i = [], 0
    while i < len(lines) and (lines[i].startswith("#") or not lines[i].strip()):
        comments.append(lines[i])
        i += 1
    if i == len(lines):
        raise InputError("count matrix is empty", path=path)
    delim = "\t" if "\t" in lines[i] or "," not in lines[i] else ","
    reader = csv.reader(lines[i:], delimiter=delim)
    header = [c.strip() for c in next(reader)]
    rows, numbers = [], []
    for n, cells in enumerate(reader, start=i + 2):
        if cells and any(c.strip() for c in cells):
            rows.append(cells)
            numbers.append(n)
    if not rows:
        raise InputError("count matrix has a header and no genes", path=path)
    return comments, header, i + 1, rows, np.array(numbers, dtype=np.int64)


def _values(rows, first: int, samples: list[str], lines, path, round_estimates: str = ""):
    """The sample columns as int64 (rounded only when `round_estimates` names the tool)."""
    width = first + len(samples)
    for cells, ln in zip(rows, lines, strict=True):
        if len(cells) != width:
            raise InputError(f"has {len(cells)} fields where the header gives {width}",
                             path=path, row=int(ln))
    cells = [r[first:] for r in rows]
    try:
        arr = np.array(cells, dtype=float)
    except ValueError:  # some cell is not a number: find it column by column
        raw = pd.DataFrame(cells)
        arr = raw.apply(lambda c: pd.to_numeric(c.str.strip(), errors="coerce")).to_numpy(float)
    genes = [r[0].strip() for r in rows]
    check_count_values(arr, lambda i, j: cells[i][j], genes, samples, lines, path,
                       allow_fraction=bool(round_estimates))
    rounded = np.round(arr)
    frac = arr != rounded
    changed = int(frac.sum())
    largest = float(np.abs(arr - rounded).max(initial=0.0))
    out, notes = rounded.astype(np.int64), []
    if changed:
        notes.append(f"rounded {changed:,} non-integer estimated counts ({round_estimates}) "
                     f"half to even, as DESeq2's DESeqDataSetFromTximport; largest change "
                     f"{largest:.3g}")
    return out, notes


def _detect(path: Path, comments, header) -> tuple[str, str]:
    if any(c.startswith("# Program:featureCounts") for c in comments):
        return "featurecounts", "the '# Program:featureCounts' line"
    if header[:6] == FC_COLUMNS:
        return "featurecounts", "the header Geneid Chr Start End Strand Length"
    if header[:1] == ["gene_id"] and header[1:2] == ["transcript_id(s)"]:
        return "nfcore", "the header gene_id transcript_id(s) (RSEM)"
    if header[:2] == ["gene_id", "gene_name"] and "merged.gene_counts" in path.name:
        return "nfcore", f"the header gene_id gene_name and the name {path.name}"
    if header[:1] == ["GeneID"] and len(header) > 1 and all(_GSM.match(c) for c in header[1:]):
        return "geo", "the header GeneID then GSM accessions"
    return "plain", "no other format's header"


def _check_fits(fmt: str, path: Path, comments, header) -> None:
    need = {"featurecounts": ("Geneid Chr Start End Strand Length", header[:6] == FC_COLUMNS),
            "nfcore": ("gene_id, then gene_name (salmon) or transcript_id(s) (RSEM)",
                       header[:1] == ["gene_id"] and header[1:2] in (["gene_name"],
                                                                     ["transcript_id(s)"])),
            "geo": ("GeneID, then one column per GSM sample", header[:1] == ["GeneID"])}
    if fmt in need and not need[fmt][1]:
        raise InputError(f"format {fmt} needs a header starting {need[fmt][0]}; this one starts "
                         f"{' '.join(repr(c) for c in header[:3])}", path=path, row=len(comments)
                         + 1)


def read_count_table(path, fmt: str = "auto", annot_path=None, sample_ids=None,
                     duplicates: str = "sum") -> CountTable:
    """Read a count matrix in any of FORMATS (see the module docstring) into a CountTable."""
    path = Path(path)
    if fmt != "auto" and fmt not in FORMATS:
        raise InputError(f"unknown count format '{fmt}' (use auto or one of "
                         f"{', '.join(FORMATS)})", path=path)
    if not path.is_file():
        raise InputError("count matrix not found", path=path)
    comments, header, header_line, rows, lines = _read_cells(path)
    if fmt == "auto":
        fmt, why = _detect(path, comments, header)
        notes = [f"format {fmt} (detected from {why})"]
    else:
        _check_fits(fmt, path, comments, header)
        notes = [f"format {fmt} (as configured)"]
    names = annotation = None
    estimated = ""
    id_column = header[0] or "gene ids"
    if fmt == "featurecounts":
        first, samples = 6, bam_sample_ids(header[6:], sample_ids, path)
        notes.append("sample columns from BAM names: " + ", ".join(
            f"{b} -> {s}" for b, s in list(zip(header[6:], samples, strict=True))[:3])
            + (" ..." if len(samples) > 3 else ""))
        chrom = [r[1].split(";")[0] if len(r) > 1 else "" for r in rows]
        length = pd.to_numeric(pd.Series([r[5] if len(r) > 5 else "" for r in rows]),
                               errors="coerce")
        annotation = pd.DataFrame({"gene_name": np.nan, "gene_type": np.nan,
                                   "chromosome": chrom, "length": length.to_numpy()})
    elif fmt == "nfcore":
        if "tpm" in path.name.lower():
            raise InputError("this is a TPM table, not counts: give nf-core/rnaseq's "
                             "*.merged.gene_counts*.tsv", path=path)
        first, samples = 2, header[2:]
        estimated = f"nf-core {NFCORE_SECOND[header[1]]}"
        if header[1] == "gene_name":
            names = pd.Series([r[1] if len(r) > 1 else "" for r in rows], dtype=object)
        if "length_scaled" not in path.name and header[1] == "gene_name":
            notes.append("for limma-voom, tximport's authors recommend the lengthScaledTPM "
                         "counts (salmon.merged.gene_counts_length_scaled.tsv)")
    elif fmt == "geo":
        first, samples = 1, header[1:]
        if not all(_GSM.match(c) for c in samples):
            notes.append("sample columns are not all GSM accessions")
    else:
        width = len(rows[0])
        if len(header) == width - 1:
            header, id_column = [""] + header, "gene ids"
            notes.append("header has one field fewer than the rows (R write.table): all its "
                         "fields are sample ids")
        first = 2 if header[1:2] and header[1].lower() in ("gene_name", "symbol") else 1
        if first == 2:
            names = pd.Series([r[1] if len(r) > 1 else "" for r in rows], dtype=object)
        samples = header[first:]
    if not samples:
        raise InputError("count matrix has no sample columns", path=path, row=header_line)
    dup = pd.Index(samples)[pd.Index(samples).duplicated()]
    if len(dup):
        raise InputError("duplicated sample id", path=path, row=header_line, column=dup[0])
    values, value_notes = _values(rows, first, samples, lines, path, estimated)
    notes += value_notes
    ids = pd.Index([r[0] for r in rows], dtype=object)
    res = normalise_gene_ids(pd.DataFrame(values, index=ids, columns=samples), lines,
                             path=path, column=id_column, duplicates=duplicates)
    notes += res.notes
    if fmt == "geo" and res.kind != "entrez":
        raise InputError(f"GEO raw counts have NCBI GeneIDs (digits); these ids are {res.kind}",
                         path=path, column=id_column)
    index = res.counts.index
    if names is not None:
        names = pd.Series(names.to_numpy()[res.rows], index=index, name="gene_name")
    if annotation is not None:
        annotation = annotation.iloc[res.rows].set_axis(index)
    if annot_path is not None:
        if res.kind != "entrez":
            raise InputError(f"the GEO annotation is keyed by NCBI GeneID; the count ids are "
                             f"{res.kind}", path=annot_path)
        annotation = read_geo_annotation(annot_path).reindex(index)
        annotation.index.name = "gene_id"
        names = annotation["gene_name"].rename("gene_name")
        missing = int(annotation["gene_name"].isna().sum())
        notes.append(f"annotation from {Path(annot_path).name}: {len(index) - missing} of "
                     f"{len(index)} genes found")
    return CountTable(res.counts, names, annotation, fmt, res.kind, notes, res.damaged,
                      str(path), id_column)


def check_damaged(table: CountTable, refuse: bool = True) -> list[str]:
    """Refuse (InputError naming file, line and id column) a table with spreadsheet-damaged
    symbols when `refuse`; otherwise return one note line per damaged symbol."""
    damaged = table.damaged_symbols
    if damaged is None or not len(damaged):
        return []
    if refuse:
        r = damaged.iloc[0]
        raise InputError(f"gene symbol '{r.value}' was damaged by a spreadsheet (probably "
                         f"{r.probable_symbol}); {len(damaged)} such rows in all: fix them "
                         "in the source", path=table.path, row=int(r.line),
                         column=table.id_column)
    return [f"line {r.line}: {r.value} (probably {r.probable_symbol})"
            for r in damaged.itertuples()]


def _strip_bam(name: str) -> str:
    name = PurePosixPath(name.replace("\\", "/")).name
    changed = True
    while changed:
        changed = False
        for suffix in BAM_SUFFIXES:
            if name.endswith(suffix):
                name, changed = name[: -len(suffix)].rstrip("._-"), bool(name[: -len(suffix)])
    return name


def bam_sample_ids(columns, sample_ids=None, path=None) -> list[str]:
    """Sample ids for featureCounts' BAM columns.

    A column's basename loses known aligner suffixes (.bam, .sortedByCoord.out, Aligned,
    .sorted, .markdup, ...). Without `sample_ids` that is the id (the parent folder's name when
    nothing is left, as in star/S01/Aligned.sortedByCoord.out.bam). With them, the id is the
    sheet id equal to it or else the unique sheet id that is a folder of the path or a prefix
    of the basename followed by . _ or -; a column matching none or several ids, and two
    columns with one id, are refused naming the column.
    """
    out = []
    for col in columns:
        parts = PurePosixPath(col.replace("\\", "/")).parts
        stem = _strip_bam(col)
        if sample_ids is None:
            out.append(stem or (parts[-2] if len(parts) > 1 else col))
            continue
        ids = [str(s) for s in sample_ids]
        if stem in ids:
            out.append(stem)
            continue
        base = parts[-1] if parts else col
        hits = sorted({s for s in ids if s in parts[:-1] or re.match(
            re.escape(s) + r"(?:[._-]|$)", base)})
        if len(hits) != 1:
            problem = ("matches no sample id of the sample sheet" if not hits else
                       f"matches several sample ids ({', '.join(hits)})")
            raise InputError(f"BAM column {problem}", path=path, column=col)
        out.append(hits[0])
    seen: dict[str, str] = {}
    for col, sid in zip(columns, out, strict=True):
        if sid in seen:
            raise InputError(f"BAM columns '{seen[sid]}' and '{col}' are both sample '{sid}'",
                             path=path, column=col)
        seen[sid] = col
    return out


_NC_HUMAN = re.compile(r"^NC_0000(\d\d)(?:\.\d+)?$")
_NC_MOUSE = {f"NC_0000{67 + i}": str(i + 1) for i in range(19)} | {
    "NC_000086": "X", "NC_000087": "Y", "NC_005089": "MT"}


def _chromosome(acc: str) -> str:
    m = _NC_HUMAN.match(acc)
    if m and 1 <= int(m.group(1)) <= 24:
        n = int(m.group(1))
        return {23: "X", 24: "Y"}.get(n, str(n))
    stem = acc.split(".")[0]
    if stem == "NC_012920":
        return "MT"
    return _NC_MOUSE.get(stem, acc)


def read_geo_annotation(path) -> pd.DataFrame:
    """NCBI's GEO annotation (Human.GRCh38.p13.annot.tsv[.gz]) as gene_name, gene_type,
    chromosome, length by GeneID (see the module docstring for the mapping)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("GEO annotation not found", path=path)
    with _open_text(path) as fh:
        df = pd.read_csv(fh, sep="\t", dtype=str, quoting=csv.QUOTE_NONE, na_filter=False)
    missing = [c for c in ("GeneID", "Symbol") if c not in df.columns]
    if missing:
        raise InputError(f"GEO annotation lacks column(s) {', '.join(missing)}", path=path,
                         column=missing[0])
    gid = df["GeneID"].str.strip()
    dup = gid.duplicated()
    if dup.any():
        raise InputError(f"duplicated GeneID '{gid[dup].iloc[0]}'", path=path,
                         row=int(np.flatnonzero(dup)[0]) + 2, column="GeneID")

    def col(name):
        return df[name].replace("", np.nan) if name in df.columns else pd.Series(np.nan,
                                                                               index=df.index)
    gene_type = col("GeneType").replace({"protein-coding": "protein_coding",
                                          "pseudo": "pseudogene"})
    chrom_col = next((c for c in ("Chromosome", "chromosome") if c in df.columns), None)
    chrom = col(chrom_col) if chrom_col else col("ChrAcc").map(_chromosome, na_action="ignore")
    out = pd.DataFrame({"gene_name": col("Symbol"), "gene_type": gene_type,
                        "chromosome": chrom,
                        "length": pd.to_numeric(col("Length"), errors="coerce")})
    return out.set_axis(pd.Index(gid, name="GeneID"))
