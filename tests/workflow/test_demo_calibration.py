"""Demo run, calibration (issue 18): the demo is as hard as the study within the demo's bands,
and the recovery of its planted truth is measured beside."""

import pandas as pd
import pytest

from bloodsig.report.calibration import COLUMNS

pytestmark = pytest.mark.slow


def test_demo_calibration_within_bands(demo):
    table = pd.read_csv(demo / "results/discovery/report/calibration.tsv", sep="\t")
    bands = pd.read_csv(demo / "resources/calibration.tsv", sep="\t")
    print(table[["statistic", "study", "low", "high", "value", "within_band"]].to_string())
    assert table.columns.tolist() == COLUMNS
    assert table["statistic"].tolist() == bands["statistic"].tolist()
    assert table["low"].tolist() == bands["demo_low"].tolist()
    outside = table[table["within_band"] != "yes"]
    assert outside.empty, outside.to_string()
    truth = set(table["statistic"][table["statistic"].str.startswith("truth_")])
    assert truth == {"truth_fdp", "truth_power", "truth_panel_planted_fraction",
                     "truth_c_true_risk"}
    page = (demo / "results/report.html").read_text()
    assert f"{len(table)} of {len(table)} rows within their band" in page
    assert "the wider bands of the demo scale" in page
    # no model of the survival stage does better than the true risk
    value = table.set_index("statistic")["value"]
    gain = max(value["survival_c_gain_stepwise"], value["survival_c_gain_xgboost"])
    assert value["survival_c_clinical"] + gain < value["truth_c_true_risk"]
