"""Formula parsing, model matrices named as R names them, refusals, contrasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.core.errors import InputError
from bloodsig.stats import design as dz


@pytest.fixture
def samples():
    rng = np.random.default_rng(0)
    n = 12
    return pd.DataFrame({
        "group": ["control", "ALS"] * (n // 2),
        "age": rng.normal(60, 8, n),
        "sex": ["male", "female", "female", "male"] * (n // 4),
        "smoker": [True, True, False, False, False, True] * (n // 6),
        "batch": pd.Categorical(["p2", "p1", "p3"] * (n // 3), categories=["p2", "p1", "p3"]),
    }, index=[f"S{i}" for i in range(n)])


def test_parse_formula_forms():
    assert dz.parse_formula("~ group + age") == dz.Formula(("group", "age"), True)
    assert dz.parse_formula("~0+group+age") == dz.Formula(("group", "age"), False)
    assert dz.parse_formula("~ group + age - 1") == dz.Formula(("group", "age"), False)
    assert dz.parse_formula("~ 1 + gPC1") == dz.Formula(("gPC1",), True)
    assert dz.parse_formula("~ 1") == dz.Formula((), True)


@pytest.mark.parametrize("formula,token", [
    ("~ group * age", "'*'"), ("~ group:age", "':'"), ("~ log(age)", "'('"),
    ("y ~ group", "'y'"), ("~ group +", "'+'"), ("~ group age", "'age'"),
    ("~ group + group", "'group'"), ("~ 2 + group", "'2'"),
])
def test_parse_formula_names_bad_token(formula, token):
    with pytest.raises(InputError) as err:
        dz.parse_formula(formula)
    assert token in str(err.value) and formula in str(err.value)


def test_model_matrix_treatment_coding_like_r(samples):
    x = dz.model_matrix("~ group + age + sex + smoker + batch", samples)
    # sorted levels give references ALS, female, FALSE; a categorical keeps its categories' order
    assert list(x.columns) == ["(Intercept)", "groupcontrol", "age", "sexmale", "smokerTRUE",
                               "batchp1", "batchp3"]
    np.testing.assert_array_equal(x["groupcontrol"], (samples["group"] == "control") * 1.0)
    np.testing.assert_array_equal(x["smokerTRUE"], samples["smoker"] * 1.0)
    np.testing.assert_array_equal(x["age"], samples["age"])
    assert list(x.index) == list(samples.index)
    x = dz.model_matrix("~ group + sex", samples, {"group": "control", "sex": "male"})
    assert list(x.columns) == ["(Intercept)", "groupALS", "sexfemale"]


def test_model_matrix_without_intercept_codes_first_factor_fully(samples):
    x = dz.model_matrix("~ 0 + group + sex", samples, {"group": "control"})
    assert list(x.columns) == ["groupcontrol", "groupALS", "sexmale"]
    np.testing.assert_array_equal(x[["groupcontrol", "groupALS"]].sum(axis=1), 1.0)


def test_model_matrix_refusals(samples):
    with pytest.raises(InputError, match="'CD8T'"):
        dz.model_matrix("~ group + CD8T", samples)
    bad = samples.copy()
    bad.loc["S5", "age"] = np.nan
    with pytest.raises(InputError, match="S5") as err:
        dz.model_matrix("~ group + age", bad)
    assert "'age'" in str(err.value)
    one = samples.assign(site="A")
    with pytest.raises(InputError, match="single level") as err:
        dz.model_matrix("~ group + site", one)
    assert "'site'" in str(err.value)
    with pytest.raises(InputError, match="reference level 'PMA'"):
        dz.model_matrix("~ group", samples, {"group": "PMA"})


def test_rank_deficient_design_names_aliased_column(samples):
    s = samples.assign(age_months=samples["age"] * 12, cohort=samples["group"].map(
        {"control": "c1", "ALS": "c2"}))
    with pytest.raises(InputError, match="age_months") as err:
        dz.model_matrix("~ group + age + age_months", s)
    assert "not of full rank" in str(err.value)
    with pytest.raises(InputError, match="cohortc2"):
        dz.model_matrix("~ group + cohort", s)
    # full-rank designs with wildly different column scales are accepted
    dz.model_matrix("~ group + age", s.assign(age=s["age"] * 1e6))


def test_check_group_sizes(samples):
    sizes = dz.check_group_sizes(samples, "group")
    assert sizes.to_dict() == {"ALS": 6, "control": 6}
    small = samples.iloc[:4]
    with pytest.raises(InputError, match="'ALS' has 2") as err:
        dz.check_group_sizes(small, "group")
    assert "'group'" in str(err.value)


def test_contrast_vector():
    cols = ["(Intercept)", "groupALS", "groupPMA", "age"]
    np.testing.assert_array_equal(dz.contrast_vector("groupALS", cols), [0, 1, 0, 0])
    np.testing.assert_array_equal(dz.contrast_vector("groupALS - groupPMA", cols), [0, 1, -1, 0])
    np.testing.assert_array_equal(dz.contrast_vector("0.5*groupALS + 0.5*groupPMA", cols),
                                  [0, 0.5, 0.5, 0])
    np.testing.assert_array_equal(dz.contrast_vector("-groupALS", cols), [0, -1, 0, 0])
    with pytest.raises(InputError, match="'groupXYZ' is not a design column"):
        dz.contrast_vector("groupALS - groupXYZ", cols)
    with pytest.raises(InputError, match="'/'"):
        dz.contrast_vector("groupALS / 2", cols)
    with pytest.raises(InputError, match="ends after"):
        dz.contrast_vector("groupALS -", cols)
