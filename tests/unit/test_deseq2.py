"""The pydeseq2 engine's wrapping: design preparation, output columns, input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.core.errors import InputError
from bloodsig.stats.deseq2 import deseq2_wald, prepare_design


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n_genes, n = 300, 10
    design = pd.DataFrame({"condition": np.repeat(["ctrl", "case"], n // 2),
                           "age": rng.uniform(30, 80, n), "batch": np.tile(["a", "b"], n // 2)},
                          index=[f"S{i}" for i in range(n)])
    mu = rng.uniform(20, 2000, n_genes)[:, None] * np.ones(n)
    mu[:20, design["condition"].to_numpy() == "case"] *= 4.0  # 20 planted up-regulated genes
    counts = pd.DataFrame(rng.negative_binomial(10, 10 / (10 + mu)),
                          index=pd.Index([f"G{i:03d}" for i in range(n_genes)], name="gene_id"),
                          columns=design.index)
    return counts, design


def test_prepare_design_scales_numeric_covariates(data):
    _, design = data
    meta = prepare_design(design, "~ age + batch + condition", "condition")
    assert list(meta.columns) == ["age", "batch", "condition"]
    assert meta["age"].mean() == pytest.approx(0, abs=1e-12)
    assert meta["age"].std(ddof=1) == pytest.approx(1)
    with pytest.raises(InputError, match="'sex'"):
        prepare_design(design, "~ sex + condition", "condition")
    with pytest.raises(InputError, match="missing value"):
        prepare_design(design.assign(age=design["age"].where(design.index != "S3")),
                       "~ age + condition", "condition")


@pytest.mark.slow  # fits pydeseq2 (tens of seconds on 2 cores)
def test_deseq2_wald_limma_columns_and_planted_genes(data, capfd):
    counts, design = data
    tt = deseq2_wald(counts, design, "~ age + batch + condition", ("condition", "case", "ctrl"))
    assert capfd.readouterr() == ("", "")  # pydeseq2 kept quiet
    assert list(tt.columns) == ["gene_id", "logFC", "AveExpr", "t", "P.Value", "adj.P.Val",
                                "B", "baseMean", "lfcSE"]
    assert list(tt["gene_id"]) == list(counts.index) and tt["B"].isna().all()
    np.testing.assert_allclose(tt["AveExpr"], np.log2(tt["baseMean"] + 1))
    np.testing.assert_allclose(tt["t"], tt["logFC"] / tt["lfcSE"], rtol=1e-6)
    sig = set(tt.loc[tt["adj.P.Val"] < 0.05, "gene_id"])
    assert {f"G{i:03d}" for i in range(20)} <= sig and len(sig) <= 25
    assert (tt["logFC"].iloc[:20] > 1.5).all()
    again = deseq2_wald(counts, design, "~ age + batch + condition", ("condition", "case", "ctrl"))
    pd.testing.assert_frame_equal(tt, again)


def test_deseq2_wald_errors(data):
    counts, design = data
    with pytest.raises(InputError, match="'treated' does not occur"):
        deseq2_wald(counts, design, "~condition", ("condition", "treated", "ctrl"))
    with pytest.raises(InputError, match="not in the design"):
        deseq2_wald(counts, design.iloc[:-1], "~condition", ("condition", "case", "ctrl"))


@pytest.mark.slow  # fits pydeseq2 (tens of seconds on 2 cores)
def test_aliased_columns_dropped_and_confounding_refused(data, caplog):
    counts, design = data
    nested = design.assign(prep=design["batch"].map({"a": "polyA", "b": "rRNA"}))
    with caplog.at_level("WARNING", logger="bloodsig.stats.deseq2"):
        tt = deseq2_wald(counts, nested, "~ batch + prep + condition",
                         ("condition", "case", "ctrl"))
    assert "dropped: prep[T.rRNA]" in caplog.text
    base = deseq2_wald(counts, design, "~ batch + condition", ("condition", "case", "ctrl"))
    np.testing.assert_allclose(tt["logFC"], base["logFC"], atol=1e-6)
    confounded = design.assign(batch=design["condition"])
    with pytest.raises(InputError, match="confounded"):
        deseq2_wald(counts, confounded, "~ batch + condition", ("condition", "case", "ctrl"))


@pytest.mark.slow  # fits pydeseq2 (tens of seconds on 2 cores)
def test_no_intercept_and_numeric_factor(data):
    counts, design = data
    tt = deseq2_wald(counts, design, "~ condition", ("condition", "case", "ctrl"))
    no_int = deseq2_wald(counts, design, "~ 0 + condition", ("condition", "case", "ctrl"))
    np.testing.assert_allclose(no_int["logFC"], tt["logFC"], atol=1e-3)
    coded = design.assign(condition=design["condition"].map({"ctrl": 0, "case": 1}))
    numeric = deseq2_wald(counts, coded, "~ condition", ("condition", "1", "0"))
    np.testing.assert_allclose(numeric["logFC"], tt["logFC"], atol=1e-9)
