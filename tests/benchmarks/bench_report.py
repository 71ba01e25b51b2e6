"""The study report at the reference study's scale: size and time to open.

Five DE analyses of 22,332 genes over 694 samples (the paper's), 62 figures of 200 kB (the
size of the paper-scale PNGs), the tables of every stage: builds results/report.html with
bloodsig.report, then opens it in headless Chromium offline, driven over the DevTools
protocol, and prints what Chromium measured: the first contentful paint, the load event,
when everything on the first screen is drawn (lazy blocks, plotly figures, DataTables), when
plotly.js has run, the renderer's CPU time until the first screen is drawn, and how long the
last volcano takes to draw once scrolled to. Targets: under 25 MB, open in under
5 s. The machine's load average is printed beside the times.

    python tests/benchmarks/bench_report.py [workdir]
    python tests/benchmarks/bench_report.py --open report.html [...]   # time given reports
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

from bloodsig.report.build import report_page  # noqa: E402
from bloodsig.report.files import Results  # noqa: E402

N_GENES, N_SAMPLES, ANALYSES, FIGURES, FIGURE_KB = 22332, 694, 5, 62, 200

# Resolves once nothing on the first screen waits to be drawn: no lazy block undrawn, every
# plotly figure with its SVG, every DataTable set up (a page drawn at once is ready at load).
FIRST_SCREEN = """new Promise(function (done) {
  function shown(el) { var r = el.getBoundingClientRect();
    return r.width > 0 && r.bottom > 0 && r.top < innerHeight; }
  function waiting(el) {
    if (el.matches('.lazy')) return !el.matches('.drawn');
    if (el.matches('table')) return !el.matches('.dataTable');
    return !el.querySelector('.main-svg'); }
  (function poll() {
    var els = document.querySelectorAll('.lazy, .js-plotly-plot, table[id^="table-"]');
    if ([].some.call(els, function (el) { return shown(el) && waiting(el); })) {
      setTimeout(poll, 10); return; }
    var nav = performance.getEntriesByType('navigation')[0];
    var paint = performance.getEntriesByName('first-contentful-paint')[0];
    done({load: nav.loadEventEnd, paint: paint ? paint.startTime : NaN,
          ready: performance.now(),
          plots: document.querySelectorAll('.js-plotly-plot').length});
  })(); })"""

# When plotly.js has run (the report runs it once the page is idle after loading).
PLOTLY_READY = """new Promise(function (done) { (function poll() {
  if (window.Plotly) done(performance.now()); else setTimeout(poll, 10); })(); })"""

# Scrolls to the last volcano (off the first screen) and resolves with the ms until it and
# its expression plot are drawn.
SCROLL_TO_VOLCANO = """new Promise(function (done) {
  var all = document.querySelectorAll('[data-lazy^="volcano-"], div[id^="volcano-"]');
  var last = all[all.length - 1], id = last.getAttribute('data-lazy') || last.id;
  var start = performance.now();
  last.scrollIntoView();
  (function poll() {
    if (document.querySelector('#' + id + ' .main-svg') &&
        document.querySelector('#' + id.replace('volcano-', 'expr-') + ' .main-svg')) {
      done(performance.now() - start); } else { setTimeout(poll, 10); }
  })(); })"""


def open_timed(report: Path, profile: Path) -> dict:
    """Open `report` offline; Chromium's own measures (ms from navigation start; renderer
    CPU from the Performance domain's ProcessTime and TaskDuration, in s)."""
    import report_browser as rb

    with rb.DevTools(profile, profile.with_name("chromium.log")) as browser:
        browser.call("Page.enable", page=True)
        browser.call("Performance.enable", page=True)
        browser.call("Page.navigate", page=True, url=report.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        out = browser.evaluate(FIRST_SCREEN)
        metrics = {m["name"]: m["value"] for m in
                   browser.call("Performance.getMetrics", page=True)["metrics"]}
        out["plotly"] = browser.evaluate(PLOTLY_READY)
        out["scroll_ms"] = browser.evaluate(SCROLL_TO_VOLCANO)
    return {**out, "cpu_s": metrics["ProcessTime"], "main_thread_s": metrics["TaskDuration"],
            "script_s": metrics["ScriptDuration"]}


def print_open(report: Path, profile: Path) -> None:
    before = os.getloadavg()[0]
    t = open_timed(report, profile)
    print(f"{report}: {report.stat().st_size / 1e6:.1f} MB; first contentful paint at "
          f"{t['paint'] / 1000:.2f} s, load event at {t['load'] / 1000:.2f} s, first screen "
          f"drawn at {t['ready'] / 1000:.2f} s ({t['plots']} plotly figures drawn), plotly.js "
          f"ready at {t['plotly'] / 1000:.2f} s; renderer CPU {t['cpu_s']:.2f} s (main thread "
          f"busy {t['main_thread_s']:.2f} s, scripts {t['script_s']:.2f} s); last volcano "
          f"drawn {t['scroll_ms'] / 1000:.2f} s after scrolling to it; load average "
          f"{before:.2f} -> {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")


def make_run(work: Path) -> tuple[Results, pd.DataFrame, dict]:
    rng = np.random.default_rng(0)
    base = work / "results/paper"
    files = []

    def write(key, df):
        path = base / key
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, sep="\t", index=False)
        files.append(str(path))

    ids = [f"S{i:04d}" for i in range(N_SAMPLES)]
    genes = [f"ENSG{i:011d}" for i in range(N_GENES)]
    write("expression_qc/samples.tsv", pd.DataFrame({
        "sample_id": ids, "group": np.where(np.arange(N_SAMPLES) < 423, "ALS", "control")}))
    counts = pd.DataFrame(rng.poisson(100, size=(N_GENES, N_SAMPLES)), index=genes,
                          columns=ids)
    analyses = {}
    for a in range(ANALYSES):
        name = f"analysis{a}"
        p = np.sort(rng.uniform(size=N_GENES) ** 3)
        tt = pd.DataFrame({"gene_id": rng.permutation(genes),
                           "gene_name": [f"GENE{i}" for i in range(N_GENES)],
                           "logFC": rng.normal(0, 0.3, N_GENES), "AveExpr": 5.0,
                           "t": rng.normal(size=N_GENES), "P.Value": p,
                           "adj.P.Val": np.minimum(1, p * N_GENES / np.arange(1, N_GENES + 1)),
                           "B": 0.0})
        write(f"de/{name}/toptable.tsv", tt)
        sig = tt["adj.P.Val"] < 0.01
        write(f"de/{name}/degs_up.tsv", tt[sig & (tt["logFC"] > 0)])
        write(f"de/{name}/degs_down.tsv", tt[sig & (tt["logFC"] < 0)])
        write(f"de/{name}/covariates.tsv", pd.DataFrame({"sample_id": ids}))
        analyses[name] = {"formula": "~ group", "coef": "groupALS"}
    png = work / "figure.png"
    from PIL import Image
    side = 900
    Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(png)
    blob = png.read_bytes()[: FIGURE_KB * 1000]
    for i in range(FIGURES):
        key = base / f"de/analysis{i % ANALYSES}/extra_{i}.png"
        key.write_bytes(blob)
    # the figures the sections embed by name (the cohort's come first, as in a real run)
    named = ["expression_qc/pca.png", "expression_qc/sex_check.png"] + [
        f"de/{a}/{name}.png" for a in analyses for name in ("ma", "heatmap", "pvalue_hist")]
    for key in named:
        (base / key).write_bytes(blob)
        files.append(str(base / key))
    cfg = {"samples": {"group_column": "group", "case": "ALS", "control": "control",
                       "id_column": "sample_id"},
           "de": {"fdr": 0.01, "min_abs_logfc": 0.1, "analyses": analyses}}
    return Results(files, "paper"), counts, cfg


def main(work: Path) -> None:
    res, counts, cfg = make_run(work)
    start = time.perf_counter()
    text = report_page(res, cfg, "paper-scale report", counts)
    build_s = time.perf_counter() - start
    report = work / "report.html"
    report.write_text(text)
    print(f"report: {report.stat().st_size / 1e6:.1f} MB, built in {build_s:.1f} s "
          f"({len(res.paths)} input files)")
    print_open(report, work / "chromium")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--open"]:
        with tempfile.TemporaryDirectory() as tmp:
            for path in sys.argv[2:]:
                print_open(Path(path), Path(tmp) / "chromium")
    elif len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
