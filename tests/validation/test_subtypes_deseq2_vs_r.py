"""The subtypes stage's subgroup DE (bloodsig.subtypes.immune.subgroup_de -> pydeseq2)
against R DESeq2.

Data: simulated negative-binomial counts, 2,000 genes x 48 samples in two library
preparations, with planted subgroup modules as in the demo (a module up by 1 log2 unit in its
own subgroup and down in the other). The R side is DESeq() with `~ library_type + subtype` and
results(contrast = c("subtype", "C1", "rest")), defaults otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.subtypes.immune import SubgroupDESettings, subgroup_de

pytestmark = pytest.mark.slow

R_CODE = """
suppressPackageStartupMessages(library(DESeq2))
cts <- as.matrix(read.delim("{counts}", row.names = 1, check.names = FALSE))
cd <- read.delim("{design}", row.names = 1)
cd$library_type <- factor(cd$library_type)
cd$subtype <- factor(cd$subtype, levels = c("rest", "C1"))
dds <- DESeqDataSetFromMatrix(cts[, rownames(cd)], cd, ~ library_type + subtype)
dds <- DESeq(dds, quiet = TRUE)
res <- results(dds, contrast = c("subtype", "C1", "rest"), alpha = 0.05)
out <- data.frame(gene_id = rownames(res), as.data.frame(res))
write.table(out, "{out}", sep = "\\t", quote = FALSE, row.names = FALSE)
"""


def _simulate(seed: int = 9, n_genes: int = 2000, n: int = 48):
    rng = np.random.default_rng(seed)
    c1 = np.arange(n) < 20  # 20 samples in C1, 28 in the rest
    library = np.where(rng.random(n) < 0.5, "polyA", "rRNA_depletion")
    log2_mu = rng.normal(7, 2, n_genes)
    prep = rng.normal(0, 0.4, n_genes)
    effect = np.zeros((n_genes, n))
    effect[:60] = np.where(c1, 1.0, -1.0 * c1.mean() / (1 - c1.mean()))  # module of C1
    effect[60:100] = np.where(c1, -1.0 * (1 - c1.mean()) / c1.mean(), 1.0)  # of the rest
    mu = 2.0 ** (log2_mu[:, None] + effect) * np.exp(
        prep[:, None] * (library == "rRNA_depletion")) * rng.lognormal(0, 0.2, n)
    disp = 0.05 + 2.0 / mu
    counts = rng.poisson(rng.gamma(1 / disp, mu * disp))
    samples = [f"S{j:02d}" for j in range(n)]
    counts = pd.DataFrame(counts, index=pd.Index([f"G{i:04d}" for i in range(n_genes)],
                                                 name="gene_id"), columns=samples)
    design = pd.DataFrame({"library_type": library}, index=samples)
    labels = pd.Series(np.where(c1, "C1", "C2"), index=samples)
    return counts[counts.sum(axis=1) >= 10], design, labels


@pytest.fixture(scope="module")
def both(rscript, tmp_path_factory):
    counts, design, labels = _simulate()
    tmp = tmp_path_factory.mktemp("subtypes_deseq2")
    counts.to_csv(tmp / "counts.tsv", sep="\t")
    design.assign(subtype=np.where(labels == "C1", "C1", "rest")).rename_axis(
        "sample_id").to_csv(tmp / "design.tsv", sep="\t")
    rscript(R_CODE.format(counts=tmp / "counts.tsv", design=tmp / "design.tsv",
                          out=tmp / "r.tsv"), packages=("DESeq2",))
    r = pd.read_csv(tmp / "r.tsv", sep="\t", index_col="gene_id")
    genes = pd.DataFrame({"gene_name": counts.index}, index=counts.index)
    settings = SubgroupDESettings("~ library_type + subtype", fdr=0.05, min_abs_log2fc=0.5)
    table, up, down = subgroup_de(counts, design, labels, genes, settings, n_cpus=2)
    return table.set_index("gene_id"), r, up, down


def test_log2fc_and_wald_statistic(both):
    py, r, _, _ = both
    r = r.loc[py.index]
    ok = r["stat"].notna() & py["t"].notna()
    corr_lfc = np.corrcoef(py.loc[ok, "logFC"], r.loc[ok, "log2FoldChange"])[0, 1]
    corr_stat = np.corrcoef(py.loc[ok, "t"], r.loc[ok, "stat"])[0, 1]
    diff = (py.loc[ok, "logFC"] - r.loc[ok, "log2FoldChange"]).abs()
    print(f"{ok.sum()} genes: corr(log2FC) {corr_lfc:.7f}, corr(Wald) {corr_stat:.7f}, "
          f"|d log2FC| median {diff.median():.2e}, max {diff.max():.2e}")
    assert corr_lfc >= 0.999
    assert corr_stat >= 0.999
    assert diff.median() < 1e-3
    np.testing.assert_allclose(py["baseMean"], r["baseMean"], rtol=1e-6)


def test_top_genes_agree_and_are_the_planted_modules(both):
    py, r, up, down = both
    r_up = set(r.index[(r["padj"] < 0.05) & (r["log2FoldChange"] > 0.5)])
    r_down = set(r.index[(r["padj"] < 0.05) & (r["log2FoldChange"] < -0.5)])
    print(f"up: python {len(up)}, R {len(r_up)}; down: python {len(down)}, R {len(r_down)}")
    for ours, theirs in ((set(up["gene_id"]), r_up), (set(down["gene_id"]), r_down)):
        assert len(ours & theirs) / len(ours | theirs) >= 0.95
    planted_up = {f"G{i:04d}" for i in range(60)}
    planted_down = {f"G{i:04d}" for i in range(60, 100)}
    assert len(set(up["gene_id"]) & planted_up) >= 55
    assert len(set(down["gene_id"]) & planted_down) >= 36
    assert len(set(up["gene_id"]) - planted_up) + len(set(down["gene_id"]) - planted_down) <= 5
