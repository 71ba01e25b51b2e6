"""bloodsig.stats.sva and bloodsig.de.covariates against R: Bioconductor sva 3.46 and stats::prcomp.

One R session on simulated data (1,000 genes x 40 samples, 3 hidden factors and a group
effect) written to a temporary directory; its results are compared with bloodsig's.
Permutations cannot share R's random stream, so num.sv is compared by the number it
returns and sva() by the canonical correlations of the surrogate variables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.de import covariates as cv
from bloodsig.stats import sva

pytestmark = pytest.mark.slow

N_GENES, N_SAMPLES = 1000, 40

R_CODE = r"""
suppressMessages(library(sva))
setwd("{wd}")
dat <- as.matrix(read.delim("expr.tsv", row.names = 1, check.names = FALSE))
mod <- as.matrix(read.delim("mod.tsv", row.names = 1))
mod0 <- mod[, 1, drop = FALSE]
p <- scan("p.txt", quiet = TRUE)
t0 <- proc.time()[["elapsed"]]
nsv <- num.sv(dat, mod, method = "be", B = 20, seed = 1)
set.seed(2)
fit <- sva(dat, mod, mod0, n.sv = NULL, B = 5)
elapsed <- proc.time()[["elapsed"]] - t0
write.table(format(fit$sv, digits = 17), "r_sv.tsv", sep = "\t", quote = FALSE,
            row.names = FALSE, col.names = FALSE)
writeLines(as.character(c(nsv, fit$n.sv, elapsed)), "r_nsv.txt")
out <- function(x, file) writeLines(format(x, digits = 17), file)  # write() keeps 7 digits
out(sva:::edge.lfdr(p), "r_lfdr.txt")
out(sva:::f.pvalue(dat, cbind(mod, fit$sv), mod0), "r_fp.txt")
resid <- dat - t(mod %*% solve(crossprod(mod), crossprod(mod, t(dat))))
pc <- prcomp(t(resid), center = TRUE, scale. = TRUE)
write.table(format(pc$x[, 1:5], digits = 17), "r_pcx.tsv", sep = "\t", quote = FALSE,
            row.names = FALSE, col.names = FALSE)
out(pc$sdev^2 / sum(pc$sdev^2), "r_pcvar.txt")  # summary(pc) rounds to 5 digits
"""


def simulate(seed=11):
    rng = np.random.default_rng(seed)
    group = np.tile([0.0, 1.0], N_SAMPLES // 2)
    factors = rng.standard_normal((N_SAMPLES, 3))
    mask = rng.uniform(size=(N_GENES, 3)) < 0.3
    load = rng.standard_normal((N_GENES, 3)) * np.array([2.0, 1.5, 1.0]) * mask
    de = (rng.uniform(size=N_GENES) < 0.1) * rng.normal(0, 1.5, N_GENES)
    expr = (rng.normal(6, 1, (N_GENES, 1)) + load @ factors.T + np.outer(de, group)
            + rng.standard_normal((N_GENES, N_SAMPLES)))
    samples = [f"S{i}" for i in range(N_SAMPLES)]
    expr = pd.DataFrame(expr, index=[f"G{i}" for i in range(N_GENES)], columns=samples)
    mod = pd.DataFrame({"Intercept": 1.0, "group": group}, index=samples)
    pvals = np.concatenate([rng.uniform(size=900), rng.beta(0.1, 5, size=100)])
    return expr, mod, pvals, factors


def canonical_correlations(a, b) -> np.ndarray:
    qa = np.linalg.qr(a - a.mean(axis=0))[0]
    qb = np.linalg.qr(b - b.mean(axis=0))[0]
    return np.linalg.svd(qa.T @ qb, compute_uv=False)


@pytest.fixture(scope="module")
def case(rscript, tmp_path_factory):
    wd = tmp_path_factory.mktemp("sva_vs_r")
    expr, mod, pvals, factors = simulate()
    expr.to_csv(wd / "expr.tsv", sep="\t", float_format="%.17g")
    mod.to_csv(wd / "mod.tsv", sep="\t")
    np.savetxt(wd / "p.txt", pvals, fmt="%.17g")
    rscript(R_CODE.replace("{wd}", str(wd)), packages=("sva",))
    nsv_be, nsv_sva, elapsed = np.loadtxt(wd / "r_nsv.txt")
    return {
        "expr": expr, "mod": mod, "pvals": pvals, "factors": factors,
        "nsv_be": int(nsv_be), "nsv_sva": int(nsv_sva), "r_seconds": elapsed,
        "sv": np.loadtxt(wd / "r_sv.tsv", ndmin=2),
        "lfdr": np.loadtxt(wd / "r_lfdr.txt"), "fp": np.loadtxt(wd / "r_fp.txt"),
        "pcx": np.loadtxt(wd / "r_pcx.tsv"), "pcvar": np.loadtxt(wd / "r_pcvar.txt"),
    }


def test_num_sv_be_agrees_with_r(case):
    assert case["nsv_be"] == 3  # the planted number, so the comparison is not vacuous
    for seed in (1, 2, 3):
        assert sva.num_sv(case["expr"], case["mod"], method="be", B=20, seed=seed) == \
            case["nsv_be"]


def test_irw_sva_agrees_with_r_sva(case):
    n_sv = case["nsv_sva"]
    assert n_sv == 3
    mod = case["mod"]
    sv = sva.irw_sva(case["expr"], mod, mod[["Intercept"]], n_sv=n_sv, B=5)
    cc = canonical_correlations(sv.to_numpy(), case["sv"])
    assert cc.min() >= 0.99, cc
    # column by column, up to sign: the same vectors, not just the same span (measured
    # 1 - |r| ~ 1e-13; lfdr differs from R's by ~2e-5, see the next test)
    r = np.abs(np.sum(sv.to_numpy() * case["sv"], axis=0))
    assert r.min() >= 1 - 1e-6, r
    assert canonical_correlations(case["sv"], case["factors"]).min() > 0.9
    assert case["r_seconds"] < 60


def test_edge_lfdr_and_f_pvalue_agree_with_r(case):
    np.testing.assert_allclose(sva.edge_lfdr(case["pvals"]), case["lfdr"], atol=1e-4)
    mod = case["mod"].to_numpy()
    # the F-test sva uses inside its iterations, with R's surrogate variables as covariates
    fp = sva.f_pvalue(case["expr"], np.column_stack([mod, case["sv"]]), mod[:, :1])
    np.testing.assert_allclose(fp, case["fp"], rtol=1e-9, atol=1e-14)


def test_residual_pca_agrees_with_prcomp(case):
    resid = cv.residualize(case["expr"], case["mod"])
    scores, explained = cv.residual_pca(resid, n_max=5)
    np.testing.assert_allclose(explained.to_numpy(), case["pcvar"][:5], rtol=1e-10)
    # prcomp's signs are arbitrary: compare each PC up to sign
    signs = np.sign(np.sum(scores.to_numpy() * case["pcx"], axis=0))
    np.testing.assert_allclose(scores.to_numpy() * signs, case["pcx"], atol=1e-8)
