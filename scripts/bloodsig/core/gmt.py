"""Gene-set collections in GMT format (MSigDB, KEGG, GO, Enrichr exports) and the reconciliation
of their gene identifiers with a cohort's gene symbols.

GMT (Broad GSEA file formats): one set per line, tab-separated, `name<TAB>description<TAB>
gene<TAB>gene...`. A set is a tuple of distinct identifiers in file order.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from .errors import InputError
from .io import read_tsv


def read_gmt(path) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Read a GMT file: ({set name: genes}, {set name: description}).

    Refuses a missing or empty file, a line without a gene, and a set name given twice
    (naming the rows), so that two versions of one set are never silently merged. Blank lines
    are skipped; a gene listed twice in a set counts once. A `.gz` file is read through gzip.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("gene-set file not found", path=path)
    sets: dict[str, tuple[str, ...]] = {}
    descriptions: dict[str, str] = {}
    first_row: dict[str, int] = {}
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        for row, line in enumerate(fh, start=1):
            fields = [f.strip() for f in line.rstrip("\r\n").split("\t")]
            if not any(fields):
                continue
            name = fields[0]
            if not name:
                raise InputError("gene set without a name", path=path, row=row)
            genes = tuple(dict.fromkeys(g for g in fields[2:] if g))
            if not genes:
                raise InputError(f"gene set '{name}' has no genes (GMT: name, description, "
                                 "then tab-separated genes)", path=path, row=row)
            if name in sets:
                raise InputError(f"gene set '{name}' is defined twice (rows {first_row[name]} "
                                 f"and {row})", path=path, row=row)
            sets[name], first_row[name] = genes, row
            descriptions[name] = fields[1] if len(fields) > 1 else ""
    if not sets:
        raise InputError("gene-set file has no gene sets", path=path)
    return sets, descriptions


def read_id_map(path, from_column: str, to_column: str) -> pd.Series:
    """A mapping of the sets' identifiers (e.g. Entrez ids) to gene symbols, from a TSV.

    Rows with a missing value are dropped; an identifier mapped to several symbols keeps all
    of them (a set member then counts for each).
    """
    df = read_tsv(path, required=[from_column, to_column], what="gene-id map", dtype=str,
                  keep_default_na=False, na_values=[""])
    df = df[[from_column, to_column]].dropna().drop_duplicates()
    if df.empty:
        raise InputError(f"gene-id map has no complete {from_column} -> {to_column} pair",
                         path=path)
    return df.set_index(from_column)[to_column]


def map_ids(sets: dict[str, tuple[str, ...]], mapping: pd.Series) -> dict[str, tuple[str, ...]]:
    """Translate every set's identifiers with `mapping` (index: set id, values: symbol);
    identifiers without a symbol are dropped."""
    grouped = mapping.groupby(level=0, sort=False).agg(tuple).to_dict()
    return {name: tuple(dict.fromkeys(s for g in genes for s in grouped.get(g, ())))
            for name, genes in sets.items()}


def check_overlap(sets: dict[str, tuple[str, ...]], universe, path=None,
                  what: str = "the tested genes") -> None:
    """Stop the run when no gene of the collection is in `universe`: its identifiers are
    almost certainly of another kind than the cohort's gene symbols."""
    universe = set(universe)
    if not any(g in universe for genes in sets.values() for g in genes):
        example = next(iter(sets.values()))[:3]
        raise InputError(
            f"no gene of this collection is among {what} (set genes look like "
            f"{', '.join(example)}); the sets must use gene symbols like the DE tables' "
            "gene_name, or give a mapping file (config enrich: id_map)", path=path)


def restrict(sets: dict[str, tuple[str, ...]], universe, path=None,
             what: str = "the tested genes") -> dict[str, tuple[str, ...]]:
    """Each set's members that are in `universe` (sets left empty are dropped); refuses a
    collection with no gene in it (`check_overlap`)."""
    check_overlap(sets, universe, path, what)
    universe = set(universe)
    kept = {name: tuple(g for g in genes if g in universe) for name, genes in sets.items()}
    return {name: genes for name, genes in kept.items() if genes}


def load_collection(spec: dict) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """A collection from its config entry (as the schema fills it): `gmt` (path) and
    optionally `id_map` (TSV) with `id_from` / `id_to` columns translating the sets'
    identifiers to gene symbols."""
    sets, descriptions = read_gmt(spec["gmt"])
    if spec.get("id_map"):
        mapping = read_id_map(spec["id_map"], spec["id_from"], spec["id_to"])
        sets = map_ids(sets, mapping)
        sets = {name: genes for name, genes in sets.items() if genes}
        if not sets:
            raise InputError(f"no identifier of the collection is in the id map's column "
                             f"'{spec['id_from']}'", path=spec["gmt"])
    return sets, descriptions
