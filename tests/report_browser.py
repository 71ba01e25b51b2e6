"""Open results/report.html in headless Chromium with no network, as a reader would from disk.

`open_report` loads a copy of the page with a probe: a first script in <head> records every
error (script errors, failed resources, unhandled rejections, console.error) and, once the
page has loaded, the probe clicks the gene in the first volcano (the gene its expression plot
then shows), types the gene's name into the search box of the first DE table and counts its
rows before and after; the results land as attributes of <body> in the dumped DOM.
`screenshots` writes one PNG per section (the other sections hidden).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from needs import unavailable

# Any host name fails to resolve and no proxy is used: the page must hold everything.
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND", "--no-proxy-server",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--no-sandbox", "--disable-gpu"]

ERRORS_PROBE = """<script>window.__errors = [];
window.addEventListener('error', function (e) {
  var t = e.target || {};
  window.__errors.push(e.message || ('failed to load ' + (t.src || t.href || t.tagName)));
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__errors.push('unhandled rejection: ' + e.reason); });
var __ce = console.error;
console.error = function () { window.__errors.push([].join.call(arguments, ' '));
  __ce.apply(console, arguments); };
</script>"""

SEARCH_PROBE = """<script>window.addEventListener('load', function () { setTimeout(function () {
  var b = document.body, q = %s;
  b.setAttribute('data-sections', JSON.stringify([].map.call(
      document.querySelectorAll('section[data-section]'), function (s) {
        return s.getAttribute('data-section'); })));
  b.setAttribute('data-absent', JSON.stringify([].map.call(
      document.querySelectorAll('section[data-absent]'), function (s) {
        return s.getAttribute('data-absent'); })));
  b.setAttribute('data-plots', document.querySelectorAll('.js-plotly-plot').length);
  // a click on the first volcano's point of gene q shows q's expression beside it
  var volcano = document.querySelector('div[id^="volcano-"]');
  if (volcano && volcano.emit) {
    volcano.emit('plotly_click', {points: [{customdata: [q]}]});
    var expr = document.getElementById(volcano.id.replace('volcano-', 'expr-'));
    b.setAttribute('data-clicked-gene', expr ? expr.getAttribute('data-gene') : '');
  }
  var table = document.querySelector('table[id^="table-de-"]');
  if (table) {
    var wrap = table.closest('.dt-container') || document;
    var rows = function () { return table.querySelectorAll('tbody tr').length; };
    var info = function () {
      var i = wrap.querySelector('.dt-info'); return i ? i.textContent : ''; };
    b.setAttribute('data-rows-before', rows()); b.setAttribute('data-info-before', info());
    var box = wrap.querySelector('input[type=search]');
    b.setAttribute('data-search-box', box ? 1 : 0);
    if (box) { box.value = q; box.dispatchEvent(new Event('input', {bubbles: true})); }
    setTimeout(function () {
      b.setAttribute('data-rows-after', rows()); b.setAttribute('data-info-after', info());
      b.setAttribute('data-first-row', (table.querySelector('tbody tr') || {}).textContent);
      b.setAttribute('data-errors', JSON.stringify(window.__errors));
    }, 1000);
  } else { b.setAttribute('data-errors', JSON.stringify(window.__errors)); }
}, 3000); });</script>"""


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        unavailable("chromium is not installed (apt-get install chromium)")
    return exe


@dataclass
class Opened:
    dom: str
    attrs: dict
    stderr: str

    @property
    def errors(self) -> list[str]:
        return json.loads(self.attrs.get("data-errors", '["probe did not run"]'))


def _with_probes(report: Path, query: str, name: str) -> Path:
    text = report.read_text()
    head = text.index("<head>") + len("<head>")
    text = text[:head] + ERRORS_PROBE + text[head:]
    end = text.rindex("</body>")
    text = text[:end] + SEARCH_PROBE % json.dumps(query) + text[end:]
    probe = report.with_name(f".{name}_{report.name}")
    probe.write_text(text)
    return probe


def open_report(report: Path, tmp_path: Path, query: str) -> Opened:
    """Load the report offline; the probe searches the first DE table for `query`."""
    probe = _with_probes(report, query, "probe")
    try:
        res = subprocess.run(
            [chromium(), "--headless", *OFFLINE, f"--user-data-dir={tmp_path / 'chromium'}",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=30000",
             "--window-size=1400,1000", "--dump-dom", probe.resolve().as_uri()],
            capture_output=True, text=True, timeout=300)
    finally:
        probe.unlink()
    assert res.returncode == 0, res.stderr[-2000:]
    body = re.search(r"<body[^>]*>", res.stdout).group(0)
    attrs = {k: _unescape(v) for k, v in re.findall(r'(data-[a-z-]+)="([^"]*)"', body)}
    return Opened(res.stdout, attrs, res.stderr)


def _unescape(value: str) -> str:
    return (value.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
            .replace("&amp;", "&"))


def screenshots(report: Path, section_ids: list[str], out: Path, tmp_path: Path,
                width: int = 1400, height: int = 2400) -> list[Path]:
    """One screenshot per section id (only that section shown), written to `out`."""
    out.mkdir(parents=True, exist_ok=True)
    text = report.read_text()
    head = text.index("</head>")
    shots = []
    for sid in section_ids:
        page = report.with_name(f".shot_{sid}_{report.name}")
        style = (f"<style>section:not(#{sid}){{display:none}}"
                 "main>h1,main>p{display:none}</style>")
        page.write_text(text[:head] + style + text[head:])
        target = out / f"{sid}.png"
        try:
            res = subprocess.run(
                [chromium(), "--headless", *OFFLINE, f"--user-data-dir={tmp_path / 'shots'}",
                 "--hide-scrollbars", f"--window-size={width},{height}",
                 "--virtual-time-budget=20000", f"--screenshot={target}", page.resolve().as_uri()],
                capture_output=True, text=True, timeout=300)
        finally:
            page.unlink()
        assert res.returncode == 0 and target.exists(), res.stderr[-2000:]
        shots.append(target)
    return shots
