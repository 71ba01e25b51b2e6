"""The study report results/report.html, opened offline in headless Chromium.

On the real cohort GSE127530 with the minimal config (stages expression_qc, de and enrich;
the report asked for as a target, stage report off) and on the embedded demo (every stage):
the page holds everything (no external script, style or image), loads with no console error,
has a section per stage that ran and a line for each stage that did not, its DE table's search
box filters rows, and no figure of the run is larger than 4,000 pixels on a side. Screenshots
of every section go to BLOODSIG_SCREENSHOTS (or the test's temporary folder).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import report_browser as rb  # noqa: E402
from test_real_cohorts import GSE, MINIMAL, phenotypes, snakemake  # noqa: E402

pytestmark = pytest.mark.slow

MAX_SIDE = 4000  # pixels, any figure of a run
MAX_MB = 25
ALL_SECTIONS = ["Headlines", "Cohort", "Differential expression", "Cell composition",
                "Classifiers", "Survival", "Pathways", "Drug candidates", "Immune subtypes",
                "Provenance"]


def _shots_dir(name: str, tmp_path: Path) -> Path:
    base = os.environ.get("BLOODSIG_SCREENSHOTS")
    return Path(base) / name if base else tmp_path / "screenshots"


def _self_contained(text: str) -> None:
    """No resource of the page comes from elsewhere: every script and style is inline, every
    image a data URI."""
    assert not re.findall(r"<script[^>]+src=", text)
    assert not re.findall(r"<link[^>]+href=", text)
    srcs = re.findall(r'<img[^>]+src="([^"]{0,40})', text)
    assert srcs and all(s.startswith("data:image/") for s in srcs)


def _figures_fit(results: Path) -> None:
    sizes = {p: Image.open(p).size for p in results.rglob("*.png") if "demo" not in p.parts}
    assert sizes
    big = {str(p): s for p, s in sizes.items() if max(s) > MAX_SIDE}
    assert not big, big


def _check_report(report: Path, tmp_path: Path, query: str, present: list[str],
                  absent: list[str], shots: str) -> rb.Opened:
    text = report.read_text()
    assert report.stat().st_size < MAX_MB * 1e6
    _self_contained(text)
    opened = rb.open_report(report, tmp_path, query)
    assert opened.errors == [], opened.errors
    assert "Uncaught" not in opened.stderr
    sections = set(json.loads(opened.attrs["data-sections"]))
    assert set(present) <= sections, set(present) - sections
    assert set(absent) <= set(json.loads(opened.attrs["data-absent"]))
    # the first DE table: 10 rows shown of thousands; searching a gene leaves its row
    assert opened.attrs["data-search-box"] == "1"
    assert int(opened.attrs["data-rows-before"]) == 10
    assert int(opened.attrs["data-rows-after"]) == 1, opened.attrs
    assert query in opened.attrs["data-first-row"]
    assert "filtered from" in opened.attrs["data-info-after"]
    # every volcano has its expression plot, drawn by plotly; clicking a gene shows it there
    assert int(opened.attrs["data-plots"]) >= 2
    assert opened.attrs["data-clicked-gene"] == query
    ids = re.findall(r'<section id="([^"]+)" data-section=', text)
    shots_written = rb.screenshots(report, ids, _shots_dir(shots, tmp_path), tmp_path)
    assert all(p.stat().st_size > 10_000 for p in shots_written)
    return opened


def test_gse127530_report(refdata, tmp_path):
    """The minimal real-cohort config, with results/report.html asked for as a target."""
    pheno = phenotypes(refdata)
    (tmp_path / "config.yaml").write_text(MINIMAL.format(
        counts=refdata / GSE / "fixed_combinedCounts.txt.gz",
        gmt=refdata / "gene_sets/h.all.v7.0.symbols.gmt"))
    pheno.insert(0, "sample_id", pheno["Label"].str.replace(".", "-", regex=False))
    pheno.drop(columns="Label").to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    res = snakemake(tmp_path, "results/report.html")
    assert res.returncode == 0, res.stderr[-4000:]
    report = tmp_path / "results/report.html"
    _check_report(report, tmp_path, "TSC22D3",
                  ["Headlines", "Cohort", "Differential expression", "Pathways"],
                  ["Cell composition", "Classifiers", "Survival", "Drug candidates",
                   "Immune subtypes"], "gse127530")
    text = report.read_text()
    # headlines: only terms significant at the configured FDR (enrich.fdr, default 0.05)
    ora = pd.read_csv(tmp_path / "results/gse127530/enrich/fed/ora_hallmark.tsv", sep="\t")
    line = re.search(r"<li>ORA fed / hallmark: (.*?)</li>", text).group(1)
    for term, direction in ora.loc[ora["FDR"] >= 0.05, ["term", "direction"]].itertuples(
            index=False):
        assert f"{term} ({direction}," not in line
    assert f"{(ora['FDR'] < 0.05).sum()} terms at FDR &lt; 0.05" in line
    # every DEG count comes with its n
    assert re.search(r"DE <b>fed</b>: \d+ up, \d+ down .*n = 30 samples", text)
    _figures_fit(tmp_path / "results")


def test_demo_report(demo, tmp_path):
    report = demo / "results/report.html"
    assert report.exists()
    _check_report(report, tmp_path, _top_gene(demo), ALL_SECTIONS + ["qPCR", "Run time"], [],
                  "demo")
    text = report.read_text()
    # the run's slowest rules, as gathered before the page was built
    runtime = text.split('data-section="Run time"')[1].split("data-section=")[0]
    slowest = pd.read_csv(demo / "results/benchmarks_slowest.tsv", sep="\t")
    assert all(f">{rule}<" in runtime for rule in slowest["rule"])
    auc = pd.read_csv(demo / "results/discovery/classify/compare/auc.tsv", sep="\t")
    best = auc[auc["best"].astype(str).str.lower() == "true"].iloc[0]
    line = re.search(r"<li>Best classifier by the comparison's rule.*?</li>", text).group(0)
    assert f"<b>{best['algorithm']}</b>" in line and f"n = {int(best['n_test'])} test" in line
    assert f"{best['ci_low']:.3f}" in line
    _figures_fit(demo / "results")


def _top_gene(demo: Path) -> str:
    table = pd.read_csv(demo / "results/discovery/de/primary/toptable.tsv", sep="\t")
    return str(table.sort_values("P.Value")["gene_name"].iloc[0])
