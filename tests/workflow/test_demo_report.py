"""Stage report on the embedded demo (fixture `demo`): Table 1's p-values equal scipy's tests,
qPCR fold changes recover the planted logFC, provenance matches the inputs, and
`snakemake --report` opens in headless Chromium with every stage's figures and no broken
image (results/report.html, the landing page, has its own test: test_report_page.py)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from needs import unavailable
from PIL import Image
from scipy import stats

pytestmark = pytest.mark.slow  # runs Snakemake

REPORT = "results/discovery/report"
# The report's categories of the demo's stages (rules/*.smk report(category=...)).
STAGE_CATEGORIES = {"expression_qc": "Expression QC", "de": "Differential expression",
                    "cells": "Cell proportions", "reads": "Reads", "classify": "Classifiers",
                    "survival": "Survival", "enrich": "Enrichment", "connectivity": "Connectivity",
                    "subtypes": "Immune subtypes", "report": "Report"}
# Marks every <img> that failed to load; run in the page after its load event.
BROKEN_IMAGES = """<script>window.addEventListener('load', () => setTimeout(() => {
  const bad = [...document.images].filter(i => !i.complete || i.naturalWidth === 0);
  document.body.setAttribute('data-images', document.images.length);
  document.body.setAttribute('data-broken', bad.map(i => i.src.slice(0, 80)).join(' | '));
}, 500));</script>"""


def _tsv(path):
    return pd.read_csv(path, sep="\t")


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        unavailable("chromium is not installed (apt-get install chromium)")
    return exe


def _render(html: Path, tmp_path: Path) -> str:
    """The DOM of `html` after headless Chromium loaded it (scripts run, images loaded), with
    the BROKEN_IMAGES probe injected (a copy beside the original, so relative links hold)."""
    probe = html.with_name(f".probe_{html.name}")
    text = html.read_text()
    head, sep, tail = text.rpartition("</body>")  # the last one: scripts may hold others
    probe.write_text(head + BROKEN_IMAGES + sep + tail if sep else text + BROKEN_IMAGES)
    try:
        res = subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={tmp_path / 'chromium'}",
             "--virtual-time-budget=20000", "--dump-dom", probe.resolve().as_uri()],
            capture_output=True, text=True, timeout=180)
    finally:
        probe.unlink()
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def _probe(dom: str) -> tuple[int, str]:
    body = re.search(r"<body[^>]*>", dom).group(0)
    images = re.search(r'data-images="(\d+)"', body)
    broken = re.search(r'data-broken="([^"]*)"', body)
    assert images and broken, f"the load probe did not run: {body}"
    return int(images.group(1)), broken.group(1)


def test_cohort_table_agrees_with_scipy(demo):
    samples = _tsv(demo / "results/discovery/expression_qc/samples.tsv")
    table = _tsv(demo / f"{REPORT}/cohort_table.tsv")
    p = table.dropna(subset=["p_value"]).set_index("variable")["p_value"]
    case, ctrl = samples["group"] == "ALS", samples["group"] == "control"
    assert table.iloc[0][["case", "control"]].astype(int).tolist() == [case.sum(), ctrl.sum()]
    want = stats.mannwhitneyu(samples.loc[case, "age"].dropna(), samples.loc[ctrl, "age"].dropna(),
                              alternative="two-sided").pvalue
    assert p["age"] == pytest.approx(want, rel=1e-8)
    for column in ("sex", "batch", "library_type"):
        known = samples.dropna(subset=[column])
        chi = stats.chi2_contingency(pd.crosstab(known[column], known["group"]).to_numpy(),
                                     correction=False)
        assert p[column] == pytest.approx(chi.pvalue, rel=1e-8)
    # Case-only clinical variables are summarised without a test; controls have none.
    onset = table[table["variable"] == "onset_segment"]
    assert set(onset["level"]) == {"bulbar", "spinal"} and onset["p_value"].isna().all()
    assert "<td>alsfrs_r</td>" in (demo / f"{REPORT}/cohort_table.html").read_text()


def test_qpcr_recovers_planted_logfc(demo):
    res = _tsv(demo / f"{REPORT}/qpcr.tsv").set_index("gene")
    truth = _tsv(demo / "results/demo/truth/de_genes.tsv").set_index("gene_name")["logFC"]
    assert len(res) >= 5 and res.index.isin(truth.index).all()
    assert np.abs(res["log2FC"] - truth[res.index]).max() < 0.3
    assert (res["P.Value"] < 0.05).all()
    assert np.corrcoef(res["log2FC"], res["rnaseq_logFC"])[0, 1] > 0.9


def test_provenance(demo):
    prov = demo / "results/provenance"
    config = yaml.safe_load((prov / "config.yaml").read_text())
    given = yaml.safe_load((demo / "config/config.yaml").read_text())
    # The resolved config: the file's values (these sections have no schema defaults to add),
    # and the file's cohort entries with their defaults (counts_format, ...) filled in.
    assert set(given) <= set(config)
    for key in ("seed", "stages", "report"):
        assert config[key] == given[key], key
    for name, entry in given["cohorts"].items():
        assert entry.items() <= config["cohorts"][name].items(), name
    assert config["cohorts"]["discovery"]["counts_format"] == "auto"
    versions = _tsv(prov / "versions.tsv").set_index("name")
    assert versions.loc["pandas", "version"] == pd.__version__
    assert {"STAR", "featureCounts", "samtools", "R"} <= set(versions.index)
    sums = _tsv(prov / "checksums.tsv").set_index("path")
    for path in ("results/demo/discovery/counts.tsv", "results/demo/external/genome.fa",
                 "results/demo/discovery/qpcr_ct.tsv"):
        assert sums.loc[path, "sha256"] == hashlib.sha256((demo / path).read_bytes()).hexdigest()
    units = _tsv(demo / "results/demo/external/units.tsv")
    assert set(units["fq1"]) | set(units["fq2"]) <= set(sums.index)


@pytest.fixture(scope="module")
def report_html(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    res = subprocess.run([sys.executable, "-m", "snakemake", "--report", str(out)], cwd=demo,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def test_snakemake_report_has_every_figure(demo, report_html, tmp_path):
    text = report_html.read_text()
    # Snakemake embeds each report() output as "path": {"name": ..., "data_uri": "data:..."}.
    embedded = set(re.findall(r'"(results/[^"]+)": \{"name"', text))
    figures = {str(p) for p in (f.relative_to(demo) for f in (demo / "results").rglob("*.png"))
               if "demo" not in p.parts}
    assert figures and figures <= embedded, sorted(figures - embedded)
    assert {"results/discovery/report/qpcr.png",
            "results/discovery/report/cohort_table.html"} <= embedded
    stages = yaml.safe_load((demo / "config/config.yaml").read_text())["stages"]
    for stage, category in STAGE_CATEGORIES.items():
        assert stages[stage] and f'"{category}": {{' in text, stage
    # Every embedded image decodes as the image it claims to be.
    images = re.findall(r'"data_uri": "data:image/(png|jpeg)[^,"]*;base64,([A-Za-z0-9+/=]+)"',
                        text)
    assert len(images) == len([f for f in embedded if f.endswith(".png")])
    for kind, blob in images:
        with Image.open(io.BytesIO(base64.b64decode(blob))) as image:
            assert image.format.lower() == kind
            image.verify()
    # The report opens in a browser: its app renders, and no image on the page is broken.
    # (The app shows a category's figures when it is clicked; their data is checked above.)
    dom = _render(report_html, tmp_path)
    shown = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", "", dom, flags=re.S))
    assert "bloodsig analysed the configured cohorts" in shown  # workflow.rst, rendered
    for category in STAGE_CATEGORIES.values():
        assert f" {category} " in shown, category
    assert _probe(dom)[1] == ""


def test_benchmarks_list_every_job_that_ran(demo):
    """results/benchmarks.tsv has one row per job of the demo run, as Snakemake's own records
    count them (distinct job hashes per rule in .snakemake/metadata), each with the benchmark
    file beside the job's log, a wall time and (for jobs longer than the first sample) a peak
    RSS; the slowest-rules table sums them. The gathering rule and the report page built
    from it are the last jobs and cannot be timed in it."""
    table = _tsv(demo / "results/benchmarks.tsv")
    assert list(table.columns[:5]) == ["rule", "wildcards", "s", "cpu_s", "max_rss_mb"]
    hashes = {}
    for meta in (demo / ".snakemake/metadata").iterdir():
        record = json.loads(meta.read_text())
        hashes.setdefault(record["rule"], set()).add(record["job_hash"])
    last = {"report_benchmarks", "report_html"}
    ran = Counter({rule: len(h) for rule, h in hashes.items() if rule not in last})
    assert Counter(table["rule"]) == ran
    logs = {p.relative_to(demo).as_posix().removesuffix(".log") + ".benchmark.tsv"
            for p in (demo / "logs").rglob("*.log")} - {"logs/report/benchmarks.benchmark.tsv",
                                                        "logs/report/report_html.benchmark.tsv"}
    assert set(table["benchmark"]) == logs
    assert (table["s"] > 0).all() and table["max_rss_mb"].notna().mean() > 0.5
    assert table.loc[table["rule"] == "de_fit", "wildcards"].str.contains("analysis=").all()
    slowest = _tsv(demo / "results/benchmarks_slowest.tsv")
    totals = table.groupby("rule")["s"].sum().sort_values(ascending=False)
    assert len(slowest) == 10
    assert slowest["rule"].tolist() == totals.index[:10].tolist()
    np.testing.assert_allclose(slowest["total_s"], totals.to_numpy()[:10], rtol=1e-6)
    assert Image.open(demo / "results/benchmarks_slowest.png").size[0] > 500
