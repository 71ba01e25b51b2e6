"""bloodsig's TMM, cpm, voom, lmFit, contrasts.fit, eBayes, topTable and removeBatchEffect
against R (edgeR 3.40, limma 3.54) on simulated blood-like counts, and lmFit/eBayes against
a published limma topTable (PANC1 FOXA2 knockout, from Debian's r-bioc-decoupler)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.stats import design as dz
from bloodsig.stats import limma, normalize
from bloodsig.stats.lowess import lowess

pytestmark = pytest.mark.slow

RTOL = 1e-6
DESIGNS = {
    "primary": "~ group + age + sex + batch",
    "cell": "~ group + age + sex + batch + CD8T + NK + Mono",
}
REFS = {"group": "control", "sex": "female", "batch": "b1"}


def simulate(seed=7, ngenes=2000, nsamples=60):
    """NB counts with planted group effects, age/sex/batch effects and cell-fraction effects."""
    rng = np.random.default_rng(seed)
    samples = pd.DataFrame({
        "group": np.repeat(["ALS", "control"], nsamples // 2),
        "age": rng.normal(60, 10, nsamples).round(1),
        "sex": rng.choice(["female", "male"], nsamples),
        "batch": np.tile(["b1", "b2", "b3"], nsamples // 3),
    }, index=[f"S{i:03d}" for i in range(nsamples)])
    cells = rng.dirichlet([30, 6, 4, 5], nsamples)
    for j, name in enumerate(["Neutro", "CD8T", "NK", "Mono"]):
        samples[name] = cells[:, j]
    base = rng.normal(4, 2.2, ngenes)
    de = rng.random(ngenes) < 0.1
    lfc = np.where(de, rng.choice([-1, 1], ngenes) * rng.uniform(0.3, 1.5, ngenes), 0.0)
    eta = (base[:, None] + np.log(2) * lfc[:, None] * (samples["group"] == "ALS").to_numpy()
           + rng.normal(0, 0.01, ngenes)[:, None] * (samples["age"].to_numpy() - 60)
           + rng.normal(0, 0.3, ngenes)[:, None] * (samples["sex"] == "male").to_numpy()
           + rng.normal(0, 0.2, (ngenes, 3))[:, samples["batch"].str[1].astype(int) - 1]
           + rng.normal(0, 2, (ngenes, 4)) @ (cells - cells.mean(axis=0)).T)
    libsize = rng.uniform(0.5, 2, nsamples)
    mu = np.exp(eta) * libsize
    disp = 0.05 + 0.4 / np.sqrt(np.exp(base))
    counts = rng.negative_binomial(1 / disp[:, None], 1 / (1 + mu * disp[:, None]))
    counts[:5, :] = 0  # all-zero genes: TMM and voom must leave them out of their fits
    genes = [f"G{i:05d}" for i in range(ngenes)]
    return pd.DataFrame(counts, index=genes, columns=samples.index), samples, de


R_CODE = r"""
suppressMessages({library(limma); library(edgeR)})
wt <- function(x, f) write.table(x, f, sep="\t", quote=FALSE, col.names=NA)
counts <- as.matrix(read.delim("counts.tsv", row.names=1, check.names=FALSE))
samples <- read.delim("samples.tsv", row.names=1, stringsAsFactors=TRUE)
samples$group <- relevel(samples$group, "control")
dge <- calcNormFactors(DGEList(counts))
wt(dge$samples, "r_samples.tsv")
wt(cpm(dge, log=TRUE), "r_cpm_log.tsv")
wt(cpm(dge), "r_cpm.tsv")
for (name in c("primary", "cell")) {
  f <- readLines(paste0("formula_", name, ".txt"))
  design <- model.matrix(as.formula(f), data=samples)
  wt(design, paste0("r_design_", name, ".tsv"))
  v <- voom(dge, design, save.plot=TRUE)
  wt(v$weights, paste0("r_weights_", name, ".tsv"))
  wt(v$E, paste0("r_E_", name, ".tsv"))
  wt(data.frame(x=v$voom.line$x, y=v$voom.line$y), paste0("r_line_", name, ".tsv"))
  fit <- lmFit(v, design)
  wt(data.frame(sigma=fit$sigma, Amean=fit$Amean), paste0("r_sigma_", name, ".tsv"))
  wt(fit$stdev.unscaled, paste0("r_su_", name, ".tsv"))
  efit <- eBayes(fit)
  wt(c(s2.prior=efit$s2.prior, df.prior=efit$df.prior), paste0("r_prior_", name, ".tsv"))
  wt(topTable(efit, coef="groupALS", number=Inf, sort.by="none"), paste0("r_tt_", name, ".tsv"))
  wt(topTable(efit, coef="groupALS", number=Inf), paste0("r_ttB_", name, ".tsv"))
}
design <- model.matrix(~ group + age + sex + batch, data=samples)
v <- voom(dge, design)
fit <- lmFit(v, design)
cfit <- eBayes(contrasts.fit(fit, c(0, 0, 0, 0, 1, -1)))
wt(topTable(cfit, coef=1, number=Inf, sort.by="none"), "r_tt_contrast.tsv")
keep <- design[, 1:2]
wt(removeBatchEffect(v$E, covariates=design[, 3:6], design=keep, weights=v$weights), "r_rbe.tsv")
lc <- cpm(dge, log=TRUE)
tfit <- eBayes(lmFit(lc, design), trend=TRUE)
wt(topTable(tfit, coef="groupALS", number=Inf, sort.by="none"), "r_tt_trend.tsv")
wt(tfit$s2.prior, "r_trend_s2prior.tsv")
xy <- read.delim("lowess_in.tsv")
wt(as.data.frame(lowess(xy$x, xy$y, f=0.3)), "r_lowess.tsv")
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory, rscript):
    tmp = tmp_path_factory.mktemp("limma_vs_r")
    counts, samples, de = simulate()
    counts.to_csv(tmp / "counts.tsv", sep="\t")
    samples.to_csv(tmp / "samples.tsv", sep="\t")
    for name, formula in DESIGNS.items():
        (tmp / f"formula_{name}.txt").write_text(formula + "\n")
    # lowess input with heavy ties and an outlier, to exercise tie and robustness handling
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(0, 1, 500), 1)
    y = np.sin(x) + rng.normal(0, 0.3, 500)
    y[10] = 8.0
    pd.DataFrame({"x": x, "y": y}).to_csv(tmp / "lowess_in.tsv", sep="\t", index=False)
    rscript(R_CODE, packages=("limma", "edgeR"), cwd=tmp)

    def read(name):
        return pd.read_csv(tmp / name, sep="\t", index_col=0)

    return counts, samples, de, read


def _voom_fit(counts, samples, formula):
    design = dz.model_matrix(formula, samples, REFS)
    nf = normalize.calc_norm_factors(counts)
    v = limma.voom(counts, design, norm_factors=nf)
    fit = limma.lm_fit(v["E"], design, v["weights"])
    return design, v, fit, limma.ebayes(fit)


def test_tmm_and_cpm_match_edger(run):
    counts, _, _, read = run
    r = read("r_samples.tsv")
    nf = normalize.calc_norm_factors(counts)
    np.testing.assert_allclose(nf.to_numpy(), r["norm.factors"].to_numpy(), rtol=RTOL)
    assert not np.allclose(nf, 1.0)  # the simulation has composition effects to correct
    np.testing.assert_allclose(
        normalize.cpm(counts, norm_factors=nf, log=True).to_numpy(),
        read("r_cpm_log.tsv").to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(normalize.cpm(counts, norm_factors=nf).to_numpy(),
                               read("r_cpm.tsv").to_numpy(), rtol=RTOL)


def test_lowess_port_matches_r(run):
    *_, read = run
    xy = read("lowess_in.tsv")
    rx, ry = read("r_lowess.tsv")["x"], read("r_lowess.tsv")["y"]
    x, y = lowess(xy.index.to_numpy(), xy["y"].to_numpy(), f=0.3)
    np.testing.assert_array_equal(x, rx.to_numpy())
    np.testing.assert_allclose(y, ry.to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_voom_lmfit_ebayes_match_limma(run, name):
    counts, samples, de, read = run
    design, v, fit, efit = _voom_fit(counts, samples, DESIGNS[name])
    rdesign = read(f"r_design_{name}.tsv")
    assert list(design.columns) == list(rdesign.columns)
    np.testing.assert_allclose(design.to_numpy(), rdesign.to_numpy(), rtol=1e-14)
    np.testing.assert_allclose(v["E"].to_numpy(), read(f"r_E_{name}.tsv").to_numpy(), rtol=RTOL)
    line = read(f"r_line_{name}.tsv")
    np.testing.assert_allclose(v["trend"][1], line["y"].to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(v["weights"].to_numpy(), read(f"r_weights_{name}.tsv").to_numpy(),
                               rtol=RTOL)
    sig = read(f"r_sigma_{name}.tsv")
    np.testing.assert_allclose(fit["sigma"], sig["sigma"].to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(fit["stdev_unscaled"], read(f"r_su_{name}.tsv").to_numpy(),
                               rtol=RTOL)
    prior = read(f"r_prior_{name}.tsv").iloc[:, 0]
    np.testing.assert_allclose([efit["s2_prior"], efit["df_prior"]], prior.to_numpy(), rtol=RTOL)

    tt = limma.top_table(efit, "groupALS", sort_by="none")
    rt = read(f"r_tt_{name}.tsv")
    assert list(tt.columns) == list(rt.columns)
    assert list(tt.index) == list(rt.index)
    for col in ("logFC", "AveExpr", "t", "B"):
        np.testing.assert_allclose(tt[col], rt[col], rtol=RTOL, atol=1e-9, err_msg=col)
    for col in ("P.Value", "adj.P.Val"):
        np.testing.assert_allclose(tt[col], rt[col], rtol=RTOL, err_msg=col)

    def degs(t):
        return set(t.index[(t["adj.P.Val"] < 0.01) & (t["logFC"].abs() > 0.1)])

    assert degs(tt) == degs(rt)
    assert len(degs(tt)) > 50
    # limma's default order (by B) is reproduced, ties included
    ttb = limma.top_table(efit, "groupALS")
    assert list(ttb.index) == list(read(f"r_ttB_{name}.tsv").index)


def test_contrasts_fit_matches_limma(run):
    counts, samples, _, read = run
    design, v, fit, _ = _voom_fit(counts, samples, DESIGNS["primary"])
    c = dz.contrast_vector("batchb2 - batchb3", design.columns)
    np.testing.assert_array_equal(c, [0, 0, 0, 0, 1, -1])
    tt = limma.top_table(limma.ebayes(limma.contrasts_fit(fit, c)), 0, sort_by="none")
    rt = read("r_tt_contrast.tsv")
    for col in ("logFC", "t", "P.Value", "B"):
        np.testing.assert_allclose(tt[col], rt[col], rtol=RTOL, atol=1e-9, err_msg=col)


def test_remove_batch_effect_matches_limma(run):
    counts, samples, _, read = run
    design, v, _, _ = _voom_fit(counts, samples, DESIGNS["primary"])
    x = design.to_numpy()
    out = limma.remove_batch_effect(v["E"], x[:, :2], x[:, 2:6], weights=v["weights"])
    np.testing.assert_allclose(out.to_numpy(), read("r_rbe.tsv").to_numpy(), rtol=RTOL)


def test_limma_trend_matches_limma(run):
    counts, samples, _, read = run
    design = dz.model_matrix(DESIGNS["primary"], samples, REFS)
    lc = normalize.cpm(counts, norm_factors=normalize.calc_norm_factors(counts), log=True)
    efit = limma.ebayes(limma.lm_fit(lc, design), trend=True)
    np.testing.assert_allclose(efit["s2_prior"], read("r_trend_s2prior.tsv").iloc[:, 0],
                               rtol=RTOL)
    tt = limma.top_table(efit, "groupALS", sort_by="none")
    rt = read("r_tt_trend.tsv")
    for col in ("t", "P.Value", "B"):
        np.testing.assert_allclose(tt[col], rt[col], rtol=RTOL, atol=1e-9, err_msg=col)


def test_published_panc1_toptable(refdata):
    """Plain lmFit/eBayes on published log expression (with missing values) vs its topTable."""
    d = refdata / "counts_with_design"
    expr = pd.read_csv(d / "PANC1_FOXA2KO_lognorm_expr.tsv", sep="\t", index_col=0)
    samples = pd.read_csv(d / "PANC1_FOXA2KO_design.tsv", sep="\t", index_col=0)
    ref = pd.read_csv(d / "PANC1_FOXA2KO_limma_toptable.tsv", sep="\t", index_col=0)
    assert expr.isna().any(axis=None)  # the published fit handled missing values per gene
    design = dz.model_matrix("~ condition", samples.loc[expr.columns],
                             {"condition": "PANC1.WT"})
    efit = limma.ebayes(limma.lm_fit(expr, design))
    tt = limma.top_table(efit, "conditionPANC1.FOXA2KO")
    assert list(tt.index[:100]) == list(ref.index[:100])
    tt = tt.loc[ref.index]
    for col in ref.columns:
        np.testing.assert_allclose(tt[col], ref[col], rtol=1e-8, atol=1e-12, err_msg=col)
