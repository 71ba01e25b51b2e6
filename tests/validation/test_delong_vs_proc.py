"""DeLong AUC, 95% CI and paired test against R pROC 1.18 (Debian r-cran-proc)."""

import numpy as np
import pytest

from bloodsig.stats import delong

pytestmark = pytest.mark.slow


def test_delong_matches_proc(rscript, tmp_path):
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 150)
    s1 = np.round(y * 0.9 + rng.normal(size=150), 2)
    s2 = np.round(y * 0.5 + rng.normal(size=150), 1)  # ties
    path = tmp_path / "d.tsv"
    np.savetxt(path, np.column_stack([y, s1, s2]), delimiter="\t", fmt="%.10g")
    out = rscript(f"""
suppressMessages(library(pROC))
d <- read.table("{path}", sep = "\\t")
r1 <- roc(d[[1]], d[[2]], levels = c(0, 1), direction = "<", quiet = TRUE)
r2 <- roc(d[[1]], d[[3]], levels = c(0, 1), direction = "<", quiet = TRUE)
ci <- ci.auc(r1, method = "delong")
t <- roc.test(r1, r2, method = "delong", paired = TRUE)
cat(sprintf("%.15g", c(ci[2], ci[1], ci[3], var(r1, method = "delong"), t$statistic,
                       t$p.value)), sep = "\\n")
""", packages=["pROC"])
    auc, lo, hi, var, z, p = (float(v) for v in out.split())
    res = delong.auc_ci(y, s1)
    assert res.auc == pytest.approx(auc, abs=1e-12)
    assert res.ci_low == pytest.approx(lo, abs=1e-10)
    assert res.ci_high == pytest.approx(hi, abs=1e-10)
    assert res.se ** 2 == pytest.approx(var, rel=1e-9)
    zz, pp = delong.delong_test(y, s1, s2)
    assert zz == pytest.approx(z, rel=1e-9)
    assert pp == pytest.approx(p, rel=1e-8)
