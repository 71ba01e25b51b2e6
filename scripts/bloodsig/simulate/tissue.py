"""Published-style DEG lists of disease tissues (TDP-43 knockdown neurons, spinal cord).

Each list is the significant part of a simulated genome-wide test: a share of the planted blood
DEGs change in the same direction in the tissue, the tissue has its own DEGs, and all other
genes are null. Like the published tables, only genes passing the cut-off are listed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..stats.multitest import p_adjust_bh
from .cohort import Biology

TDP43_OVERLAP = 0.3  # share of planted blood DEGs also changed (same sign) in the tissue
SPINAL_OVERLAP = 0.4
OWN_DEG_FRACTION = 0.08  # tissue-specific DEGs, as a share of all genes


def _tissue_test(bio: Biology, overlap: float, rng: np.random.Generator) -> pd.DataFrame:
    """Genome-wide simulated test: gene_name, baseMean, log2FoldChange, lfcSE, stat, pvalue,
    padj; only genes with padj < 0.05 and |log2FoldChange| > 0.5 are returned."""
    n = len(bio.genes)
    planted = np.flatnonzero(bio.mechanism != "")
    # the stronger a blood effect, the likelier the tissue shares it
    weight = bio.planted_log2fc[planted] ** 2
    shared = rng.choice(planted, int(round(overlap * len(planted))), replace=False,
                        p=weight / weight.sum())
    others = np.setdiff1d(np.arange(n), planted)
    own = rng.choice(others, int(round(OWN_DEG_FRACTION * n)), replace=False)
    lfc = rng.normal(0, 0.1, n)
    lfc[shared] = np.sign(bio.planted_log2fc[shared]) * rng.uniform(0.6, 2.5, len(shared))
    lfc[own] = rng.choice([-1, 1], len(own)) * rng.uniform(0.6, 3.0, len(own))
    base_mean = np.exp(rng.normal(np.log(300), 1.8, n))
    se = 0.08 + 1.5 / np.sqrt(base_mean)
    se[shared] = np.abs(lfc[shared]) / rng.uniform(4, 12, len(shared))  # clearly significant
    stat = lfc / se
    pvalue = 2 * stats.norm.sf(np.abs(stat))
    padj = p_adjust_bh(pvalue)
    df = pd.DataFrame({"gene_name": bio.genes["gene_name"].to_numpy(), "baseMean": base_mean,
                       "log2FoldChange": lfc, "lfcSE": se, "stat": stat, "pvalue": pvalue,
                       "padj": padj})
    keep = (padj < 0.05) & (np.abs(lfc) > 0.5)
    return df[keep].sort_values(["padj", "gene_name"]).reset_index(drop=True)


def make_tissue_tables(bio: Biology, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """{"tdp43_neurons.tsv": DESeq2-style table, "spinal_cord.tsv": gene_name, logFC, FDR}."""
    neurons = _tissue_test(bio, TDP43_OVERLAP, rng)
    cord = _tissue_test(bio, SPINAL_OVERLAP, rng)
    cord = cord.rename(columns={"log2FoldChange": "logFC", "padj": "FDR"})
    return {"tdp43_neurons.tsv": neurons,
            "spinal_cord.tsv": cord[["gene_name", "logFC", "FDR"]]}
