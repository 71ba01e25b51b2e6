"""Co-expression modules and hub genes, following WGCNA (Langfelder & Horvath 2008).

Unsigned adjacency |cor|^beta with the soft-threshold power beta chosen by the scale-free
topology fit (`pick_soft_threshold`, as WGCNA's pickSoftThreshold / scaleFreeFitIndex),
topological overlap (TOMsimilarity, unsigned), average-linkage clustering of 1 - TOM cut at a
fixed height into modules of a minimum size (WGCNA's cutreeStatic; the smaller branches form
the unassigned "grey" module 0), module eigengenes (first principal component, sign aligned
with the module's average expression) and kME (correlation of each gene with its eigengene).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

log = logging.getLogger(__name__)


def _cor(expr: np.ndarray) -> np.ndarray:
    z = (expr - expr.mean(axis=0)) / expr.std(axis=0, ddof=1)
    return (z.T @ z) / (expr.shape[0] - 1)


def scale_free_fit(k: np.ndarray, n_breaks: int = 10) -> tuple[float, float]:
    """WGCNA scaleFreeFitIndex: signed R^2 and slope of log10 p(k) ~ log10 k over `n_breaks`
    equal-width bins of the connectivity k (bin means, empty bins at their midpoints)."""
    lo, hi = float(k.min()), float(k.max())
    dx = hi - lo
    if not dx > 0:  # every gene equally connected: no degree distribution to fit
        return float("nan"), float("nan")
    edges = np.linspace(lo, hi, n_breaks + 1)
    # R's cut(k, n) widens the outer edges by 0.1% of the range; intervals are right-closed.
    edges[0], edges[-1] = lo - dx / 1000, hi + dx / 1000
    bins = np.clip(np.searchsorted(edges, k, side="left") - 1, 0, n_breaks - 1)
    counts = np.bincount(bins, minlength=n_breaks)
    sums = np.bincount(bins, weights=k, minlength=n_breaks)
    mids = np.linspace(lo, hi, n_breaks + 1)
    mids = (mids[:-1] + mids[1:]) / 2
    dk = np.where(counts > 0, sums / np.maximum(counts, 1), mids)
    dk = np.where(dk == 0, mids, dk)
    x, y = np.log10(dk), np.log10(counts / len(k) + 1e-9)
    slope, _ = np.polyfit(x, y, 1)
    r2 = np.corrcoef(x, y)[0, 1] ** 2
    return float(-np.sign(slope) * r2), float(slope)


def pick_soft_threshold(expr: pd.DataFrame, powers=range(1, 21),
                        r2_cutoff: float = 0.8) -> tuple[int, pd.DataFrame]:
    """The lowest power whose signed scale-free R^2 reaches `r2_cutoff`, and the fit table.

    expr: samples x genes. When no power reaches the cutoff (WGCNA returns NA), the power
    of `fallback_power` is chosen and a warning logged.
    """
    c = np.abs(_cor(expr.to_numpy(dtype=float)))
    np.fill_diagonal(c, 0)  # k = colSums(adjacency) - 1, without the rounding of the 1
    rows = []
    for beta in powers:
        k = (c ** beta).sum(axis=0)
        r2, slope = scale_free_fit(k)
        rows.append((int(beta), r2, slope, k.mean(), np.median(k), k.max()))
    table = pd.DataFrame(rows, columns=["power", "sft_r2", "slope", "mean_k", "median_k",
                                        "max_k"])
    ok = table[table["sft_r2"] >= r2_cutoff]
    if len(ok):
        return int(ok["power"].iloc[0]), table
    best = fallback_power(len(expr))
    log.warning("no soft-threshold power reaches scale-free R^2 >= %g (highest %.3f); using "
                "power %d, WGCNA's advice for unsigned networks of %d samples", r2_cutoff,
                np.nanmax(table["sft_r2"].to_numpy(), initial=np.nan), best, len(expr))
    return best, table


def fallback_power(n_samples: int) -> int:
    """WGCNA FAQ's unsigned-network power when no power fits a scale-free topology:
    9 below 20 samples, 8 below 30, 7 below 40, else 6."""
    return 9 if n_samples < 20 else 8 if n_samples < 30 else 7 if n_samples < 40 else 6


def tom_similarity(adjacency: np.ndarray) -> np.ndarray:
    """Unsigned topological overlap: (A^2 + A)_ij / (min(k_i, k_j) + 1 - a_ij), TOM_ii = 1."""
    a = adjacency.copy()
    np.fill_diagonal(a, 0)
    k = a.sum(axis=0)
    tom = (a @ a + a) / (np.minimum(k[:, None], k[None, :]) + 1 - a)
    np.fill_diagonal(tom, 1)
    return tom


@dataclass(frozen=True)
class Modules:
    """Module assignment (0 = unassigned) and kME of every gene, with the soft-threshold fit."""

    table: pd.DataFrame      # gene_id, module, kME, hub
    power: int
    soft_threshold: pd.DataFrame
    eigengenes: pd.DataFrame  # samples x ME<k>


def eigengenes(expr: pd.DataFrame, module: np.ndarray) -> pd.DataFrame:
    """First principal component of each module's standardised expression (WGCNA
    moduleEigengenes), oriented to correlate positively with the module's average."""
    x = expr.to_numpy(dtype=float)
    z = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    out = {}
    for m in sorted(set(module.tolist()) - {0}):
        zm = z[:, module == m]
        u, _, _ = np.linalg.svd(zm, full_matrices=False)
        pc = u[:, 0]
        if np.corrcoef(pc, zm.mean(axis=1))[0, 1] < 0:
            pc = -pc
        out[f"ME{m}"] = (pc - pc.mean()) / pc.std(ddof=1)
    return pd.DataFrame(out, index=expr.index)


def coexpression_hubs(expr: pd.DataFrame, power: int | str = "auto", r2_cutoff: float = 0.8,
                      cut_height: float = 0.95, min_module_size: int = 30,
                      hub_fraction: float = 0.1) -> Modules:
    """Modules of the genes of `expr` (samples x genes) and their hubs.

    A hub is among the top `hub_fraction` (at least one gene) of its module by kME;
    unassigned genes (module 0) are kept as hubs too, as the reference study kept WGCNA's
    grey genes.
    """
    genes = expr.columns
    if power == "auto":
        power, sft = pick_soft_threshold(expr, r2_cutoff=r2_cutoff)
    else:
        power, sft = int(power), pick_soft_threshold(expr, r2_cutoff=r2_cutoff)[1]
    module = np.zeros(len(genes), dtype=int)
    if len(genes) >= 2:
        tom = tom_similarity(np.abs(_cor(expr.to_numpy(dtype=float))) ** power)
        diss = np.clip(1 - tom, 0, None)
        np.fill_diagonal(diss, 0)
        tree = linkage(squareform(diss, checks=False), method="average")
        labels = fcluster(tree, t=cut_height, criterion="distance")
        sizes = np.bincount(labels)
        big = [lab for lab in np.unique(labels) if sizes[lab] >= min_module_size]
        # Number modules by decreasing size (ties by first gene), as WGCNA labels them.
        big.sort(key=lambda lab: (-sizes[lab], int(np.flatnonzero(labels == lab)[0])))
        for m, lab in enumerate(big, start=1):
            module[labels == lab] = m
    me = eigengenes(expr, module)
    kme = np.full(len(genes), np.nan)
    hub = module == 0
    x = expr.to_numpy(dtype=float)
    zx = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    for m in range(1, module.max() + 1):
        sel = np.flatnonzero(module == m)
        kme[sel] = zx[:, sel].T @ me[f"ME{m}"].to_numpy() / (len(x) - 1)
        n_hub = max(1, int(np.ceil(hub_fraction * len(sel))))
        hub[sel[np.argsort(-kme[sel], kind="stable")[:n_hub]]] = True
    log.info("co-expression: power %d, %d modules, %d unassigned genes, %d hubs kept", power,
             module.max(), int((module == 0).sum()), int(hub.sum()))
    table = pd.DataFrame({"gene_id": genes, "module": module, "kME": kme, "hub": hub})
    return Modules(table, power, sft, me)
