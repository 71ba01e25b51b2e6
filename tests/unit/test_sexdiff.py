"""Sex-by-disease interaction flags: planted sex-specific genes are found, null genes are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.core.errors import InputError
from bloodsig.de.sexdiff import sex_interaction_flags

N_GENES, PLANTED, SE = 2000, 40, 0.1


def _tables(seed=3):
    rng = np.random.default_rng(seed)
    ids = [f"G{i:05d}" for i in range(N_GENES)]
    shared = rng.normal(0, 0.5, N_GENES)  # the same disease effect in both sexes
    male_true, female_true = shared.copy(), shared.copy()
    male_true[:PLANTED // 2] += 1.0  # effect only (or more) in men
    female_true[PLANTED // 2:PLANTED] -= 1.0  # effect only in women
    se_m = SE * rng.uniform(0.8, 1.2, N_GENES)
    se_f = SE * rng.uniform(0.8, 1.2, N_GENES)
    lm = male_true + rng.normal(0, se_m)
    lf = female_true + rng.normal(0, se_f)
    male = pd.DataFrame({"gene_id": ids, "gene_name": [f"N{i}" for i in range(N_GENES)],
                         "logFC": lm, "t": lm / se_m})
    female = pd.DataFrame({"logFC": lf, "t": lf / se_f}, index=pd.Index(ids, name="gene_id"))
    return male, female, se_m, se_f


def test_planted_genes_flagged_and_nulls_not():
    male, female, se_m, se_f = _tables()
    flags = sex_interaction_flags(male, female, fdr=0.05)
    planted = set(male["gene_id"][:PLANTED])
    flagged = set(flags.index[flags["flagged"]])
    assert planted <= flagged
    assert len(flagged - planted) <= 5  # BH at 5%: about 2 false discoveries expected
    np.testing.assert_allclose(flags["se_male"], se_m)
    np.testing.assert_allclose(flags["se_female"], se_f)
    assert list(flags.columns[:3]) == ["gene_name", "logFC_male", "logFC_female"]


def test_z_and_bh_by_hand():
    male = pd.DataFrame({"logFC": [1.0, 0.5, 0.0, 2.0], "t": [10.0, 5.0, 0.0, 4.0]},
                        index=["a", "b", "c", "d"])
    female = pd.DataFrame({"logFC": [0.0, 0.5, 0.3, 2.0], "t": [-1e-9, 5.0, 3.0, 4.0]},
                          index=["a", "b", "c", "d"])
    out = sex_interaction_flags(male, female)
    # a: SE_f = 0/1e-9 = 0, so z = 1 / 0.1; c: t = 0 gives no SE -> NaN, not flagged.
    assert out.at["a", "z"] == pytest.approx(10.0)
    assert out.at["b", "z"] == pytest.approx(0.0)
    assert np.isnan(out.at["c", "z"]) and not out.at["c", "flagged"]
    p = out["P.Value"].dropna().to_numpy()
    order = np.argsort(p)
    bh = np.minimum.accumulate((p[order] * 3 / np.arange(1, 4))[::-1])[::-1]
    np.testing.assert_allclose(out["adj.P.Val"].dropna().to_numpy()[order], np.minimum(bh, 1))


def test_min_abs_diff_and_errors():
    male, female, _, _ = _tables()
    strict = sex_interaction_flags(male, female, min_abs_diff=0.9)
    loose = sex_interaction_flags(male, female)
    assert strict["flagged"].sum() < loose["flagged"].sum()
    assert (strict.loc[strict["flagged"], "diff"].abs() >= 0.9).all()
    with pytest.raises(InputError, match="'t'"):
        sex_interaction_flags(male.drop(columns="t"), female)
    with pytest.raises(InputError, match="share no gene"):
        sex_interaction_flags(male, female.set_axis([f"X{i}" for i in range(N_GENES)]))
