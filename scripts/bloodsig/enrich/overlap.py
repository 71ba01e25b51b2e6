"""Overlap of a cohort's DEGs with published DEG lists (e.g. disease-tissue studies).

For each direction, a 2x2 table within the cohort's tested genes (our DEG in that direction
yes/no x published DEG in that direction yes/no) is tested with the one-sided Fisher exact
test (more overlap than chance), with the conditional maximum-likelihood odds ratio and its
95% confidence interval, as R's fisher.test. The logFCs of genes that are DEGs in both lists
are correlated (Pearson and Spearman).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats.contingency import odds_ratio

from ..core.configcheck import FromConfig
from ..core.errors import InputError
from ..core.io import read_tsv

OVERLAP_COLUMNS = ["direction", "n_universe", "n_ours", "n_published", "n_shared",
                   "expected_shared", "odds_ratio", "ci_low", "ci_high", "pvalue",
                   "shared_genes"]


@dataclass(frozen=True)
class PublishedList(FromConfig):
    """A published DEG list: an entry of config `enrich.overlap.published` as the schema fills
    it (`from_config`)."""
    path: str
    gene_column: str
    logfc_column: str
    fdr_column: str | None  # None: no FDR filter
    fdr: float | None
    min_abs_logfc: float


def read_published(spec: PublishedList) -> pd.DataFrame:
    """A published DEG table as (gene_name, logFC), one row per gene.

    Rows pass `fdr_column` < `fdr` (when both are given) and |logFC| > `min_abs_logfc`; a gene
    listed twice keeps its first row. Missing columns, non-numeric logFCs and an empty result
    are refused with the file and column named.
    """
    path, gene_column, logfc_column = spec.path, spec.gene_column, spec.logfc_column
    fdr_column, fdr = spec.fdr_column, spec.fdr
    required = [gene_column, logfc_column] + ([fdr_column] if fdr_column else [])
    df = read_tsv(path, required=required, what="published DEG table",
                  dtype={gene_column: str})
    for col in required[1:]:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"non-numeric value '{df[col].iloc[row]}'", path=path,
                             row=row + 2, column=col)
        df[col] = values
    keep = df[gene_column].notna() & df[logfc_column].notna()
    keep &= df[logfc_column].abs() > spec.min_abs_logfc
    if fdr_column and fdr is not None:
        keep &= df[fdr_column] < fdr
    out = df.loc[keep, [gene_column, logfc_column]]
    out.columns = ["gene_name", "logFC"]
    out = out.drop_duplicates("gene_name").reset_index(drop=True)
    if out.empty:
        raise InputError("no gene passes the published list's cut-offs", path=path)
    return out


def fisher_overlap(ours, published, universe) -> dict:
    """One-sided Fisher test of the overlap of two gene lists within `universe`."""
    universe = pd.Index(pd.unique(pd.Series(list(universe), dtype=object)))
    a = universe.isin(list(ours))
    b = universe.isin(list(published))
    both = int((a & b).sum())
    table = np.array([[both, int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]])
    res = odds_ratio(table, kind="conditional")
    ci = res.confidence_interval(0.95)
    p = stats.fisher_exact(table, alternative="greater").pvalue
    return {"n_universe": len(universe), "n_ours": int(a.sum()), "n_published": int(b.sum()),
            "n_shared": both, "expected_shared": a.sum() * b.sum() / max(len(universe), 1),
            "odds_ratio": float(res.statistic), "ci_low": float(ci.low),
            "ci_high": float(ci.high), "pvalue": float(p),
            "shared_genes": "/".join(universe[a & b])}


def overlap_tests(toptable: pd.DataFrame, up: pd.DataFrame, down: pd.DataFrame,
                  published: pd.DataFrame) -> pd.DataFrame:
    """OVERLAP_COLUMNS for direction up and down; the universe is the cohort's tested genes
    (published genes outside it cannot be DEGs here and are left out)."""
    universe = toptable["gene_name"].dropna().astype(str)
    rows = []
    for direction, ours, sign in (("up", up, 1), ("down", down, -1)):
        pub = published.loc[np.sign(published["logFC"]) == sign, "gene_name"]
        rows.append({"direction": direction,
                     **fisher_overlap(ours["gene_name"].dropna(), pub, universe)})
    return pd.DataFrame(rows, columns=OVERLAP_COLUMNS)


def shared_degs(up: pd.DataFrame, down: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Genes that are DEGs in both lists: gene_name, logFC (ours), logFC_published,
    concordant (same sign)."""
    ours = pd.concat([up, down])[["gene_name", "logFC"]].dropna().drop_duplicates("gene_name")
    shared = ours.merge(published.rename(columns={"logFC": "logFC_published"}), on="gene_name")
    shared["concordant"] = np.sign(shared["logFC"]) == np.sign(shared["logFC_published"])
    return shared.sort_values("gene_name").reset_index(drop=True)


def logfc_correlation(shared: pd.DataFrame) -> dict:
    """Pearson and Spearman correlation of the two logFCs of the shared DEGs."""
    n = len(shared)
    out = {"n_shared_degs": n, "concordant_fraction": float(shared["concordant"].mean())
           if n else np.nan}
    if n < 3:
        return {**out, "pearson_r": np.nan, "pearson_p": np.nan, "spearman_rho": np.nan,
                "spearman_p": np.nan}
    x, y = shared["logFC"].to_numpy(), shared["logFC_published"].to_numpy()
    pr, sr = stats.pearsonr(x, y), stats.spearmanr(x, y)
    return {**out, "pearson_r": float(pr.statistic), "pearson_p": float(pr.pvalue),
            "spearman_rho": float(sr.statistic), "spearman_p": float(sr.pvalue)}
