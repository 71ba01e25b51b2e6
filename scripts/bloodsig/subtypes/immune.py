"""Immune subtypes of patients: signature scores, correlation clustering, subgroup DE.

The method follows the PBMC RNA-seq study of sporadic ALS that found an "inflammatory"
(Th1/Th17) and a "non-inflammatory" (B-cell) subgroup:

1. `size_factors` / `log10_normalised`: DESeq2's median-of-ratios normalisation (Anders &
   Huber 2010, Genome Biol 11:R106), then log10(normalised count + 1);
2. `signature_scores`: per sample, the mean log10 normalised count of each signature's genes
   (e.g. the top-50 genes induced by IL-4, IL-10, IFN-gamma ...); `zscore` across samples;
3. `cluster_samples`: agglomerative hierarchical clustering of the z-score profiles with
   correlation distance (1 - Pearson r), k fixed or chosen by the mean silhouette width
   (Rousseeuw 1987); `describe_clusters` labels each cluster by its high signatures;
4. `transcriptome_neighbours`: whole-transcriptome sample correlation, after regressing out
   technical factors (limma removeBatchEffect), and how often a repeat sample's nearest
   neighbour is a sample of its own patient;
5. `subgroup_de`: DESeq2 Wald test (pydeseq2, `bloodsig.stats.deseq2`) of cluster C1 against the
   others, with top genes by |log2FC| and FDR in the `de` stage's DEG-list format.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.spatial.distance import pdist, squareform

from ..core.configcheck import FromConfig
from ..core.errors import InputError
from ..core.io import read_tsv
from ..de.analysis import deg_lists, gene_table
from ..stats import limma
from ..stats.deseq2 import deseq2_wald
from ..stats.design import model_matrix

log = logging.getLogger(__name__)

LINKAGES = ("average", "complete", "single")
SUBTYPE = "subtype"  # the design column of the subgroup DE: C1 or rest
REST = "rest"


# The stage's settings, each made by `from_config` from its config block as the schema fills
# it (the defaults live there only).
@dataclass(frozen=True)
class ClusterSettings(FromConfig):
    """Scores and clustering (config `subtypes`)."""
    subset: dict[str, list]  # sample-sheet column -> the values kept ({}: every sample)
    min_genes: int  # a signature needs this many measured genes (`signature_scores`)
    k: int | str  # clusters, or "auto" (silhouette over 2..max_k; `cluster_samples`)
    max_k: int
    linkage: str  # one of LINKAGES
    label_min_z: float  # a cluster's label lists signatures above it (`describe_clusters`)
    markers: list[str]  # genes drawn by cluster (`find_genes`)


@dataclass(frozen=True)
class TranscriptomeSettings(FromConfig):
    """Whole-transcriptome neighbours (config `subtypes.transcriptome`)."""
    subset: dict[str, list]  # as ClusterSettings.subset
    top_genes: int  # the most variable genes correlated (0: all)
    remove: list[str]  # sheet columns regressed out first


@dataclass(frozen=True)
class SubgroupDESettings(FromConfig):
    """DESeq2 of cluster C1 against the rest (config `subtypes.de`; `subgroup_de`)."""
    formula: str  # must contain the term `subtype`
    fdr: float  # a DEG has padj < fdr ...
    min_abs_log2fc: float  # ... and |log2FC| > min_abs_log2fc


def size_factors(counts: pd.DataFrame) -> pd.Series:
    """DESeq2's median-of-ratios size factors (estimateSizeFactors, type "ratio").

    Each sample's factor is the median over genes of count / geometric mean of the gene
    across samples, using only the genes with a positive count in every sample.
    """
    x = counts.to_numpy(dtype=np.float64)
    usable = (x > 0).all(axis=1)
    if not usable.any():
        raise InputError("no gene has a positive count in every sample: median-of-ratios "
                         "size factors are undefined")
    logx = np.log(x[usable])
    sf = np.exp(np.median(logx - logx.mean(axis=1, keepdims=True), axis=0))
    return pd.Series(sf, index=counts.columns, name="size_factor")


def log10_normalised(counts: pd.DataFrame) -> pd.DataFrame:
    """log10(count / median-of-ratios size factor + 1), genes x samples."""
    sf = size_factors(counts).to_numpy()
    return np.log10(counts / sf + 1.0)


def signature_scores(expr: pd.DataFrame, gene_names: pd.Series,
                     signatures: dict[str, tuple[str, ...]], min_genes: int = 5) -> pd.DataFrame:
    """Samples x signatures: the mean of `expr` (genes x samples) over each signature's genes.

    Genes are matched by gene_name (or gene_id); a signature with fewer than `min_genes`
    matched genes is left out with a warning. InputError if fewer than two remain.
    """
    names = gene_names.reindex(expr.index).fillna(pd.Series(expr.index, index=expr.index))
    member = np.zeros((len(expr), len(signatures)))
    kept = []
    for j, (name, genes) in enumerate(signatures.items()):
        wanted = set(genes)
        hit = names.isin(wanted).to_numpy() | expr.index.isin(wanted)
        log.info("signature %s: %d of %d genes measured", name, hit.sum(), len(genes))
        if hit.sum() < min_genes:
            log.warning("signature %s left out: %d genes measured (< %d)", name, hit.sum(),
                        min_genes)
            continue
        member[hit, j] = 1.0 / hit.sum()
        kept.append(j)
    if len(kept) < 2:
        raise InputError(f"fewer than two signatures have at least {min_genes} measured genes",
                         column="subtypes.signatures")
    scores = expr.to_numpy().T @ member[:, kept]
    return pd.DataFrame(scores, index=expr.columns,
                        columns=[list(signatures)[j] for j in kept]).rename_axis("sample_id")


def zscore(scores: pd.DataFrame) -> pd.DataFrame:
    """Each column centred and scaled to unit SD (n - 1) across samples; constant columns
    raise InputError."""
    sd = scores.std(ddof=1)
    flat = sd.index[~(sd > 0)]
    if len(flat):
        raise InputError("signature score is the same in every sample", column=flat[0])
    return (scores - scores.mean()) / sd


def select_samples(samples: pd.DataFrame, subset: dict | None) -> pd.DataFrame:
    """The samples whose columns take the listed values (subset {column: [values]})."""
    out = samples
    for column, values in (subset or {}).items():
        if column not in out.columns:
            raise InputError(f"subset column '{column}' is not in the sample sheet",
                             column=column)
        out = out[out[column].astype(str).isin([str(v) for v in values])]
    if len(out) < 3:
        raise InputError(f"the subset {subset} keeps {len(out)} samples (at least 3 needed)",
                         column=next(iter(subset or {"sample_id": 0})))
    return out


def patients_of(samples: pd.DataFrame, column: str) -> pd.Series:
    """Each sample's patient (the sample itself when the sheet has no patient column)."""
    if column in samples.columns:
        return samples[column].fillna(pd.Series(samples.index, index=samples.index)).astype(str)
    return pd.Series(samples.index.astype(str), index=samples.index)


def find_genes(names: list[str], genes: pd.DataFrame, measured: pd.Index) -> pd.Series:
    """gene_id -> gene_name of the named genes (gene_name or gene_id) among `measured`, in the
    order of `names`; names not measured are logged and skipped."""
    table = genes.loc[genes.index.intersection(measured), "gene_name"]
    found = {}
    for name in names:
        hit = table.index[(table == name).to_numpy() | (table.index == name)]
        if len(hit):
            found[hit[0]] = name
        else:
            log.warning("marker gene %s is not among the measured genes", name)
    return pd.Series(found, dtype=object)


@dataclass(frozen=True)
class Clustering:
    linkage: np.ndarray        # scipy linkage matrix over the samples of `labels`
    labels: pd.Series          # C1..Ck per sample (C1 the largest cluster)
    silhouette: pd.DataFrame   # k, silhouette, chosen
    k: int


def _number_clusters(raw: np.ndarray, leaves: np.ndarray) -> np.ndarray:
    """Cluster ids C1..Ck: by decreasing size, ties by first position in the dendrogram."""
    ids = np.unique(raw)
    first = {c: int(np.flatnonzero(raw[leaves] == c)[0]) for c in ids}
    order = sorted(ids, key=lambda c: (-(raw == c).sum(), first[c]))
    rename = {c: f"C{i + 1}" for i, c in enumerate(order)}
    return np.array([rename[c] for c in raw], dtype=object)


def cluster_samples(z: pd.DataFrame, k: int | str = 2, max_k: int = 6,
                    method: str = "average") -> Clustering:
    """Hierarchical clustering of the rows of `z` with correlation distance.

    k: a number of clusters, or "auto" for the k in 2..max_k with the largest mean
    silhouette width on the same distances (ties: the smaller k). The silhouette table has a
    row per k considered.
    """
    from sklearn.metrics import silhouette_score

    if method not in LINKAGES:
        raise InputError(f"linkage '{method}' is not one of {', '.join(LINKAGES)}",
                         column="subtypes.linkage")
    x = z.to_numpy(dtype=np.float64)
    flat = np.flatnonzero(~(x.std(axis=1) > 0))
    if len(flat):
        raise InputError("the sample's signature z-scores are all equal: correlation distance "
                         "is undefined", column=str(z.index[flat[0]]))
    dist = pdist(x, "correlation")
    tree = hierarchy.linkage(dist, method)
    n = len(z)
    ks = list(range(2, min(max_k, n - 1) + 1)) if k == "auto" else [int(k)]
    if ks[0] < 2 or ks[-1] >= n:
        raise InputError(f"k must be between 2 and the number of samples - 1 ({n - 1})",
                         column="subtypes.k")
    square = squareform(dist)
    rows = []
    for kk in ks:
        cut = hierarchy.fcluster(tree, kk, "maxclust")
        sil = (silhouette_score(square, cut, metric="precomputed")
               if 1 < len(np.unique(cut)) < n else np.nan)
        rows.append((kk, sil))
    sil = pd.DataFrame(rows, columns=["k", "silhouette"])
    best = int(sil["k"].iloc[int(np.nanargmax(sil["silhouette"]))]) if k == "auto" else int(k)
    sil["chosen"] = sil["k"] == best
    raw = hierarchy.fcluster(tree, best, "maxclust")
    labels = pd.Series(_number_clusters(raw, hierarchy.leaves_list(tree)), index=z.index,
                       name="cluster")
    log.info("k = %d (%s); cluster sizes %s", best, "silhouette" if k == "auto" else "config",
             labels.value_counts().sort_index().to_dict())
    return Clustering(tree, labels, sil, best)


def describe_clusters(z: pd.DataFrame, labels: pd.Series, min_z: float = 0.5) -> pd.DataFrame:
    """Per cluster: size, label and mean z-score of every signature.

    The label lists the signatures whose mean z in the cluster exceeds `min_z`, highest
    first, joined by "+" ("none" when no signature is high).
    """
    means = z.groupby(labels).mean().sort_index(key=lambda s: s.str[1:].astype(int))
    label = [("+".join(row[row > min_z].sort_values(ascending=False, kind="stable").index)
              or "none") for _, row in means.iterrows()]
    out = means.copy()
    out.insert(0, "label", label)
    out.insert(0, "n_samples", labels.value_counts().reindex(means.index).to_numpy())
    return out.rename_axis("cluster").reset_index()


def cluster_table(res: Clustering, described: pd.DataFrame, patients: pd.Series
                  ) -> pd.DataFrame:
    """sample_id, patient_id, cluster, label and position in the dendrogram, in sample order."""
    order = pd.Series(np.argsort(hierarchy.leaves_list(res.linkage)), index=res.labels.index)
    label = described.set_index("cluster")["label"]
    return pd.DataFrame({"sample_id": res.labels.index,
                         "patient_id": patients.reindex(res.labels.index).to_numpy(),
                         "cluster": res.labels.to_numpy(),
                         "label": label.reindex(res.labels).to_numpy(),
                         "dendrogram_position": order.to_numpy() + 1})


def repeat_concordance(labels: pd.Series, patients: pd.Series) -> pd.DataFrame:
    """Patients with several samples among `labels`: their clusters and whether they agree."""
    pid = patients.reindex(labels.index)
    multi = pid[pid.duplicated(keep=False)]
    rows = [(p, len(ids), ",".join(sorted(set(labels[ids]))), labels[ids].nunique() == 1)
            for p, ids in multi.groupby(multi).groups.items()]
    return pd.DataFrame(rows, columns=["patient_id", "n_samples", "clusters", "concordant"])


@dataclass(frozen=True)
class Neighbours:
    correlation: pd.DataFrame  # samples x samples Pearson r of the adjusted expression
    linkage: np.ndarray        # average linkage on 1 - r
    table: pd.DataFrame        # sample_id, patient_id, nearest_sample, nearest_patient, ...

    @property
    def repeat_rate(self) -> float:
        """Share of repeat samples whose nearest neighbour is a sample of their own patient."""
        rep = self.table[self.table["repeat"]]
        return float(rep["same_patient"].mean()) if len(rep) else float("nan")


def transcriptome_neighbours(expr: pd.DataFrame, samples: pd.DataFrame, patient_column: str,
                             top_genes: int = 2000, remove: list[str] | None = None
                             ) -> Neighbours:
    """Whole-transcriptome sample correlation and each sample's nearest neighbour.

    expr: genes x samples log expression; `remove` names sample-sheet columns (batch, library
    preparation ...) whose effects are regressed out gene-wise first (limma
    removeBatchEffect, intercept kept), so that repeat samples sequenced in different batches
    can find each other. Then the `top_genes` most variable genes (0 = all) are correlated.
    """
    samples = samples.loc[expr.columns]
    y = expr
    if remove:
        design = model_matrix("~ " + " + ".join(remove), samples)
        tech = design.drop(columns="(Intercept)")
        y = limma.remove_batch_effect(expr, np.ones((len(samples), 1)),
                                      (tech - tech.mean()).to_numpy())
    var = y.var(axis=1).to_numpy()
    if top_genes and top_genes < len(y):
        y = y.iloc[np.sort(np.argsort(-var, kind="stable")[:top_genes])]
    r = np.corrcoef(y.to_numpy().T)
    corr = pd.DataFrame(r, index=y.columns, columns=y.columns)
    off = r.copy()
    np.fill_diagonal(off, -np.inf)
    nearest = off.argmax(axis=1)
    pid = samples[patient_column].astype(str).to_numpy()
    repeat = pd.Series(pid).duplicated(keep=False).to_numpy()
    table = pd.DataFrame({"sample_id": y.columns, "patient_id": pid,
                          "nearest_sample": y.columns[nearest],
                          "nearest_patient": pid[nearest],
                          "correlation": off[np.arange(len(pid)), nearest],
                          "repeat": repeat, "same_patient": pid[nearest] == pid})
    dist = np.clip(1.0 - r[np.triu_indices(len(r), 1)], 0.0, None)
    return Neighbours(corr, hierarchy.linkage(dist, "average"), table)


def subgroup_de(counts: pd.DataFrame, samples: pd.DataFrame, labels: pd.Series,
                genes: pd.DataFrame, settings: SubgroupDESettings, n_cpus: int = 1):
    """DESeq2 Wald test of cluster C1 against the other clusters (design column `subtype`,
    levels C1 and rest, in `settings.formula`); returns (table, up, down) in the `de` stage's
    format, sorted by P.Value; up = higher in C1, both with padj < settings.fdr and |log2FC| >
    settings.min_abs_log2fc."""
    formula, fdr = settings.formula, settings.fdr
    if SUBTYPE not in formula.replace("~", " ").replace("+", " ").split():
        raise InputError(f"the subgroup DE formula '{formula}' must contain the term "
                         f"'{SUBTYPE}' (cluster C1 vs the rest)", column="subtypes.de.formula")
    if SUBTYPE in samples.columns:
        raise InputError(f"the sample sheet already has a column '{SUBTYPE}'", column=SUBTYPE)
    design = samples.loc[labels.index].copy()
    design[SUBTYPE] = np.where(labels == "C1", "C1", REST)
    table = deseq2_wald(counts[labels.index], design, formula, (SUBTYPE, "C1", REST),
                        n_cpus=n_cpus, alpha=fdr)
    table = gene_table(table.set_index("gene_id"), genes)
    up, down = deg_lists(table, fdr, settings.min_abs_log2fc)
    log.info("C1 vs rest: %d genes tested, %d up, %d down", len(table), len(up), len(down))
    return table, up, down


def read_known_subgroups(path, cohort: str | None = None) -> pd.Series:
    """Known subgroups (sample_id, subgroup[, cohort]) to compare the clusters with; rows of
    other cohorts are ignored when a cohort column is present."""
    df = read_tsv(path, required=["sample_id", "subgroup"], what="known subgroups",
                  dtype={"sample_id": str, "subgroup": str, "cohort": str})
    if "cohort" in df.columns and cohort is not None:
        df = df[df["cohort"] == cohort]
    dup = df["sample_id"].duplicated()
    if dup.any():
        raise InputError(f"duplicated sample id '{df.loc[dup, 'sample_id'].iloc[0]}'",
                         path=path, row=int(np.flatnonzero(dup.to_numpy())[0]) + 2,
                         column="sample_id")
    return df.set_index("sample_id")["subgroup"]


def agreement(labels: pd.Series, known: pd.Series) -> tuple[float, int]:
    """Adjusted Rand index (Hubert & Arabie 1985) of the clusters and the known subgroups
    over their common samples, and that number of samples."""
    from sklearn.metrics import adjusted_rand_score

    common = labels.index.intersection(known.index)
    if len(common) < 2:
        return float("nan"), len(common)
    return float(adjusted_rand_score(known[common], labels[common])), len(common)


def summarise(labels: pd.Series, silhouette: pd.DataFrame, clusters: pd.DataFrame,
              neighbours: pd.DataFrame, concordance: pd.DataFrame, n_up: int, n_down: int,
              known: pd.Series | None = None, stability: pd.DataFrame | None = None,
              qpcr_agreement: pd.DataFrame | None = None) -> pd.DataFrame:
    """The stage's numbers as metric/value rows (what a person checks first). stability:
    `longitudinal.stability`; qpcr_agreement: the table of `longitudinal.qpcr_agreement`."""
    chosen = silhouette[silhouette["chosen"]].iloc[0]
    rep = neighbours[neighbours["repeat"].astype(bool)]
    rows = [("n_samples", len(labels)), ("k", int(chosen["k"])),
            ("silhouette", float(chosen["silhouette"]))]
    rows += [(f"cluster_{c}", f"{n} samples, high: {lab}") for c, n, lab in
             clusters[["cluster", "n_samples", "label"]].itertuples(index=False)]
    ari, n_known = agreement(labels, known) if known is not None else (float("nan"), 0)
    rows += [("known_subgroups_samples", n_known), ("adjusted_rand_index", ari),
             ("repeat_samples", len(rep)),
             ("repeat_nearest_neighbour_rate",
              float(rep["same_patient"].astype(bool).mean()) if len(rep) else float("nan")),
             ("repeat_patients", len(concordance)),
             ("repeat_patients_same_cluster",
              int(concordance["concordant"].astype(bool).sum()) if len(concordance) else 0),
             ("de_up_in_C1", n_up), ("de_down_in_C1", n_down)]
    if stability is not None:
        changed = stability.loc[~stability["stable"].astype(bool), "patient_id"].astype(str)
        rows += [("longitudinal_patients", len(stability)),
                 ("longitudinal_patients_changed", len(changed)),
                 ("longitudinal_changed", ",".join(changed) or "none")]
    if qpcr_agreement is not None:
        q = qpcr_agreement.set_index("qpcr_subgroup")["n_patients"]
        rows += [("qpcr_patients_with_clusters", int(q["all"])),
                 ("qpcr_rnaseq_agreement", float(q["agreement"])),
                 ("qpcr_rnaseq_kappa", float(q["cohen_kappa"]))]
    # One text column, floats with the writers' fixed format, so reruns are byte-identical.
    text = [f"{v:.10g}" if isinstance(v, float) else str(v) for _, v in rows]
    return pd.DataFrame({"metric": [m for m, _ in rows], "value": text})
