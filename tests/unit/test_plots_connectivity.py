"""bloodsig.plots.connectivity: what the UpSet and network figures draw."""

import pandas as pd

from bloodsig.plots.connectivity import drug_target_network, upset


def test_upset_bars_count_exclusive_intersections():
    sets = {"blood": {"A", "B", "C", "D"}, "neurons": {"A", "B", "E"}, "cord": {"A", "C", "E"}}
    fig = upset(sets)
    heights = [int(p.get_height()) for p in fig.axes[0].patches
               if p.get_gid() == "intersections"]
    # all three: A; blood&neurons only: B; blood&cord only: C; neurons&cord only: E; blood: D
    assert heights == [1, 1, 1, 1, 1, 0, 0]


def test_network_links_candidates_to_targets():
    cands = pd.DataFrame({"pert_name": ["x", "y"], "target": ["T1|T2", "T2"], "ncs": [-2, -1]})
    fig = drug_target_network(cands, core={"T2"})
    ax = fig.axes[0]
    drugs = [c for c in ax.collections if c.get_gid() == "drugs"][0]
    targets = [c for c in ax.collections if c.get_gid() == "targets"][0]
    assert len(drugs.get_offsets()) == 2 and len(targets.get_offsets()) == 2
    assert len(ax.lines) == 3
    empty = drug_target_network(cands.iloc[:0])
    assert "no candidate" in empty.axes[0].texts[0].get_text()
