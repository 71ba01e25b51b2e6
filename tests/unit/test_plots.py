"""Figures: each function returns a Figure whose artists show what the data says."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from bloodsig.core.io import save_figure
from bloodsig.de.sexdiff import sex_interaction_flags
from bloodsig.plots.de import (
    de_classes,
    ma_plot,
    pvalue_histogram,
    sex_logfc_scatter,
    top_deg_heatmap,
    volcano,
)
from bloodsig.plots.qc import pca_panels, sex_check_scatter
from bloodsig.qc.expression import pca

N_UP, N_DOWN, N_NULL = 25, 15, 460


def _points(fig: Figure, gid: str) -> int:
    return sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections
               if isinstance(c, PathCollection) and c.get_gid() == gid)


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.fixture(scope="module")
def toptable():
    rng = np.random.default_rng(5)
    n = N_UP + N_DOWN + N_NULL
    logfc = np.concatenate([rng.uniform(1, 3, N_UP), -rng.uniform(1, 3, N_DOWN),
                            rng.normal(0, 0.2, N_NULL)])
    p = np.concatenate([10 ** -rng.uniform(6, 12, N_UP + N_DOWN), rng.uniform(0.01, 1, N_NULL)])
    return pd.DataFrame({
        "gene_id": [f"G{i:04d}" for i in range(n)], "gene_name": [f"GENE{i}" for i in range(n)],
        "logFC": logfc, "AveExpr": rng.uniform(0, 12, n), "P.Value": p,
        "adj.P.Val": np.where(np.arange(n) < N_UP + N_DOWN, 1e-4, 0.5), "t": logfc / 0.2,
    })


def test_de_classes(toptable):
    cls = de_classes(toptable, fdr=0.05)
    assert (cls == "up").sum() == N_UP and (cls == "down").sum() == N_DOWN


def test_volcano_highlights_every_deg_and_labels_top(toptable):
    fig = volcano(toptable, fdr=0.05, lfc=0.5, n_labels=10)
    assert isinstance(fig, Figure)
    assert _points(fig, "up") == N_UP and _points(fig, "down") == N_DOWN
    assert _points(fig, "ns") == N_NULL
    assert len(_texts(fig)) == 10
    ax = fig.axes[0]
    assert f"{N_UP} up, {N_DOWN} down" in ax.get_title()
    assert len(ax.lines) == 3  # FDR line and the two |logFC| lines
    assert ax.get_xlabel() and ax.get_ylabel()


def test_ma_plot_and_histogram(toptable):
    fig = ma_plot(toptable, fdr=0.05)
    assert _points(fig, "up") == N_UP and _points(fig, "down") == N_DOWN
    assert f"{N_UP} up" in fig.axes[0].get_title()
    hist = pvalue_histogram(toptable, bins=20)
    ax = hist.axes[0]
    assert len(ax.patches) == 20
    assert sum(p.get_height() for p in ax.patches) == len(toptable)
    assert ax.lines[0].get_ydata()[0] == pytest.approx(len(toptable) / 20)


def test_heatmap_top_up_and_down(toptable):
    rng = np.random.default_rng(2)
    samples = [f"S{i}" for i in range(12)]
    groups = pd.Series(np.tile(["case", "control"], 6), index=samples)
    logexpr = pd.DataFrame(rng.normal(size=(len(toptable), 12)), index=toptable["gene_id"],
                           columns=samples)
    fig = top_deg_heatmap(logexpr, toptable, groups, n_up=10, n_down=10)
    heat = next(im for ax in fig.axes for im in ax.images if im.get_gid() == "heatmap")
    z = heat.get_array()
    assert z.shape == (20, 12)
    np.testing.assert_allclose(np.asarray(z).mean(axis=1), 0, atol=1e-12)
    bar = next(im for ax in fig.axes for im in ax.images if im.get_gid() == "group_bar")
    assert list(np.asarray(bar.get_array())[0]) == [0] * 6 + [1] * 6  # ordered by group
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    up = toptable.iloc[:N_UP].nsmallest(10, "P.Value")["gene_name"].tolist()
    assert labels[:10] == up
    few = top_deg_heatmap(logexpr, toptable.iloc[N_UP - 3:], groups)  # 3 up, 10 down
    assert next(im for ax in few.axes for im in ax.images
                if im.get_gid() == "heatmap").get_array().shape == (13, 12)
    none = toptable.assign(**{"adj.P.Val": 1.0})
    empty = top_deg_heatmap(logexpr, none, groups)
    assert not [im for ax in empty.axes for im in ax.images]
    assert "no DEGs" in empty.axes[0].texts[0].get_text()


def test_sex_logfc_scatter_draws_flags(toptable):
    # The first 5 genes have no effect in women (a small logFC keeps SE = logFC / t defined).
    female = toptable.assign(logFC=toptable["logFC"].where(np.arange(len(toptable)) >= 5, 0.01))
    female["t"] = female["logFC"] / 0.2
    flags = sex_interaction_flags(toptable, female)
    fig = sex_logfc_scatter(flags, n_labels=3)
    assert _points(fig, "flagged") == int(flags["flagged"].sum()) >= 5
    assert _points(fig, "flagged") + _points(fig, "not_flagged") == len(flags)
    assert len(_texts(fig)) == 3


def _sex_table():
    table = pd.DataFrame({
        "sample_id": [f"S{i}" for i in range(8)],
        "xist": [7.0, 7.2, 6.8, 7.1, -3.0, -2.8, -3.1, -2.9],
        "chry": [-5.0, -5.1, -4.9, -5.2, 5.0, 5.2, 4.8, 5.1],
        "recorded_sex": ["female", "female", "male", "female", "male", "male", "female", None],
    })
    table["score"] = table["chry"] - table["xist"]
    table["predicted_sex"] = np.where(table["score"] > 0, "male", "female")
    table["mismatch"] = table["recorded_sex"].notna() & (
        table["recorded_sex"] != table["predicted_sex"])
    table["threshold"] = 0.0
    return table


def test_sex_check_line_at_the_threshold_of_the_check(tmp_path):
    """The dashed decision line is drawn at the threshold the check used, also from the
    sample report read back from its TSV (a DataFrame's attrs would not survive that)."""
    table = _sex_table().assign(threshold=-2.5)
    path = tmp_path / "sample_report.tsv"
    table.to_csv(path, sep="\t", index=False)
    fig = sex_check_scatter(pd.read_csv(path, sep="\t"))
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "--"]
    assert np.allclose(line.get_ydata() - line.get_xdata(), -2.5)
    assert line.get_label() == "chrY - XIST = -2.50"


def test_sex_check_scatter_rings_mismatches():
    fig = sex_check_scatter(_sex_table())
    assert _points(fig, "mismatch") == 2
    assert sorted(_texts(fig)) == ["S2", "S6"]
    assert _points(fig, "inferred:male") == 1  # S7: not recorded, inferred male, hollow
    assert "2 mismatch" in fig.axes[0].get_title()


def test_pca_panels_layout():
    rng = np.random.default_rng(0)
    samples = pd.DataFrame({"group": np.repeat(["case", "control"], 5),
                            "batch": np.tile(["b1", "b2"], 5)},
                           index=[f"S{i}" for i in range(10)])
    expr = pd.DataFrame(rng.normal(size=(50, 10)), columns=samples.index)
    pcas = {"before filtering": pca(expr), "after filtering": pca(expr.iloc[:30])}
    fig = pca_panels(pcas, samples)  # library_type absent: two columns
    assert len(fig.axes) == 4
    for ax in fig.axes:
        assert sum(len(c.get_offsets()) for c in ax.collections) == 10
        assert "%" in ax.get_xlabel()
    assert _points(fig, "pca:case") == 10  # 5 per panel in the two group panels


def test_figures_are_deterministic(toptable):
    def png(fig):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
        return buf.getvalue()

    assert png(volcano(toptable)) == png(volcano(toptable))


def test_save_figure_works_with_house_figures(toptable, tmp_path):
    save_figure(volcano(toptable), tmp_path / "v.png")
    assert (tmp_path / "v.png").stat().st_size > 1000
