"""A cohort as the stages see it: counts, gene annotation and sample sheet, all consistent."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .countfiles import check_damaged, read_count_table
from .errors import InputError
from .geneids import strip_versions
from .gtf import gene_annotation
from .io import read_tsv
from .sheets import load_samples, match_samples

log = logging.getLogger(__name__)

ANNOTATION_COLUMNS = ["gene_id", "gene_name", "gene_type", "chromosome", "length"]
FIELDS = ANNOTATION_COLUMNS[1:]


def load_annotation(path) -> pd.DataFrame:
    """Gene annotation indexed by gene_id with gene_name, gene_type, chromosome, length.

    Only gene_id is required: a field the table lacks, or an empty cell, is unknown (NaN) and
    the steps that need it say what they do instead. A length that is given must be a
    positive number. gene_name falls back to the gene id (for display and symbol look-ups).
    """
    genes = read_tsv(path, required=["gene_id"], what="gene annotation",
                     dtype={"gene_id": str, "gene_name": str, "chromosome": str,
                            "gene_type": str})
    dup = genes["gene_id"].duplicated()
    if dup.any():
        raise InputError(f"duplicated gene id '{genes.loc[dup, 'gene_id'].iloc[0]}'", path=path,
                         row=int(dup.to_numpy().nonzero()[0][0]) + 2, column="gene_id")
    for field in FIELDS:
        if field not in genes.columns:
            genes[field] = np.nan
    length = pd.to_numeric(genes["length"], errors="coerce")
    bad = (genes["length"].notna() & length.isna()) | (length <= 0)
    if bad.any():
        raise InputError(f"gene length '{genes.loc[bad, 'length'].iloc[0]}' is not a positive "
                         "number", path=path, row=int(bad.to_numpy().nonzero()[0][0]) + 2,
                         column="length")
    genes["length"] = length
    genes["gene_name"] = genes["gene_name"].fillna(genes["gene_id"])
    return genes[ANNOTATION_COLUMNS].set_index("gene_id")


def cohort_annotation(ids: pd.Index, id_kind: str, table: pd.DataFrame | None = None,
                      from_counts: pd.DataFrame | None = None, source: str = "",
                      ) -> pd.DataFrame:
    """The annotation of a count matrix's genes, in its order, from the best source at hand.

    `table` (a user's annotation table or one derived from a GTF, indexed by gene id) is
    used first; the count file's own columns (`from_counts`: GEO's annot.tsv, featureCounts'
    Chr and Length, nf-core's gene_name) fill what it leaves unknown. Symbol ids are their own
    gene_name. Nothing else is invented: an unknown field stays NaN, and the log says which
    fields are known for how many genes.
    """
    out = pd.DataFrame(np.nan, index=ids, columns=FIELDS, dtype=object)
    for extra in (from_counts, table):
        if extra is None:
            continue
        extra = extra.copy()
        if id_kind == "ensembl":
            extra.index = strip_versions(extra.index)
            extra = extra[~extra.index.duplicated()]
        for field in FIELDS:
            if field in extra.columns:
                values = extra[field].reindex(ids)
                out[field] = values.where(values.notna(), out[field])
    if table is not None:
        unknown = ids.difference(strip_versions(table.index) if id_kind == "ensembl"
                                 else table.index)
        if len(unknown):
            log.warning("%d of %d genes of the count matrix are not in the annotation %s "
                        "(first: %s); their fields are unknown", len(unknown), len(ids),
                        source, ", ".join(unknown[:5]))
    if id_kind == "symbol":
        out["gene_name"] = out["gene_name"].fillna(pd.Series(ids, index=ids))
    known = {f: int(out[f].notna().sum()) for f in FIELDS}
    log.info("annotation (%s): %s of %d genes", source or "none",
             ", ".join(f"{f} {n}" for f, n in known.items()), len(ids))
    for field in ("gene_type", "chromosome"):
        if known[field] == 0:
            log.warning("no %s for any gene: steps that need it say what they do instead",
                        field)
    out["gene_name"] = out["gene_name"].fillna(pd.Series(ids, index=ids))
    out["length"] = pd.to_numeric(out["length"])
    return out.rename_axis("gene_id")


def load_count_cohort(counts_path, samples_path, schema: dict, sheet: dict,
                      annotation_path=None, gtf_path=None, geo_annotation_path=None,
                      counts_format: str = "auto", duplicates: str = "sum",
                      damaged_symbols: str = "report",
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read and cross-check a count-matrix cohort in any of the accepted forms
    (`bloodsig.core.countfiles`: plain, nf-core, featureCounts, GEO).

    Returns counts (genes x samples, int64), the annotation in the counts' gene order (from
    `annotation_path`, else a GTF, else the count file itself; fields may be unknown) and the
    sample sheet in the counts' column order.
    """
    samples = load_samples(samples_path, schema, sheet)
    table = read_count_table(counts_path, counts_format, annot_path=geo_annotation_path,
                             sample_ids=list(samples.index), duplicates=duplicates)
    for note in table.notes:
        log.info("%s: %s", counts_path, note)
    damaged = check_damaged(table, refuse=damaged_symbols == "refuse")
    if damaged:
        log.warning("%s: %d gene symbols look damaged by a spreadsheet (kept as they are; "
                    "damaged_symbols: refuse stops instead): %s", counts_path, len(damaged),
                    "; ".join(damaged))
    counts = table.counts
    if annotation_path is not None:
        extra, source = load_annotation(annotation_path), str(annotation_path)
    elif gtf_path is not None:
        extra, source = gtf_annotation(gtf_path), str(gtf_path)
    else:
        extra, source = None, f"{table.format} count file" if table.annotation is not None \
            else ""
    own = table.annotation
    if table.gene_names is not None:
        own = (own if own is not None else pd.DataFrame(index=counts.index)).assign(
            gene_name=table.gene_names.reindex(counts.index))
    genes = cohort_annotation(counts.index, table.id_kind, extra, own, source)
    samples = match_samples(counts, samples, counts_path, samples_path)
    return counts, genes, samples


def gtf_annotation(path) -> pd.DataFrame:
    """gene_name, gene_type, chromosome, length from a GTF (Ensembl, GENCODE or NCBI); a GTF
    without gene_name attributes is reported with its file and the attribute column."""
    genes = gene_annotation(path)
    named = genes.attrs["named"]
    genes = genes.set_index("gene_id")
    if not named:
        log.warning("%s, column 'attributes': no exon line has a gene_name attribute; gene "
                    "names are unknown (globin and sex genes cannot be found by symbol)", path)
        genes["gene_name"] = np.nan
    return genes[FIELDS]


def read_samples(path, sheet: dict) -> pd.DataFrame:
    """A sample table that a bloodsig stage wrote (already validated), indexed by sample id."""
    sid = sheet["id_column"]
    df = read_tsv(path, required=[sid], what="sample table", dtype={sid: str})
    return df.set_index(sid, drop=False).rename_axis(None)


def read_cell_fractions(path, samples: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cell-type fractions: sample_id + one numeric column per cell type, values in [0, 1]."""
    df = read_tsv(path, required=["sample_id"], what="cell fractions", dtype={"sample_id": str})
    dup = df["sample_id"].duplicated()
    if dup.any():
        raise InputError(f"duplicated sample id '{df.loc[dup, 'sample_id'].iloc[0]}'",
                         path=path, row=int(dup.to_numpy().nonzero()[0][0]) + 2,
                         column="sample_id")
    df = df.set_index("sample_id").rename_axis(None)
    if df.shape[1] == 0:
        raise InputError("cell fractions have no cell-type column", path=path)
    for column in df.columns:
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna() | (values < 0) | (values > 1)
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(f"fraction '{df[column].iloc[i]}' is not a number in [0, 1]",
                             path=path, row=i + 2, column=column)
        df[column] = values
    return df
