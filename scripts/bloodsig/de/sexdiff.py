"""Genes whose disease effect differs between men and women (sex-stratified DE tables).

Given the top tables of the same contrast fitted separately in males and in females, the
difference of the two log fold changes is tested with a z-test:
    z = (logFC_m - logFC_f) / sqrt(SE_m^2 + SE_f^2),   SE = logFC / t
(the standard error implied by limma's moderated t, or DESeq2's Wald statistic), which
treats the two strata as independent samples (Clogg et al. 1995, Am J Sociol 100:1261).
P-values are two-sided and adjusted by Benjamini-Hochberg over the genes with a defined z.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..core.errors import InputError
from ..stats.multitest import p_adjust_bh

_REQUIRED = ("logFC", "t")


def _by_gene(tt: pd.DataFrame, which: str) -> pd.DataFrame:
    missing = [c for c in _REQUIRED if c not in tt.columns]
    if missing:
        raise InputError(f"{which} top table lacks column '{missing[0]}'", column=missing[0])
    return tt.set_index("gene_id") if "gene_id" in tt.columns else tt


def sex_interaction_flags(male_tt: pd.DataFrame, female_tt: pd.DataFrame, fdr: float = 0.05,
                          min_abs_diff: float = 0.0) -> pd.DataFrame:
    """Flag genes whose logFC differs between the male and the female top tables.

    Top tables carry logFC and t, with gene_id as a column or as the index; only genes in
    both are tested. A gene is flagged when its BH-adjusted p-value is < `fdr` and
    |logFC_male - logFC_female| >= `min_abs_diff`. A gene with t = 0 has no implied SE and
    gets NaN statistics and flagged False.

    Returns a table indexed by gene_id (order of `male_tt`): logFC_male, logFC_female,
    se_male, se_female, diff (male - female), z, P.Value, adj.P.Val, flagged; plus gene_name
    when the male table has it.
    """
    male, female = _by_gene(male_tt, "male"), _by_gene(female_tt, "female")
    genes = male.index[male.index.isin(female.index)]
    if len(genes) == 0:
        raise InputError("the male and female top tables share no gene ids")
    lm = male.loc[genes, "logFC"].to_numpy(dtype=float)
    lf = female.loc[genes, "logFC"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_m = np.abs(lm / male.loc[genes, "t"].to_numpy(dtype=float))
        se_f = np.abs(lf / female.loc[genes, "t"].to_numpy(dtype=float))
        z = (lm - lf) / np.sqrt(se_m**2 + se_f**2)
    z[~np.isfinite(z)] = np.nan
    p = 2.0 * stats.norm.sf(np.abs(z))
    ok = ~np.isnan(p)
    padj = np.full_like(p, np.nan)
    if ok.any():
        padj[ok] = p_adjust_bh(p[ok])
    out = pd.DataFrame({
        "logFC_male": lm, "logFC_female": lf, "se_male": se_m, "se_female": se_f,
        "diff": lm - lf, "z": z, "P.Value": p, "adj.P.Val": padj,
    }, index=pd.Index(genes, name="gene_id"))
    out["flagged"] = (out["adj.P.Val"] < fdr) & (out["diff"].abs() >= min_abs_diff)
    if "gene_name" in male.columns:
        out.insert(0, "gene_name", male.loc[genes, "gene_name"].to_numpy())
    return out
