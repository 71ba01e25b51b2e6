"""Repeated measures and robust methods against R (limma 3.54, statmod 1.5, edgeR 3.40) on
real repeated-measures blood RNA-seq: GSE127530, 5 subjects x 3 days x 3 times after a
meal (Fast, 3hr, 6hr). Block = Subject; the test coefficient is 6hr vs Fast.

Checked: duplicateCorrelation (both passes of the user's guide's two-pass voom), the
blocked lmFit/eBayes topTable, eBayes(robust=TRUE) and voomWithQualityWeights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bloodsig.stats import limma, limma_block, limma_quality, limma_robust, normalize

pytestmark = pytest.mark.slow

RTOL = 1e-6
MIN_CPM, MIN_SAMPLES = 1.0, 15  # keep genes with CPM > 1 in at least 15 of 45 samples

R_CODE = r"""
suppressMessages({library(limma); library(edgeR); library(statmod)})
wt <- function(x, f) write.table(x, f, sep="\t", quote=FALSE, col.names=NA)
counts <- as.matrix(read.delim("counts.tsv", row.names=1, check.names=FALSE))
s <- read.delim("samples.tsv", row.names=1, stringsAsFactors=TRUE)
s <- s[colnames(counts), ]
s$Time <- relevel(s$Time, "Fast")
keep <- rowSums(cpm(counts) > 1) >= 15
writeLines(rownames(counts)[keep], "r_keep.txt")
dge <- calcNormFactors(DGEList(counts[keep, ]))
design <- model.matrix(~Time, s)
wt(design, "r_design.tsv")
wt(dge$samples, "r_samples.tsv")
v1 <- voom(dge, design)
dc1 <- duplicateCorrelation(v1, design, block=s$Subject)
v2 <- voom(dge, design, block=s$Subject, correlation=dc1$consensus)
dc2 <- duplicateCorrelation(v2, design, block=s$Subject)
wt(data.frame(pass1=dc1$atanh.correlations, pass2=dc2$atanh.correlations,
              row.names=rownames(v2)), "r_atanh.tsv")
wt(c(pass1=dc1$consensus.correlation, pass2=dc2$consensus.correlation), "r_consensus.tsv")
wt(v2$weights, "r_weights2.tsv")
fit <- lmFit(v2, design, block=s$Subject, correlation=dc2$consensus.correlation)
wt(data.frame(sigma=fit$sigma, fit$stdev.unscaled, check.names=FALSE), "r_fit.tsv")
efit <- eBayes(fit)
wt(topTable(efit, coef="Time6hr", number=Inf, sort.by="none"), "r_tt.tsv")
rfit <- eBayes(fit, robust=TRUE)
wt(data.frame(df.prior=rfit$df.prior, s2.post=rfit$s2.post, s2.prior=rfit$s2.prior,
              row.names=rownames(v2)), "r_robust.tsv")
wt(topTable(rfit, coef="Time6hr", number=Inf, sort.by="none"), "r_tt_robust.tsv")
vq <- voomWithQualityWeights(dge, design)
wt(data.frame(sample.weights=vq$targets$sample.weights, row.names=colnames(vq)),
   "r_qw_samples.tsv")
wt(vq$weights, "r_qw_weights.tsv")
wt(topTable(eBayes(lmFit(vq, design)), coef="Time6hr", number=Inf, sort.by="none"),
   "r_tt_qw.tsv")
vqb <- voomWithQualityWeights(dge, design, block=s$Subject, correlation=dc2$consensus.correlation)
wt(data.frame(sample.weights=vqb$targets$sample.weights, row.names=colnames(vqb)),
   "r_qwb_samples.tsv")
fb <- eBayes(lmFit(vqb, design, block=s$Subject, correlation=dc2$consensus.correlation),
             robust=TRUE)
wt(topTable(fb, coef="Time6hr", number=Inf, sort.by="none"), "r_tt_qwb.tsv")
ff <- read.delim("ffdist_in.tsv")
for (case in unique(ff$case)) {
  f <- ff[ff$case == case, ]
  r <- fitFDistRobustly(f$x, f$df1)
  wt(data.frame(df2.shrunk=r$df2.shrunk, scale=r$scale, df2=r$df2),
     paste0("r_ffdist_", case, ".tsv"))
}
"""


def load_gse127530(refdata):
    """Counts (genes x 45 samples) and the sample sheet, aligned to the counts' columns."""
    d = refdata / "real_blood" / "GSE127530"
    if not d.is_dir():
        pytest.fail(f"reference data missing: {d}")
    # The header row has one field fewer than the data rows: the first column is the index.
    counts = pd.read_csv(d / "fixed_combinedCounts.txt.gz", sep="\t", index_col=0)
    samples = pd.read_csv(d / "phenoData_unblinded.txt", sep="\t")
    samples.index = samples["Label"].str.replace(".", "-", regex=False)  # '.' in the sheet
    samples = samples.loc[counts.columns]
    return counts, samples


def ffdist_cases() -> pd.DataFrame:
    """Inputs for fitFDistRobustly off the main path: unequal df1 (genes with missing
    values) with outliers, and chi-square variances with no prior spread (df2 = Inf)."""
    rng = np.random.default_rng(12)
    n = 3000
    df1 = np.where(rng.random(n) < 0.1, rng.integers(3, 8, n), 8).astype(float)
    x = 0.4 * stats.f.rvs(df1, 6, random_state=rng)
    x[:40] *= 25
    chisq = rng.chisquare(5, n) / 5
    return pd.DataFrame({"case": ["df1_varies"] * n + ["no_prior_spread"] * n,
                         "x": np.concatenate([x, 2 * chisq]),
                         "df1": np.concatenate([df1, np.full(n, 5.0)])})


@pytest.fixture(scope="module")
def run(tmp_path_factory, rscript, refdata):
    tmp = tmp_path_factory.mktemp("limma_repeated_vs_r")
    counts, samples = load_gse127530(refdata)
    assert counts.shape[1] == 45
    assert samples.groupby("Subject").size().tolist() == [9] * 5
    counts.to_csv(tmp / "counts.tsv", sep="\t")
    samples.to_csv(tmp / "samples.tsv", sep="\t")
    ffdist_cases().to_csv(tmp / "ffdist_in.tsv", sep="\t", index=False)
    rscript(R_CODE, packages=("limma", "edgeR", "statmod"), cwd=tmp)

    def read(name):
        return pd.read_csv(tmp / name, sep="\t", index_col=0)

    cpm = counts / counts.sum(axis=0) * 1e6
    counts = counts[((cpm > MIN_CPM).sum(axis=1) >= MIN_SAMPLES)]
    assert list(counts.index) == (tmp / "r_keep.txt").read_text().split()
    time = samples["Time"].to_numpy()
    design = pd.DataFrame({"(Intercept)": 1.0, "Time3hr": (time == "3hr") * 1.0,
                           "Time6hr": (time == "6hr") * 1.0}, index=samples.index)
    np.testing.assert_array_equal(design.to_numpy(), read("r_design.tsv").to_numpy())
    nf = normalize.calc_norm_factors(counts)
    np.testing.assert_allclose(nf.to_numpy(), read("r_samples.tsv")["norm.factors"], rtol=RTOL)
    return counts, samples, design, nf, read


@pytest.fixture(scope="module")
def blocked(run):
    counts, samples, design, nf, _ = run
    v = limma_block.voom_block(counts, design, samples["Subject"], norm_factors=nf)
    fit = limma.lm_fit(v["E"], design, v["weights"], block=samples["Subject"],
                       correlation=v["correlation"])
    return v, fit


def _close(ours, ref, name, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(ref, dtype=float),
                               rtol=rtol, err_msg=name)


def test_duplicate_correlation_both_passes_match_limma(run, blocked):
    counts, samples, design, nf, read = run
    v, _ = blocked
    cons = read("r_consensus.tsv").iloc[:, 0]
    _close(v["correlations"], cons.to_numpy(), "consensus correlations")
    assert 0.3 < v["correlation"] < 0.6  # subjects differ: a real intra-subject correlation
    first = limma.voom(counts, design, norm_factors=nf)
    dc1 = limma_block.duplicate_correlation(first["E"], design, samples["Subject"],
                                            first["weights"])
    ref = read("r_atanh.tsv")
    # Per gene, atol 1e-7 besides RTOL: for genes whose gamma-GLM start (the least-squares
    # fit of dy on d) is already the REML optimum to rounding, statmod's glmgam.fit damps
    # its first step until two deviances that differ below their rounding error compare
    # <=, so R's own answer is fixed only to ~1e-8 there (max |diff| 6e-9 over 20,000
    # weighted genes of this data set; 2e-13 unweighted). Relative error is meaningless for
    # atanh(rho) near 0. The consensus, and all that follows, is checked at RTOL.
    for ours, col in ((dc1, "pass1"), (v, "pass2")):
        np.testing.assert_allclose(ours["atanh_correlations"], ref[col], rtol=RTOL, atol=1e-7,
                                   err_msg=f"atanh correlations, {col}")
    _close(v["weights"], read("r_weights2.tsv"), "voom weights with block")


def test_blocked_lmfit_ebayes_match_limma(run, blocked):
    *_, read = run
    _, fit = blocked
    rf = read("r_fit.tsv")
    _close(fit["sigma"], rf["sigma"], "sigma")
    _close(fit["stdev_unscaled"], rf.drop(columns="sigma"), "stdev.unscaled")
    tt = limma.top_table(limma.ebayes(fit), "Time6hr", sort_by="none")
    rt = read("r_tt.tsv")
    assert list(tt.index) == list(rt.index)
    for col in ("logFC", "AveExpr", "t", "P.Value", "adj.P.Val", "B"):
        _close(tt[col], rt[col], col)
    assert (rt["adj.P.Val"] < 0.05).sum() > 50  # a real 6hr-vs-fasting response to compare


def test_robust_ebayes_matches_limma(run, blocked):
    *_, read = run
    _, fit = blocked
    efit = limma.ebayes(fit, robust=True)
    rr = read("r_robust.tsv")
    _close(efit["df_prior"], rr["df.prior"], "df.prior per gene")
    assert rr["df.prior"].nunique() > 100  # the gene-wise shrinkage is exercised
    _close(efit["s2_prior"], rr["s2.prior"].iloc[0], "s2.prior")
    _close(efit["s2_post"], rr["s2.post"], "s2.post")
    tt = limma.top_table(efit, "Time6hr", sort_by="none")
    rt = read("r_tt_robust.tsv")
    for col in ("t", "P.Value", "adj.P.Val", "B"):
        _close(tt[col], rt[col], col)


def test_voom_with_quality_weights_matches_limma(run):
    counts, samples, design, nf, read = run
    vq = limma_quality.voom_with_quality_weights(counts, design, norm_factors=nf)
    ref = read("r_qw_samples.tsv")["sample.weights"]
    _close(vq["sample_weights"], ref, "sample weights")
    assert ref.max() / ref.min() > 2  # the samples do differ in quality
    _close(vq["weights"], read("r_qw_weights.tsv"), "voom x sample weights")
    tt = limma.top_table(limma.ebayes(limma.lm_fit(vq["E"], design, vq["weights"])),
                         "Time6hr", sort_by="none")
    rt = read("r_tt_qw.tsv")
    for col in ("logFC", "t", "P.Value", "B"):
        _close(tt[col], rt[col], col)


def test_voom_quality_weights_with_block_and_robust_ebayes_match_limma(run, blocked):
    counts, samples, design, nf, read = run
    v, _ = blocked
    block = samples["Subject"]
    vq = limma_quality.voom_with_quality_weights(counts, design, norm_factors=nf, block=block,
                                                 correlation=v["correlation"])
    _close(vq["sample_weights"], read("r_qwb_samples.tsv")["sample.weights"], "sample weights")
    fit = limma.lm_fit(vq["E"], design, vq["weights"], block=block,
                       correlation=v["correlation"])
    tt = limma.top_table(limma.ebayes(fit, robust=True), "Time6hr", sort_by="none")
    rt = read("r_tt_qwb.tsv")
    for col in ("logFC", "t", "P.Value", "B"):
        _close(tt[col], rt[col], col)


@pytest.mark.parametrize("case", ["df1_varies", "no_prior_spread"])
def test_fit_f_dist_robustly_edge_paths_match_limma(run, case):
    *_, read = run
    f = ffdist_cases().query("case == @case")
    ours = limma_robust.fit_f_dist_robustly(f["x"].to_numpy(), f["df1"].to_numpy())
    ref = read(f"r_ffdist_{case}.tsv")
    _close(ours["scale"], ref["scale"].iloc[0], "scale")
    _close(ours["df2"], ref["df2"].iloc[0], "df2")
    _close(ours["df2_shrunk"], ref["df2.shrunk"], "df2.shrunk")
    if case == "no_prior_spread":
        assert np.isinf(ref["df2"].iloc[0])
