"""Open results/report.html in headless Chromium with no network, as a reader would from disk.

`open_report` loads a copy of the page with a probe: a first script in <head> records every
error (script errors, failed resources, unhandled rejections, console.error) and, once the
page has loaded, the probe scrolls to the first volcano (figures and tables are drawn when
scrolled to), clicks its gene (the gene its expression plot then shows), scrolls to the first
DE table, types the gene's name into its search box and counts its rows before and after;
the results land as attributes of <body>, read back over the DevTools protocol.
`screenshots` writes one PNG per section (the other sections hidden).
"""

from __future__ import annotations

import fcntl
import json
import os
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
  // figures and tables are drawn when scrolled to: scroll as a reader would, then wait
  function when(ready, then, tries) {
    if (ready() || tries > 100) then(); else setTimeout(function () {
      when(ready, then, (tries || 0) + 1); }, 100); }
  function scrollTo(selector) {
    var el = document.querySelector(selector); if (el) el.scrollIntoView(); }
  function done() { b.setAttribute('data-errors', JSON.stringify(window.__errors)); }
  scrollTo('[data-lazy^="volcano-"]');
  when(function () { return document.querySelector('div[id^="volcano-"] .main-svg') &&
                            document.querySelector('div[id^="expr-"] .main-svg'); }, function () {
    b.setAttribute('data-plots', document.querySelectorAll('.js-plotly-plot').length);
    // a click on the first volcano's point of gene q shows q's expression beside it
    var volcano = document.querySelector('div[id^="volcano-"]');
    if (volcano && volcano.emit) {
      volcano.emit('plotly_click', {points: [{customdata: [q]}]});
      var expr = document.getElementById(volcano.id.replace('volcano-', 'expr-'));
      b.setAttribute('data-clicked-gene', expr ? expr.getAttribute('data-gene') : '');
    }
    scrollTo('[data-lazy^="table-de-"]');
    when(function () { return document.querySelector('table[id^="table-de-"].dataTable'); },
         function () {
      var table = document.querySelector('table[id^="table-de-"]');
      if (!table) { done(); return; }
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
        done();
      }, 1000);
    });
  });
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


class DevTools:
    """Headless Chromium (offline) driven over --remote-debugging-pipe (the browser's fds 3
    and 4, messages ended by NUL): no port, no extra package. It runs in real time, unlike
    --dump-dom's virtual time, in which the page is not rendered again after a scroll, so
    what is drawn on scrolling (IntersectionObserver) never is. Its log goes to `log`."""

    def __init__(self, profile: Path, log: Path):
        to_browser, self._out = os.pipe()
        self._in, from_browser = os.pipe()
        # above the fds the child's 3 and 4 are made from, so dup2 overwrites neither
        keep = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser, from_browser)]
        with log.open("w") as err:
            self.proc = subprocess.Popen(
                [chromium(), "--headless", *OFFLINE, "--remote-debugging-pipe",
                 f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                 "--window-size=1400,1000", "about:blank"],
                close_fds=False, preexec_fn=lambda: (os.dup2(keep[0], 3), os.dup2(keep[1], 4)),
                stdout=subprocess.DEVNULL, stderr=err)
        for fd in (to_browser, from_browser, *keep):
            os.close(fd)
        self._buf, self._id, self._events = b"", 0, []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]

    def _read(self) -> dict:
        while b"\0" not in self._buf:
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium exited")
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, page: bool = False, **params) -> dict:
        """A DevTools command, to the browser or (`page`) to the page; its result."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if page:
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while (reply := self._read()).get("id") != self._id:
            self._events.append(reply)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def wait_for(self, event: str) -> None:
        while not any(e.get("method") == event for e in self._events):
            self._events.append(self._read())

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (a promise's, once settled)."""
        return self.call("Runtime.evaluate", page=True, expression=expression,
                         awaitPromise=True, returnByValue=True)["result"]["value"]

    def __enter__(self) -> DevTools:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.call("Browser.close")
            self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


# The probe's results, once it has set data-errors (or after 120 s: "probe timed out").
PROBE_RESULT = """new Promise(function (done) {
  var start = Date.now();
  (function poll() {
    var b = document.body, out = {};
    if (b && b.hasAttribute('data-errors') || Date.now() - start > 120000) {
      [].forEach.call(b ? b.attributes : [], function (a) {
        if (a.name.indexOf('data-') === 0) out[a.name] = a.value; });
      if (!('data-errors' in out)) out['data-errors'] = '["probe timed out"]';
      done(out);
    } else { setTimeout(poll, 100); }
  })(); })"""


def open_report(report: Path, tmp_path: Path, query: str) -> Opened:
    """Load the report offline; the probe searches the first DE table for `query`."""
    probe = _with_probes(report, query, "probe")
    log = tmp_path / "chromium.log"
    try:
        with DevTools(tmp_path / "chromium", log) as browser:
            browser.call("Page.enable", page=True)
            browser.call("Page.navigate", page=True, url=probe.resolve().as_uri())
            browser.wait_for("Page.loadEventFired")
            attrs = browser.evaluate(PROBE_RESULT)
            dom = browser.evaluate("document.documentElement.outerHTML")
    finally:
        probe.unlink()
    return Opened(dom, attrs, log.read_text())


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
