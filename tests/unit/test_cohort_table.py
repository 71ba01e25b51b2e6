"""Table 1: summaries, Unknown rows, and p-values equal to scipy's tests on the same columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bloodsig.core.cohort_table import cohort_table, to_html
from bloodsig.core.errors import InputError

VARS = {"continuous": ["age"], "categorical": ["sex", "batch"],
        "case_continuous": ["alsfrs_r"], "case_categorical": ["onset"]}


@pytest.fixture
def samples():
    rng = np.random.default_rng(3)
    n = 80
    group = np.where(np.arange(n) < 50, "ALS", "control")
    age = np.round(rng.normal(60, 10, n) + 4 * (group == "ALS"), 0)
    age[[3, 60]] = np.nan
    sex = rng.choice(["female", "male"], n).astype(object)
    sex[[5, 6, 70]] = None
    case = group == "ALS"
    return pd.DataFrame({
        "sample_id": [f"S{i}" for i in range(n)], "group": group, "age": age, "sex": sex,
        "batch": rng.choice(["B1", "B2", "B3"], n),
        "alsfrs_r": np.where(case, rng.integers(20, 48, n), np.nan),
        "onset": np.where(case, rng.choice(["bulbar", "spinal"], n), None),
    }).query("group != 'other'")


def test_p_values_agree_with_scipy(samples):
    table = cohort_table(samples, "group", "ALS", "control", VARS)
    case, ctrl = samples["group"] == "ALS", samples["group"] == "control"
    p = table.dropna(subset=["p_value"]).set_index("variable")["p_value"]
    want_age = stats.mannwhitneyu(samples.loc[case, "age"].dropna(),
                                  samples.loc[ctrl, "age"].dropna(),
                                  alternative="two-sided").pvalue
    assert p["age"] == pytest.approx(want_age, rel=1e-12)
    for column in ("sex", "batch"):
        known = samples.dropna(subset=[column])
        ct = pd.crosstab(known[column], known["group"]).to_numpy()
        want = stats.chi2_contingency(ct, correction=False).pvalue
        assert p[column] == pytest.approx(want, rel=1e-12)
    # Pearson's chi-squared without Yates: differs from the corrected test on a 2x2 table.
    known = samples.dropna(subset=["sex"])
    yates = stats.chi2_contingency(pd.crosstab(known["sex"], known["group"]).to_numpy()).pvalue
    assert p["sex"] != pytest.approx(yates, rel=1e-6)
    # Case-only variables are not tested.
    assert set(p.index) == {"age", "sex", "batch"}


def test_summaries_and_unknown_rows(samples):
    table = cohort_table(samples, "group", "ALS", "control", VARS)
    rows = table.set_index(["variable", "level"])
    assert rows.loc[("n", ""), "case"] == "50" and rows.loc[("n", ""), "control"] == "30"
    ages = samples.loc[samples["group"] == "ALS", "age"].dropna()
    q1, med, q3 = np.quantile(ages, [0.25, 0.5, 0.75])
    assert rows.loc[("age", "median (IQR)"), "case"] == f"{med:.1f} ({q1:.1f}, {q3:.1f})"
    assert rows.loc[("age", "Unknown"), "case"] == "1 (2.0%)"
    assert rows.loc[("sex", "Unknown"), "case"] == "2 (4.0%)"
    assert rows.loc[("sex", "Unknown"), "control"] == "1 (3.3%)"
    n_female = int(((samples["group"] == "ALS") & (samples["sex"] == "female")).sum())
    assert rows.loc[("sex", "female"), "case"] == f"{n_female} ({100 * n_female / 50:.1f}%)"
    # Case-only: controls' missing values are not "Unknown", and the control column is empty.
    assert ("alsfrs_r", "Unknown") not in rows.index
    assert rows.loc[("onset", "bulbar"), "control"] == ""
    html = to_html(table, "ALS", "control")
    assert "ALS (n=50)" in html and "<td>Unknown</td>" in html


def test_bad_input(samples):
    with pytest.raises(InputError, match="column 'height'"):
        cohort_table(samples, "group", "ALS", "control", {"continuous": ["height"]}, path="s.tsv")
    bad = samples.assign(age=samples["age"].astype(object))
    bad.loc[7, "age"] = "sixty"
    with pytest.raises(InputError, match=r"s.tsv, row 9, column 'age': 'sixty' is not a number"):
        cohort_table(bad, "group", "ALS", "control", VARS, path="s.tsv")
