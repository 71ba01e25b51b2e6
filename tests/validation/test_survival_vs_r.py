"""bloodsig's survival statistics against R survival 3.5 (coxph, concordance, survdiff,
survfit), edgeR's filterByExpr and scikit-survival's cumulative_dynamic_auc, on the real
breast-cancer cohorts of the reference data (GSE7390 from scikit-survival, NKI-70 from
survset) and on simulated data with tied times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.stats import discrimination
from bloodsig.stats import survival as sv
from bloodsig.survival import inputs

pytestmark = pytest.mark.slow

TOL = 1e-6
GENES = ["X219340_s_at", "X217771_at", "X202418_at", "X206295_at", "X201091_s_at"]


@pytest.fixture(scope="module")
def gse7390(refdata):
    from scipy.io import arff

    path = refdata / "survival" / "breast_cancer_GSE7390-metastasis.arff"
    if not path.exists():
        pytest.fail(f"{path} missing from the reference data")
    raw, _ = arff.loadarff(path)
    df = pd.DataFrame(raw)
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].str.decode("utf8")
    df["time"], df["event"] = df["t.tdm"].astype(float), df["e.tdm"].astype(int)
    df["er_pos"] = (df["er"] == "positive").astype(float)
    # Times rounded to whole years: heavy ties, where Breslow and Efron differ.
    df["year"] = np.ceil(df["time"] / 365.25)
    return df


@pytest.fixture(scope="module")
def nki70(refdata):
    df = pd.read_csv(refdata / "survival" / "survset_nki70.csv.gz")
    keep = ["time", "event", "num_Age"] + [c for c in df.columns if c.startswith("num_")][1:6]
    return df[keep].dropna().reset_index(drop=True)


def write(df, path):
    df.to_csv(path, index=False)


def r_lines(out: str) -> dict:
    """Parse `name value value ...` lines printed by the R snippets."""
    res = {}
    for line in out.strip().splitlines():
        parts = line.split()
        res[parts[0]] = np.array([np.nan if v == "NA" else float(v) for v in parts[1:]])
    return res


R_COX = r"""
suppressMessages(library(survival))
d <- read.csv("data.csv")
p <- function(name, x) cat(name, formatC(x, digits=15, format="g"), "\n")
for (tcol in c("time", "year")) for (ties in c("breslow", "efron")) {
  f <- coxph(as.formula(paste0("Surv(", tcol, ", event) ~ ", COVS)), data=d, ties=ties,
             control=coxph.control(eps=1e-12, iter.max=50))
  key <- paste(tcol, ties, sep="_")
  p(paste0("coef_", key), coef(f)); p(paste0("se_", key), sqrt(diag(vcov(f))))
  p(paste0("loglik_", key), f$loglik)
  lp <- predict(f, type="lp")
  p(paste0("cindex_", key), concordance(Surv(d[[tcol]], d$event) ~ lp, reverse=TRUE)$concordance)
}
g <- d[[GROUPCOL]] > median(d[[GROUPCOL]])
for (tcol in c("time", "year")) {
  p(paste0("logrank_", tcol), survdiff(Surv(d[[tcol]], d$event) ~ g)$chisq)
  p(paste0("median_", tcol), summary(survfit(Surv(d[[tcol]], d$event) ~ g))$table[, "median"])
}
"""


def run_r(rscript, df, covs, groupcol, tmp_path):
    write(df, tmp_path / "data.csv")
    code = R_COX.replace("COVS", f'"{" + ".join(covs)}"').replace(
        "GROUPCOL", f'"{groupcol}"')
    return r_lines(rscript(code, cwd=tmp_path))


@pytest.mark.parametrize("dataset", ["gse7390", "nki70"])
def test_cox_concordance_logrank_match_r(dataset, request, rscript, tmp_path):
    df = request.getfixturevalue(dataset)
    if dataset == "gse7390":
        covs = ["age", "size", "er_pos", *GENES]
    else:
        df = df.assign(year=np.ceil(df["time"]))
        covs = [c for c in df.columns if c.startswith("num_")]
    r = run_r(rscript, df, covs, covs[-1], tmp_path)
    for tcol in ("time", "year"):
        for ties in ("breslow", "efron"):
            key = f"{tcol}_{ties}"
            fit = sv.cox_fit(df[covs], df[tcol], df["event"], ties=ties)
            np.testing.assert_allclose(fit.coef, r[f"coef_{key}"], atol=TOL, rtol=0)
            np.testing.assert_allclose(fit.se, r[f"se_{key}"], atol=TOL, rtol=0)
            np.testing.assert_allclose([fit.loglik_null, fit.loglik], r[f"loglik_{key}"],
                                       atol=TOL, rtol=0)
            c, _ = discrimination.concordance(df[tcol], df["event"], fit.predict(df[covs]))
            assert c == pytest.approx(r[f"cindex_{key}"][0], abs=1e-10)
        g = (df[covs[-1]] > df[covs[-1]].median()).to_numpy()
        chisq, _, _ = sv.logrank(df[tcol], df["event"], g)
        assert chisq[0] == pytest.approx(r[f"logrank_{tcol}"][0], abs=1e-8)
        medians = [sv.km_median(df[tcol][g == k], df["event"][g == k]) for k in (False, True)]
        np.testing.assert_allclose(medians, r[f"median_{tcol}"], atol=1e-10)



R_KM = r"""
suppressMessages(library(survival))
d <- read.csv("data.csv")
p <- function(name, x) cat(name, formatC(x, digits=15, format="g"), "\n")
for (tcol in c("time", "year")) {
  s <- survfit(Surv(d[[tcol]], d$event) ~ 1, conf.type="log-log")
  p(paste0("time_", tcol), s$time); p(paste0("nrisk_", tcol), s$n.risk)
  p(paste0("surv_", tcol), s$surv)
  p(paste0("lower_", tcol), s$lower); p(paste0("upper_", tcol), s$upper)
}
"""


@pytest.mark.parametrize("dataset", ["gse7390", "nki70"])
def test_km_curve_matches_r_survfit_log_log_band(dataset, request, rscript, tmp_path):
    df = request.getfixturevalue(dataset)
    df = df.assign(year=np.ceil(df["time"] / (365.25 if dataset == "gse7390" else 1)))
    write(df[["time", "year", "event"]], tmp_path / "data.csv")
    r = r_lines(rscript(R_KM, cwd=tmp_path))
    for tcol in ("time", "year"):
        km = sv.km_curve(df[tcol], df["event"]).iloc[1:]  # R starts at the first time
        np.testing.assert_allclose(km["time"], r[f"time_{tcol}"], rtol=1e-12)
        np.testing.assert_array_equal(km["n_risk"], r[f"nrisk_{tcol}"])
        np.testing.assert_allclose(km["survival"], r[f"surv_{tcol}"], atol=1e-12)
        for side in ("lower", "upper"):
            np.testing.assert_allclose(km[side], r[f"{side}_{tcol}"], atol=1e-8)

def test_breslow_differs_from_efron_on_tied_years(gse7390):
    covs = ["age", "size", "er_pos", *GENES]
    b = sv.cox_fit(gse7390[covs], gse7390["year"], gse7390["event"], ties="breslow")
    e = sv.cox_fit(gse7390[covs], gse7390["year"], gse7390["event"], ties="efron")
    assert np.max(np.abs(b.coef - e.coef)) > 1e-3


@pytest.mark.parametrize("dataset", ["gse7390", "nki70"])
def test_td_auc_matches_scikit_survival(dataset, request):
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.util import Surv

    df = request.getfixturevalue(dataset)
    covs = (["age", "size", "er_pos", *GENES] if dataset == "gse7390"
            else [c for c in df.columns if c.startswith("num_")])
    marker = sv.cox_fit(df[covs], df["time"], df["event"]).predict(df[covs])
    y = Surv.from_arrays(df["event"].astype(bool), df["time"])
    t = df["time"].to_numpy()
    times = np.quantile(t[df["event"] == 1], [0.2, 0.4, 0.6, 0.8])
    want, _ = cumulative_dynamic_auc(y, y, marker, times)
    got = discrimination.cumulative_dynamic_auc(df["time"], df["event"], marker, times)
    np.testing.assert_allclose(got, want, atol=1e-3)
    # A single gene as the marker, too.
    gene = df[covs[-1]].to_numpy()
    want, _ = cumulative_dynamic_auc(y, y, gene, times)
    got = discrimination.cumulative_dynamic_auc(df["time"], df["event"], gene, times)
    np.testing.assert_allclose(got, want, atol=1e-3)


def test_concordance_matches_scikit_survival_harrell(gse7390):
    from sksurv.metrics import concordance_index_censored

    df = gse7390
    marker = np.round(df["age"].to_numpy() / 5)  # ties in the marker count one half
    want = concordance_index_censored(df["event"].astype(bool), df["year"],
                                                     marker)[0]
    got = discrimination.concordance(df["year"], df["event"], marker)[0]
    assert got == pytest.approx(want, abs=1e-12)


def test_filter_by_expr_matches_edger(rscript, tmp_path):
    rng = np.random.default_rng(11)
    mu = np.exp(rng.normal(2, 2.5, 600))[:, None] * rng.uniform(0.5, 2, 40)[None, :]
    counts = rng.poisson(mu)
    pd.DataFrame(counts).to_csv(tmp_path / "counts.csv", index=False)
    out = rscript('suppressMessages(library(edgeR)); y <- as.matrix(read.csv("counts.csv"));'
                  'cat(as.integer(suppressMessages(filterByExpr(y))))', packages=["edgeR"],
                  cwd=tmp_path)
    want = np.array(out.split(), dtype=int).astype(bool)
    got = inputs.filter_by_expr(counts)
    assert 0 < want.sum() < len(want)
    np.testing.assert_array_equal(got, want)


# WGCNA 1.72's scaleFreeFitIndex and pickSoftThreshold's signed R^2 (base R only), so the
# reference runs without installing WGCNA and its 85 Debian dependencies.
R_SFT = r"""
scaleFreeFitIndex <- function(k, nBreaks=10) {
  discretized.k <- cut(k, nBreaks)
  dk <- tapply(k, discretized.k, mean)
  p.dk <- as.vector(tapply(k, discretized.k, length) / length(k))
  breaks1 <- seq(from=min(k), to=max(k), length=nBreaks + 1)
  hist1 <- suppressWarnings(hist(k, breaks=breaks1, equidist=FALSE, plot=FALSE, right=TRUE))
  dk2 <- hist1$mids
  dk <- ifelse(is.na(dk), dk2, dk)
  dk <- ifelse(dk == 0, dk2, dk)
  p.dk <- ifelse(is.na(p.dk), 0, p.dk)
  log.dk <- as.vector(log10(dk))
  log.p.dk <- as.numeric(log10(p.dk + 1e-09))
  lm1 <- lm(log.p.dk ~ log.dk)
  c(summary(lm1)$r.squared, summary(lm1)$coefficients[2, 1])
}
x <- as.matrix(read.csv("expr.csv"))
for (p in 1:12) {
  k <- colSums(abs(cor(x))^p) - 1
  f <- scaleFreeFitIndex(k)
  cat(formatC(c(p, -sign(f[2]) * f[1], f[2], mean(k)), digits=15, format="g"), "\n")
}
"""


def test_soft_threshold_fit_matches_wgcna_code(rscript, tmp_path, nki70):
    from bloodsig.stats import coexpression

    expr = nki70.drop(columns=["time", "event"])
    rng = np.random.default_rng(2)
    # Add correlated noise genes so that the network has structure at every power.
    extra = expr.to_numpy() @ rng.normal(size=(expr.shape[1], 40)) + rng.normal(
        size=(len(expr), 40))
    expr = pd.concat([expr, pd.DataFrame(extra, columns=[f"N{i}" for i in range(40)])], axis=1)
    expr.to_csv(tmp_path / "expr.csv", index=False)
    want = np.array([line.split() for line in rscript(R_SFT, cwd=tmp_path).strip().splitlines()],
                    dtype=float)
    _, table = coexpression.pick_soft_threshold(expr, powers=range(1, 13))
    np.testing.assert_allclose(table[["power", "sft_r2", "slope", "mean_k"]].to_numpy(), want,
                               atol=1e-8)
