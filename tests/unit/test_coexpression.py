"""bloodsig.stats.coexpression: scale-free fit, TOM, modules, eigengenes and hubs (WGCNA-like)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.stats import coexpression as co


def modular_expression(n=120, sizes=(30, 20), n_free=25, seed=5):
    """Modules of genes driven by one latent factor each (loadings vary), plus free genes."""
    rng = np.random.default_rng(seed)
    cols, truth, loading = [], [], []
    for m, size in enumerate(sizes, start=1):
        f = rng.normal(size=n)
        w = np.linspace(0.95, 0.75, size)
        for k in range(size):
            cols.append(w[k] * f + np.sqrt(1 - w[k] ** 2) * rng.normal(size=n))
            truth.append(m)
            loading.append(w[k])
    for _ in range(n_free):
        cols.append(rng.normal(size=n))
        truth.append(0)
        loading.append(0.0)
    expr = pd.DataFrame(np.column_stack(cols), columns=[f"G{i:03d}" for i in range(len(cols))])
    return expr, np.array(truth), np.array(loading)


def test_tom_by_definition():
    rng = np.random.default_rng(0)
    a = np.abs(np.corrcoef(rng.normal(size=(6, 30)))) ** 3
    tom = co.tom_similarity(a)
    a0 = a.copy()
    np.fill_diagonal(a0, 0)
    k = a0.sum(axis=0)
    for i in range(6):
        for j in range(6):
            if i != j:
                shared = sum(a0[i, u] * a0[u, j] for u in range(6) if u not in (i, j))
                want = (shared + a0[i, j]) / (min(k[i], k[j]) + 1 - a0[i, j])
                assert tom[i, j] == pytest.approx(want)
    assert np.all(np.diag(tom) == 1)


def test_modules_recovered_and_hubs_are_top_kme():
    expr, truth, loading = modular_expression()
    res = co.coexpression_hubs(expr, power=6, cut_height=0.9, min_module_size=10,
                               hub_fraction=0.1)
    table = res.table
    # Each planted module is one detected module; free genes stay unassigned.
    detected = []
    for m in (1, 2):
        found = table["module"][truth == m]
        main = found.mode().iloc[0]
        assert main > 0 and (found == main).mean() >= 0.9 and set(found) <= {0, main}
        detected.append(main)
    assert detected == [1, 2]  # the larger module is numbered first
    assert (table["module"][truth == 0] == 0).mean() > 0.9
    # Hubs: ceil(10%) of each module, the highest kME ones (the strongest loadings).
    for m in (1, 2):
        sel = table[table["module"] == m]
        hubs = sel[sel["hub"]]
        assert len(hubs) == int(np.ceil(0.1 * len(sel)))
        assert hubs["kME"].min() >= sel.loc[~sel["hub"], "kME"].max()
        assert np.corrcoef(sel["kME"], loading[sel.index])[0, 1] > 0.7
    assert table.loc[table["module"] == 0, "hub"].all()
    assert res.eigengenes.shape == (len(expr), table["module"].max())


def test_pick_soft_threshold_reports_every_power_and_honours_cutoff():
    expr, _, _ = modular_expression()
    power, table = co.pick_soft_threshold(expr, powers=range(1, 11), r2_cutoff=0.0)
    assert table["power"].tolist() == list(range(1, 11))
    assert power == table.loc[table["sft_r2"] >= 0, "power"].iloc[0]
    assert (np.diff(table["mean_k"]) < 0).all()
    power, table = co.pick_soft_threshold(expr, powers=range(1, 11), r2_cutoff=1.01)
    assert power == 6  # WGCNA's advice for unsigned networks of 40 samples or more
    assert [co.fallback_power(n) for n in (15, 25, 35, 120)] == [9, 8, 7, 6]


def test_eigengene_sign_follows_module_average():
    expr, truth, _ = modular_expression()
    me = co.eigengenes(expr, truth)
    for m in (1, 2):
        avg = expr.loc[:, truth == m].mean(axis=1)
        assert np.corrcoef(me[f"ME{m}"], avg)[0, 1] > 0.9
