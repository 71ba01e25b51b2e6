"""bloodsig.cells against R: NNLS deconvolution against the nnls package (Lawson-Hanson,
as scipy), variance inflation factors against 1 / (1 - R^2) of R's lm."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.cells import adjustment
from bloodsig.cells import proportions as cells

pytestmark = pytest.mark.slow

TYPES = ["CD8T", "CD4T", "NK", "Bcell", "Mono", "Neu"]

R_CODE = r"""
library(nnls)
setwd("{wd}")
sig <- as.matrix(read.delim("signature.tsv", row.names = 1, check.names = FALSE))
counts <- as.matrix(read.delim("counts.tsv", row.names = 1, check.names = FALSE))
cpm <- t(t(counts) / colSums(counts)) * 1e6
y <- cpm[rownames(sig), ]
fit <- function(w) {
  coef <- t(apply(y, 2, function(v) nnls(sig * w, v * w)$x))
  coef / rowSums(coef)
}
write.table(fit(1 / rowMeans(sig)), "r_relative.tsv", sep = "\t", col.names = FALSE,
            row.names = FALSE)
write.table(fit(rep(1, nrow(sig))), "r_none.tsv", sep = "\t", col.names = FALSE,
            row.names = FALSE)
x <- read.delim("vif.tsv")
vif <- sapply(names(x), function(v) {
  1 / (1 - summary(lm(as.formula(paste(v, "~ .")), data = x))$r.squared)
})
write.table(vif, "r_vif.tsv", sep = "\t", col.names = FALSE, row.names = FALSE)
"""


@pytest.fixture(scope="module")
def case(rscript, tmp_path_factory):
    rng = np.random.default_rng(11)
    markers, n = 12, 80
    sig = rng.uniform(0.01, 0.08, (markers * len(TYPES), len(TYPES)))
    for j in range(len(TYPES)):
        sig[j * markers:(j + 1) * markers, j] = 1.0
    sig *= 2.0 ** rng.uniform(5, 10, len(sig))[:, None]
    genes = [f"G{i:03d}" for i in range(len(sig))]
    signature = pd.DataFrame(sig, index=genes, columns=TYPES)
    props = rng.dirichlet(np.array([0.08, 0.15, 0.05, 0.05, 0.08, 0.59]) * 80, n)
    mu = np.vstack([sig @ props.T * np.exp(rng.normal(0, 0.25, (len(sig), n))),
                    rng.uniform(10, 500, (40, n))])
    counts = pd.DataFrame(rng.poisson(mu * 30), columns=[f"S{i:03d}" for i in range(n)],
                          index=genes + [f"X{i:03d}" for i in range(40)])
    x = rng.normal(size=(n, 4))
    x[:, 2] += 0.8 * x[:, 0]
    x[:, 3] = 0.5 * x[:, 0] - 0.7 * x[:, 1] + rng.normal(0, 0.4, n)
    vif_data = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    wd = tmp_path_factory.mktemp("cells_r")
    signature.rename_axis("gene_id").to_csv(wd / "signature.tsv", sep="\t", float_format="%.17g")
    counts.rename_axis("gene_id").to_csv(wd / "counts.tsv", sep="\t")
    vif_data.to_csv(wd / "vif.tsv", sep="\t", index=False, float_format="%.17g")
    rscript(R_CODE.replace("{wd}", str(wd)), packages=("nnls",))
    return {"signature": signature, "counts": counts, "vif_data": vif_data,
            "relative": np.loadtxt(wd / "r_relative.tsv"), "none": np.loadtxt(wd / "r_none.tsv"),
            "vif": np.loadtxt(wd / "r_vif.tsv")}


@pytest.mark.parametrize("weighting", ["relative", "none"])
def test_deconvolution_matches_r_nnls(case, weighting):
    res = cells.deconvolve(case["counts"], case["signature"], weighting)
    np.testing.assert_allclose(res.fractions.to_numpy(), case[weighting], atol=1e-9)


def test_vif_matches_r_lm(case):
    np.testing.assert_allclose(adjustment.variance_inflation(case["vif_data"]), case["vif"],
                               rtol=1e-9)
