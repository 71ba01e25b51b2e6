"""The study report at the reference study's scale: size and time to open.

Five DE analyses of 22,332 genes over 694 samples (the paper's), 62 figures of 200 kB (the
size of the paper-scale PNGs), the tables of every stage: builds results/report.html with
bloodsig.report, then opens it in headless Chromium offline and reports the time until the
page's load event and its plots are drawn. Targets: under 25 MB, open in under 5 s.

    python tests/benchmarks/bench_report.py [workdir]
"""

from __future__ import annotations

import subprocess
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

TIMING = """<script>window.addEventListener('load', function () {
  var t = performance.now();
  setTimeout(function () { document.body.setAttribute('data-load-ms', Math.round(t));
    document.body.setAttribute('data-plots',
      document.querySelectorAll('.js-plotly-plot .main-svg').length); }, 0); });</script>"""


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
    # the figures the sections embed by name
    for a in analyses:
        for name in ("ma", "heatmap", "pvalue_hist"):
            (base / f"de/{a}/{name}.png").write_bytes(blob)
            files.append(str(base / f"de/{a}/{name}.png"))
    cfg = {"samples": {"group_column": "group", "case": "ALS", "control": "control",
                       "id_column": "sample_id"},
           "de": {"fdr": 0.01, "min_abs_logfc": 0.1, "analyses": analyses}}
    return Results(files, "paper"), counts, cfg


def main(work: Path) -> None:
    import report_browser as rb

    res, counts, cfg = make_run(work)
    start = time.perf_counter()
    text = report_page(res, cfg, "paper-scale report", counts)
    build_s = time.perf_counter() - start
    report = work / "report.html"
    report.write_text(text)
    print(f"report: {report.stat().st_size / 1e6:.1f} MB, built in {build_s:.1f} s "
          f"({len(res.paths)} input files)")
    probe = work / "timed.html"
    probe.write_text(text.replace("</body>", TIMING + "</body>"))
    start = time.perf_counter()
    out = subprocess.run([rb.chromium(), "--headless", *rb.OFFLINE,
                          f"--user-data-dir={work / 'chromium'}", "--window-size=1400,1000",
                          "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                         timeout=300)
    wall = time.perf_counter() - start
    load = out.stdout.split('data-load-ms="')[1].split('"')[0]
    plots = out.stdout.split('data-plots="')[1].split('"')[0]
    print(f"opened in Chromium: load event at {int(load) / 1000:.1f} s, {plots} plots drawn; "
          f"browser wall time {wall:.1f} s (includes its start)")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
