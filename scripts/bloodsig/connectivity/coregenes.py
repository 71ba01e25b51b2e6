"""Core genes: blood DEGs that are also DEGs of the disease tissues, and CMap queries from them.

The reference ALS study intersects its blood DEGs (FDR < 0.01, |log2FC| > 0.1) with the DEGs
of iPSC neurons with TDP-43 knockdown and of post-mortem spinal cord (same cut-offs) by gene
symbol; the genes in all three lists are its "core genes", described by their mean log2FC.
Queries for the connectivity map are up and down lists of gene symbols mapped to the
database's gene ids, 10 to 150 genes each as clue.io requires.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.io import read_tsv

log = logging.getLogger(__name__)


def deg_table(df: pd.DataFrame, gene: str, logfc: str, fdr: str, path=None) -> pd.DataFrame:
    """gene_name, logFC, fdr from a DE table with the given column names (validated)."""
    for col in (gene, logfc, fdr):
        if col not in df.columns:
            raise InputError(f"DE table lacks column '{col}' (set its name in config "
                             "connectivity)", path=path, column=col)
    out = pd.DataFrame({"gene_name": df[gene].astype("string").str.strip(),
                        "logFC": pd.to_numeric(df[logfc], errors="coerce"),
                        "fdr": pd.to_numeric(df[fdr], errors="coerce")})
    for col, src in (("logFC", logfc), ("fdr", fdr)):
        bad = out[col].isna() & df[src].notna()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"non-numeric value '{df[src].iloc[row]}'", path=path,
                             row=row + 2, column=src)
    return out


def significant(table: pd.DataFrame, fdr: float, min_abs_logfc: float) -> pd.DataFrame:
    """DEGs (fdr < cut-off, |logFC| > cut-off) with a symbol, one row per symbol (the most
    significant row of a duplicated symbol), indexed by gene_name."""
    sig = table[(table["fdr"] < fdr) & (table["logFC"].abs() > min_abs_logfc)
                & table["gene_name"].notna() & table["gene_name"].ne("")]
    sig = sig.sort_values(["fdr", "gene_name"], kind="stable")
    return sig.drop_duplicates("gene_name").set_index("gene_name")


def core_genes(blood: pd.DataFrame, tissues: dict[str, pd.DataFrame], fdr: float,
               min_abs_logfc: float) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, set]]:
    """Overlaps of the blood DEGs with each tissue's DEGs and with all of them.

    blood, tissues: tables from deg_table. Returns (core, counts, sets): core has gene_name,
    logFC_blood, logFC_<tissue>..., mean_logFC (of all lists), concordant (same sign
    everywhere), sorted by mean_logFC descending; counts has one row per list and overlap
    (name, n_genes); sets maps each list's name to its gene symbols.
    """
    lists = {"blood": significant(blood, fdr, min_abs_logfc)}
    lists.update({name: significant(t, fdr, min_abs_logfc) for name, t in tissues.items()})
    sets = {name: set(df.index) for name, df in lists.items()}
    rows = [(name, len(s)) for name, s in sets.items()]
    rows += [(f"blood & {name}", len(sets["blood"] & sets[name])) for name in tissues]
    core_set = set.intersection(*sets.values())
    rows.append(("core", len(core_set)))
    counts = pd.DataFrame(rows, columns=["list", "n_genes"])
    genes = sorted(core_set)
    core = pd.DataFrame({"gene_name": genes})
    for name, df in lists.items():
        core[f"logFC_{name}"] = df.loc[genes, "logFC"].to_numpy()
    lfc = core.filter(like="logFC_").to_numpy()
    core["mean_logFC"] = lfc.mean(axis=1) if len(genes) else []
    core["concordant"] = (np.abs(np.sign(lfc).sum(axis=1)) == lfc.shape[1]) if len(genes) else []
    core = core.sort_values(["mean_logFC", "gene_name"], ascending=[False, True],
                            kind="stable").reset_index(drop=True)
    return core, counts, sets


def symbol_to_id(store_genes: pd.DataFrame) -> pd.Series:
    """gene_symbol -> gene_id of a store (first id of a symbol listed twice)."""
    genes = store_genes.drop_duplicates("gene_symbol")
    return pd.Series(genes["gene_id"].to_numpy(), index=genes["gene_symbol"].to_numpy())


def make_query(name: str, genes: pd.DataFrame, mapping: pd.Series, min_genes: int,
               max_genes: int) -> pd.DataFrame:
    """Up and down lists of one query: genes (gene_name, logFC) split by sign, mapped to the
    database's ids; of the mapped genes, the max_genes of largest |logFC| are kept per list
    (so a tissue's top 150 are its top 150 in the database's gene space). Fewer than
    min_genes mapped genes in a list is an error naming the query."""
    parts = []
    for direction, sign in (("up", 1), ("down", -1)):
        sel = genes[np.sign(genes["logFC"]) == sign].copy()
        sel["gene_id"] = sel["gene_name"].map(mapping)
        n_in = len(sel)
        sel = sel.dropna(subset=["gene_id"])
        sel = (sel.assign(_abs=-sel["logFC"].abs())
               .sort_values(["_abs", "gene_name"], kind="stable").drop(columns="_abs"))
        if len(sel) < min_genes:
            raise InputError(f"query '{name}': {len(sel)} of {n_in} {direction} genes map to the "
                             f"signature database, fewer than {min_genes} (connectivity "
                             "min_query_genes)")
        if len(sel) > max_genes:
            log.info("query %s: keeping the %d %s genes of largest |logFC| of %d", name,
                     max_genes, direction, len(sel))
        sel = sel.head(max_genes)
        parts.append(pd.DataFrame({"query": name, "direction": direction,
                                   "gene_name": sel["gene_name"].to_numpy(),
                                   "gene_id": sel["gene_id"].to_numpy(),
                                   "logFC": sel["logFC"].to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def read_deg_table(path, columns: dict) -> pd.DataFrame:
    """A DE table whose gene, logFC and FDR columns are named in `columns` (gene_column,
    logfc_column, fdr_column)."""
    names = [columns["gene_column"], columns["logfc_column"], columns["fdr_column"]]
    df = read_tsv(path, required=names, what="DE table")
    return deg_table(df, *names, path=path)


def queries_for(cores: dict[str, pd.DataFrame], tissues: dict[str, pd.DataFrame],
                store_genes: pd.DataFrame, fdr: float, min_abs_logfc: float, min_genes: int,
                max_genes: int) -> pd.DataFrame:
    """All queries of a cohort: core_<analysis> from each analysis' core genes (by mean
    log2FC) and <tissue> from each tissue's DEGs (its top genes by log2FC)."""
    mapping = symbol_to_id(store_genes)
    parts = [make_query(f"core_{a}", core[["gene_name", "mean_logFC"]].rename(
        columns={"mean_logFC": "logFC"}), mapping, min_genes, max_genes)
        for a, core in cores.items()]
    parts += [make_query(name, significant(t, fdr, min_abs_logfc).reset_index()[
        ["gene_name", "logFC"]], mapping, min_genes, max_genes) for name, t in tissues.items()]
    return pd.concat(parts, ignore_index=True)


_UP_SUFFIXES = ("_UP", "_up", "_Up")
_DOWN_SUFFIXES = ("_DN", "_dn", "_DOWN", "_down", "_Down", "_Dn")


def _base_name(name: str, suffixes) -> str:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def queries_from_gmt(up: dict[str, tuple[str, ...]], down: dict[str, tuple[str, ...]],
                     store_genes: pd.DataFrame, min_genes: int = 10, max_genes: int = 150,
                     up_path=None, down_path=None) -> pd.DataFrame:
    """Queries of a clue.io-style batch: a GMT of up lists and a GMT of down lists whose set
    names pair up (equal, or equal once a _UP / _DN suffix is removed). Genes are the
    database's gene ids or gene symbols (either; ids win); genes outside its gene space are
    dropped, as clue.io does. Each list must keep min_genes..max_genes genes (clue.io:
    10-150): a list outside that, a set without its partner or a gene in both lists of a
    query stops the batch with a message naming the file and the query.
    Returns query, direction, gene_name, gene_id (the queries table of query_sets)."""
    ups = {_base_name(n, _UP_SUFFIXES): n for n in up}
    downs = {_base_name(n, _DOWN_SUFFIXES): n for n in down}
    for names, other, path, what in ((ups, downs, up_path, "down"),
                                     (downs, ups, down_path, "up")):
        lone = [names[q] for q in names if q not in other]
        if lone:
            raise InputError(f"query '{lone[0]}' has no {what} list of the same name in the "
                             f"other GMT ({len(lone)} unpaired)", path=path)
    ids = store_genes["gene_id"].astype(str)
    by_id = pd.Series(ids.to_numpy(), index=ids.to_numpy())
    by_symbol = symbol_to_id(store_genes)
    symbol_of = pd.Series(store_genes["gene_symbol"].astype(str).to_numpy(), index=ids.to_numpy())
    rows = []
    for query in ups:
        lists = {"up": up[ups[query]], "down": down[downs[query]]}
        both = set(lists["up"]) & set(lists["down"])
        if both:
            raise InputError(f"query '{query}': gene '{sorted(both)[0]}' is in both the up and "
                             f"the down list", path=down_path)
        for direction, genes in lists.items():
            mapped = [by_id.get(g, by_symbol.get(g)) for g in genes]
            kept = list(dict.fromkeys(m for m in mapped if m is not None))
            if not min_genes <= len(kept) <= max_genes:
                raise InputError(
                    f"query '{query}': the {direction} list has {len(kept)} genes in the "
                    f"signature database ({len(genes)} listed, {len(genes) - len(kept)} outside "
                    f"its gene space); each list needs {min_genes} to {max_genes} "
                    "(connectivity min_query_genes / max_query_genes; clue.io: 10-150)",
                    path=up_path if direction == "up" else down_path)
            rows += [(query, direction, symbol_of[g], g) for g in kept]
    return pd.DataFrame(rows, columns=["query", "direction", "gene_name", "gene_id"])
