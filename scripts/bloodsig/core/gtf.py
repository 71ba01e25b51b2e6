"""Gene annotation from a GTF file (the one the reads were counted with), parsed locally.

`gene_annotation` gives bloodsig's annotation table (gene_id, gene_name, gene_type,
chromosome, length) plus each gene's span and strand. Length is the number of bases covered
by the union of the gene's exons, which is featureCounts' `Length` column.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd

from .errors import InputError

GTF_COLUMNS = ["seqname", "source", "feature", "start", "end", "score", "strand", "frame",
               "attributes"]
GENE_COLUMNS = ["gene_id", "gene_name", "gene_type", "chromosome", "start", "end", "strand",
                "length"]


def _attribute(attributes: pd.Series, key: str) -> pd.Series:
    """Values of one GTF attribute (`key "value";`), NaN where the line lacks it."""
    return attributes.str.extract(rf'(?:^|;)\s*{key}\s+"([^"]*)"', expand=False)


def read_features(path, feature: str = "exon") -> pd.DataFrame:
    """The GTF's lines of one feature type, with `line` (the 1-based line number in the file)."""
    try:
        df = pd.read_csv(path, sep="\t", header=None, names=GTF_COLUMNS, dtype=str,
                         quoting=csv.QUOTE_NONE, skip_blank_lines=False)
    except FileNotFoundError:
        raise InputError("GTF not found", path=path) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as e:
        raise InputError(f"GTF is not readable as tab-separated text ({e})", path=path) from None
    df["line"] = np.arange(1, len(df) + 1)
    df = df[df["seqname"].notna() & ~df["seqname"].str.startswith("#", na=False)]
    incomplete = df["attributes"].isna()
    if incomplete.any():
        raise InputError("GTF line has fewer than 9 tab-separated fields", path=path,
                         row=int(df.loc[incomplete, "line"].iloc[0]))
    df = df[df["feature"] == feature]
    if df.empty:
        raise InputError(f"GTF has no '{feature}' lines", path=path, column="feature")
    coords = df[["start", "end"]].apply(pd.to_numeric, errors="coerce")
    bad = coords.isna().any(axis=1) | (coords["start"] < 1) | (coords["end"] < coords["start"])
    if bad.any():
        raise InputError("start/end are not positions with start <= end", path=path,
                         row=int(df.loc[bad, "line"].iloc[0]), column="start")
    df[["start", "end"]] = coords.astype(np.int64)
    bad = ~df["strand"].isin(["+", "-"])
    if bad.any():
        raise InputError(f"strand '{df.loc[bad, 'strand'].iloc[0]}' is not + or -", path=path,
                         row=int(df.loc[bad, "line"].iloc[0]), column="strand")
    return df.reset_index(drop=True)


def union_length(gene: pd.Series, start: pd.Series, end: pd.Series) -> pd.Series:
    """Bases covered by the union of each gene's intervals (1-based, closed), vectorised."""
    iv = pd.DataFrame({"gene": gene.to_numpy(), "start": start.to_numpy(),
                       "end": end.to_numpy()}).sort_values(["gene", "start", "end"],
                                                           kind="stable")
    reach = iv.groupby("gene", sort=False)["end"].cummax()
    previous = reach.groupby(iv["gene"], sort=False).shift()
    block = (previous.isna() | (iv["start"] > previous)).cumsum()
    blocks = iv.groupby(block).agg(gene=("gene", "first"), start=("start", "min"),
                                   end=("end", "max"))
    return (blocks["end"] - blocks["start"] + 1).groupby(blocks["gene"], sort=False).sum()


def gene_annotation(path, attribute: str = "gene_id", feature: str = "exon") -> pd.DataFrame:
    """One row per gene (in the GTF's order): gene_id (the `attribute` featureCounts groups
    by), gene_name (or NCBI's gene; else the id; attrs["named"] says whether any line had a
    name), gene_type (gene_type or gene_biotype, else 'unknown'),
    chromosome, start, end, strand (of its first line) and length (union of its exons)."""
    ex = read_features(path, feature)
    ex["gene_id"] = _attribute(ex["attributes"], attribute)
    missing = ex["gene_id"].isna()
    if missing.any():
        raise InputError(f"'{feature}' line has no '{attribute}' attribute (the attribute that "
                         f"names genes; config reads: gtf_attribute)", path=path,
                         row=int(ex.loc[missing, "line"].iloc[0]), column="attributes")
    # Ensembl and GENCODE name genes with gene_name, NCBI with gene
    names = _attribute(ex["attributes"], "gene_name")
    ex["gene_name"] = names.where(names.notna(), _attribute(ex["attributes"], "gene"))
    named = bool(ex["gene_name"].notna().any())
    ex["gene_type"] = _attribute(ex["attributes"], "gene_type").fillna(
        _attribute(ex["attributes"], "gene_biotype"))
    by_gene = ex.groupby("gene_id", sort=False)
    genes = by_gene.agg(gene_name=("gene_name", "first"), gene_type=("gene_type", "first"),
                        chromosome=("seqname", "first"), start=("start", "min"),
                        end=("end", "max"), strand=("strand", "first"))
    genes["length"] = union_length(ex["gene_id"], ex["start"], ex["end"]).reindex(genes.index)
    genes["gene_name"] = genes["gene_name"].fillna(pd.Series(genes.index, index=genes.index))
    genes["gene_type"] = genes["gene_type"].fillna("unknown")
    genes = genes.rename_axis("gene_id").reset_index()[GENE_COLUMNS]
    genes.attrs["named"] = named
    return genes
