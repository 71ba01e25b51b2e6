"""bloodsig.core.benchmarks: Snakemake benchmark files by rule and wildcards; slowest rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bloodsig.core import benchmarks
from bloodsig.core.errors import InputError
from bloodsig.plots import report as plots

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
# Patterns as Snakemake hands them over: the rule's and the global constraints written in.
PATTERNS = {
    "de_fit": "logs/{cohort,discovery|external}/de/{analysis,primary|cells}/de_fit.benchmark.tsv",
    "de_sex_comparison": "logs/{cohort,discovery|external}/de/de_sex_comparison.benchmark.tsv",
    "cutadapt": "logs/{cohort,discovery|external}/reads/cutadapt/{sample}_{unit}.benchmark.tsv",
    "enrich_compare": "logs/{cohort}/enrich/compare_{collection}.benchmark.tsv",
    "enrich_ora": "logs/{cohort}/enrich/{analysis}/ora_{collection}.benchmark.tsv",
    "connectivity_store": "logs/connectivity/connectivity_store.benchmark.tsv",
}


def _write(root, rel, *rows):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def _row(s, rss, cpu, load=50.0):
    return [s, "0:00:01", rss, rss * 2, rss, rss, 1.5, 0.25, load, cpu]


def test_pattern_regex_follows_constraints_and_repeats():
    rx = benchmarks.pattern_regex("logs/{cohort,a|b}/{x}/{x}.{n,\\d{2}}.tsv")
    assert rx.match("logs/a/q/q.12.tsv").groupdict() == {"cohort": "a", "x": "q", "n": "12"}
    assert rx.match("logs/c/q/q.12.tsv") is None  # outside the constraint
    assert rx.match("logs/a/q/r.12.tsv") is None  # a repeated wildcard repeats its value
    assert rx.match("logs/a/q/q.123.tsv") is None


def test_identify_names_rule_and_wildcards():
    rule, wc = benchmarks.identify("logs/discovery/reads/cutadapt/S1_L001.benchmark.tsv",
                                   PATTERNS)
    assert rule == "cutadapt"
    # {sample}_{unit} is split as Snakemake's regex splits it (greedy sample)
    assert wc == {"cohort": "discovery", "sample": "S1", "unit": "L001"}
    assert benchmarks.identify("logs/discovery/de/primary/de_fit.benchmark.tsv", PATTERNS) == (
        "de_fit", {"cohort": "discovery", "analysis": "primary"})
    # an analysis the config no longer defines, a rule that no longer exists
    assert benchmarks.identify("logs/discovery/de/old/de_fit.benchmark.tsv", PATTERNS) is None
    assert benchmarks.identify("logs/discovery/gone.benchmark.tsv", PATTERNS) is None


def test_identify_prefers_the_most_specific_pattern():
    patterns = {"generic": "logs/{cohort}/{what}.benchmark.tsv",
                "specific": "logs/{cohort}/de/de_sex_comparison.benchmark.tsv"}
    assert benchmarks.identify("logs/x/de/de_sex_comparison.benchmark.tsv", patterns) == (
        "specific", {"cohort": "x"})
    assert benchmarks.identify("logs/x/other.benchmark.tsv", patterns) == (
        "generic", {"cohort": "x", "what": "other"})


def test_gather_reads_every_file_of_a_known_rule(tmp_path):
    files = [
        _write(tmp_path, "logs/discovery/de/primary/de_fit.benchmark.tsv", _row(12.5, 800, 20)),
        _write(tmp_path, "logs/discovery/de/cells/de_fit.benchmark.tsv", _row(7.5, 900, 11)),
        _write(tmp_path, "logs/external/reads/cutadapt/S2_L1.benchmark.tsv",
               ["0.2", "0:00:00", "NA", "NA", "NA", "NA", "NA", "NA", "NA", "NA"]),
        # repeat(): two rows of one job, mean time and peak memory
        _write(tmp_path, "logs/connectivity/connectivity_store.benchmark.tsv",
               _row(10, 1000, 18, 90), _row(20, 3000, 22, 70)),
        _write(tmp_path, "logs/discovery/enrich/compare_kegg.benchmark.tsv", _row(1, 100, 1)),
        _write(tmp_path, "logs/discovery/enrich/primary/ora_kegg.benchmark.tsv", _row(2, 200, 2)),
        _write(tmp_path, "logs/discovery/removed_rule.benchmark.tsv", _row(99, 1, 1)),
    ]
    table = benchmarks.gather(files, PATTERNS, root=tmp_path)
    assert list(table.columns) == benchmarks.COLUMNS
    assert len(table) == 6  # the removed rule's file is left out
    assert table["rule"].tolist() == ["connectivity_store", "cutadapt", "de_fit", "de_fit",
                                      "enrich_compare", "enrich_ora"]
    rows = table.set_index(["rule", "wildcards"])
    fit = rows.loc[("de_fit", "cohort=discovery,analysis=primary")]
    assert (fit["s"], fit["cpu_s"], fit["max_rss_mb"], fit["io_in_mb"]) == (12.5, 20, 800, 1.5)
    assert fit["benchmark"] == "logs/discovery/de/primary/de_fit.benchmark.tsv"
    assert rows.loc[("de_fit", "cohort=discovery,analysis=cells"), "s"] == 7.5
    store = rows.loc[("connectivity_store", "")]
    assert (store["s"], store["max_rss_mb"], store["cpu_s"], store["mean_load"]) == (
        15, 3000, 20, 80)
    cut = rows.loc[("cutadapt", "cohort=external,sample=S2,unit=L1")]
    assert cut["s"] == 0.2 and np.isnan(cut["max_rss_mb"]) and np.isnan(cut["cpu_s"])
    assert rows.loc[("enrich_ora", "cohort=discovery,analysis=primary,collection=kegg"),
                    "s"] == 2


def test_gather_of_no_files_has_the_columns():
    table = benchmarks.gather([], PATTERNS)
    assert table.empty and list(table.columns) == benchmarks.COLUMNS


def test_a_damaged_benchmark_file_is_named(tmp_path):
    bad = tmp_path / "logs/connectivity/connectivity_store.benchmark.tsv"
    bad.parent.mkdir(parents=True)
    bad.write_text("wall\n1\n")
    with pytest.raises(InputError, match="connectivity_store.benchmark.tsv.*no s"):
        benchmarks.gather([bad], PATTERNS, root=tmp_path)


def test_slowest_rules_sums_jobs_and_keeps_the_top():
    table = pd.DataFrame({
        "rule": ["a", "a", "b", "c", "d"], "wildcards": ["x=1", "x=2", "", "", ""],
        "s": [5.0, 6.0, 10.0, 1.0, 10.0], "cpu_s": [4.0, np.nan, 9.0, 1.0, 2.0],
        "max_rss_mb": [100.0, 300.0, 50.0, np.nan, 10.0]})
    top = benchmarks.slowest_rules(table, 3)
    assert top["rule"].tolist() == ["a", "b", "d"]  # 11 s over two jobs; b and d tie by name
    a = top.iloc[0]
    assert (a["jobs"], a["total_s"], a["max_s"], a["cpu_s"], a["max_rss_mb"]) == (
        2, 11, 6, 4, 300)
    assert len(benchmarks.slowest_rules(table)) == 4


def test_slowest_rules_figure_has_one_bar_per_rule():
    top = pd.DataFrame({"rule": ["a", "b"], "jobs": [2, 1], "total_s": [600.0, 60.0],
                        "max_s": [400.0, 60.0], "cpu_s": [500.0, 50.0],
                        "max_rss_mb": [2048.0, np.nan]})
    fig = plots.slowest_rules(top)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if p.get_gid() == "rules"] or [
        p for c in ax.containers for p in c]
    widths = sorted(p.get_width() for p in bars)
    assert widths == pytest.approx([1.0, 10.0])  # minutes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["b", "a"]  # slowest at the top
    notes = " ".join(t.get_text() for t in ax.texts)
    assert "2 jobs, 2.00 GB" in notes and "1 job, RSS n/a" in notes
