"""bloodsig.plots.survival: KM curves with bands and numbers at risk; the td-AUC summary."""

import numpy as np
import pandas as pd

from bloodsig.plots.survival import km_plot, td_auc_plot


def test_km_plot_draws_each_group_and_numbers_at_risk():
    rng = np.random.default_rng(0)
    time = rng.exponential(30, 60)
    event = (rng.random(60) < 0.7).astype(int)
    groups = np.array(["shorter", "intermediate", "longer"] * 20)
    fig = km_plot(time, event, groups, title="t")
    curve_ax, table_ax = fig.axes
    assert {line.get_gid() for line in curve_ax.get_lines()} >= {"shorter", "intermediate",
                                                                 "longer"}
    assert len(curve_ax.collections) == 3  # one confidence band per group
    numbers = [t.get_text() for t in table_ax.texts]
    assert numbers[0] == "20"  # all 20 'shorter' cases at risk at time 0
    ticks = table_ax.get_xticks()
    assert np.all(ticks % 12 == 0) and ticks[-1] >= time.max()


def test_td_auc_plot_one_panel_per_variant():
    rows = [(v, s, m, "auc", t, 0.6 + 0.01 * s) for v in ("fixed", "honest") for s in (1, 2)
            for m in ("clinical", "stepwise") for t in (24, 36)]
    splits = pd.DataFrame(rows, columns=["variant", "split", "model", "metric", "time",
                                         "value"])
    fig = td_auc_plot(splits)
    assert [ax.get_title() for ax in fig.axes] == ["genes fixed", "genes honest"]
