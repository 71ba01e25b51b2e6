"""A cohort as the stages see it: counts, gene annotation and sample sheet, all consistent."""

from __future__ import annotations

import pandas as pd

from .errors import InputError
from .io import read_counts, read_tsv
from .sheets import load_samples, match_samples

ANNOTATION_COLUMNS = ["gene_id", "gene_name", "gene_type", "chromosome", "length"]


def load_annotation(path) -> pd.DataFrame:
    """Gene annotation indexed by gene_id (gene_name, gene_type, chromosome, length)."""
    genes = read_tsv(path, required=ANNOTATION_COLUMNS, what="gene annotation",
                     dtype={"gene_id": str, "gene_name": str, "chromosome": str})
    dup = genes["gene_id"].duplicated()
    if dup.any():
        raise InputError(f"duplicated gene id '{genes.loc[dup, 'gene_id'].iloc[0]}'", path=path,
                         row=int(dup.to_numpy().nonzero()[0][0]) + 2, column="gene_id")
    length = pd.to_numeric(genes["length"], errors="coerce")
    bad = length.isna() | (length <= 0)
    if bad.any():
        raise InputError(f"gene length '{genes.loc[bad, 'length'].iloc[0]}' is not a positive "
                         "number", path=path, row=int(bad.to_numpy().nonzero()[0][0]) + 2,
                         column="length")
    genes["gene_name"] = genes["gene_name"].fillna(genes["gene_id"])
    return genes[ANNOTATION_COLUMNS].set_index("gene_id")


def load_count_cohort(counts_path, annotation_path, samples_path, schema: dict,
                      sheet: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read and cross-check a count-matrix cohort.

    Returns counts (genes x samples, int64), the annotation in the counts' gene order and the
    sample sheet in the counts' column order. Every gene of the matrix must be annotated.
    """
    counts = read_counts(counts_path)
    genes = load_annotation(annotation_path)
    missing = counts.index.difference(genes.index)
    if len(missing):
        raise InputError(f"gene '{missing[0]}' of the count matrix {counts_path} is not in the "
                         f"annotation ({len(missing)} such genes)", path=annotation_path,
                         column="gene_id")
    samples = load_samples(samples_path, schema, sheet)
    samples = match_samples(counts, samples, counts_path, samples_path)
    return counts, genes.loc[counts.index], samples


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
