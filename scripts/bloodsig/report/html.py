"""HTML building blocks of the study report: one self-contained page (no network).

Figures are PNGs embedded as data URIs; interactive figures are plotly divs (plotly.js is
embedded once, in the page head); searchable, sortable tables are itables/DataTables in its
offline mode (the DataTables bundle embedded once). Every text from a table is escaped.

A paper-scale report holds tens of figures and tables: drawn at once they kept the page from
opening for seconds, so each is a `lazy` block, drawn when it comes near the viewport.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

STYLE = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:0;color:#222;line-height:1.4}
#toc{position:fixed;top:0;left:0;bottom:0;width:15em;overflow-y:auto;background:#f4f5f7;
  padding:1em;box-sizing:border-box;font-size:14px;border-right:1px solid #ddd}
#toc a{display:block;color:#1a4d8f;text-decoration:none;padding:2px 0}
#toc a.absent{color:#888}
main{margin-left:16em;padding:1em 2em;max-width:75em}
section{border-bottom:2px solid #e3e3e3;padding-bottom:1.5em;margin-bottom:1.5em}
h1{margin-top:.3em}h2{margin-top:.2em;color:#1a4d8f}h3{margin-bottom:.3em}
.settings{background:#f0f6ff;border-left:4px solid #1a4d8f;padding:.4em .8em;margin:.5em 0}
.caveat{background:#fff6e5;border-left:4px solid #e69500;padding:.4em .8em;margin:.5em 0}
.absent-note{color:#666;font-style:italic}
figure{margin:1em 0;display:inline-block;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eee}
.lazy{max-width:100%}
figcaption{font-size:13px;color:#444;max-width:60em}
table.static{border-collapse:collapse;font-size:14px;margin:.5em 0}
table.static td,table.static th{border-bottom:1px solid #ccc;padding:2px 8px;text-align:left}
.headline{font-size:15px}
.tablewrap{overflow-x:auto;max-width:100%}
.twocol{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.twocol>div{flex:0 0 auto}
details{margin:.5em 0}pre{font-size:12px;background:#f7f7f7;padding:.5em;overflow-x:auto}
"""


def esc(text) -> str:
    return html.escape(str(text))


def fmt_p(p, floor: float | None = None) -> str:
    """A p-value or FDR for reading: 2 significant digits; 0 (or below `floor`, the smallest
    value the method can give, e.g. 1 / permutations) as "< 1e-N", never "0"."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    p = float(p)
    if floor is not None and p < floor:
        return f"< {floor:.0e}".replace("e-0", "e-")
    if p <= 0:
        return "< 1e-300"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}".replace("e-0", "e-")


def fmt_num(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if isinstance(x, int | bool):
        return str(x)
    return f"{float(x):.{digits}g}" if abs(float(x)) < 1e4 else f"{float(x):.0f}"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def png(path, alt: str, caption: str = "", width: str | None = None) -> str:
    """A PNG embedded as a data URI, with its caption; decoded when scrolled to."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    style = f' style="max-width:{width}"' if width else ""
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return (f'<figure{style}><img alt="{esc(alt)}" loading="lazy" decoding="async" '
            f'src="data:image/png;base64,{data}">{cap}</figure>')


def settings(text: str) -> str:
    return f'<p class="settings"><b>Settings.</b> {text}</p>'


def caveat(text: str) -> str:
    return f'<p class="caveat"><b>Caveat.</b> {text}</p>'


def para(text: str) -> str:
    return f"<p>{text}</p>"


def static_table(df: pd.DataFrame, caption: str = "") -> str:
    """A small table as plain HTML (escaped); floats to 3 significant digits."""
    if df.empty:
        return "<p class=\"absent-note\">None.</p>"
    shown = df.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(fmt_num)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    body = shown.to_html(index=False, border=0, na_rep="", escape=True, classes="static")
    body = body.replace('<table border="0" class="dataframe static">',
                        f'<table class="static">{cap}')
    return f'<div class="tablewrap">{body}</div>'


def round_sig(df: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Float columns rounded to `digits` significant digits (numbers stay numbers, so an
    interactive table sorts them as numbers)."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda v: float(f"{v:.{digits}g}") if pd.notna(v) else v)
    return out


def interactive_table(df: pd.DataFrame, table_id: str, caption: str = "",
                      page_length: int = 10) -> str:
    """A searchable, sortable table (itables offline: needs `datatables_library()` in the
    page once), set up when scrolled to."""
    from itables import to_html_datatable

    return lazy(to_html_datatable(
        round_sig(df).reset_index(drop=True), caption=caption or None, connected=False,
        table_id=table_id, maxBytes=0, showIndex=False, format_floats_in_python=False,
        pageLength=page_length, lengthMenu=[10, 25, 100], classes="display compact",
        layout={"topStart": "pageLength", "topEnd": "search", "bottomStart": "info",
                "bottomEnd": "paging"}), table_id, 150 + 25 * page_length)


def datatables_library() -> str:
    """The DataTables bundle (JavaScript and CSS) that itables ships, embedded once."""
    from itables import options
    from itables.javascript import generate_init_offline_itables_html

    return generate_init_offline_itables_html(options.dt_bundle)


def plotly_library() -> str:
    """plotly.js, as the installed plotly package bundles it, embedded once, inert until
    LAZY_JS runs it."""
    from plotly.offline import get_plotlyjs

    return f'<script type="text/plain" id="bloodsig-plotly">{get_plotlyjs()}</script>'


def plotly_div(fig, div_id: str, post_script: str | None = None) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       post_script=post_script, config={"displaylogo": False})


# Draws a lazy block (runs the scripts of its template) once it is within 600 px of the
# viewport; `bloodsigDraw(el)` draws one now. IntersectionObserver is the browser's own API.
# plotly.js (most of the page's start-up time) runs when a figure first needs it, or once the
# page is idle after loading, so the first screen shows without waiting for it.
LAZY_JS = """(function () {
  function plotly() {
    var src = document.getElementById('bloodsig-plotly');
    if (!src) return;
    var run = document.createElement('script');
    run.text = src.textContent;
    src.remove();
    document.head.appendChild(run);
  }
  window.addEventListener('load', function () { requestIdleCallback(plotly); });
  var seen = new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { if (e.isIntersecting) window.bloodsigDraw(e.target); });
  }, {rootMargin: '600px 0px'});
  window.bloodsigDraw = function (el) {
    var tpl = el.querySelector(':scope > template');
    if (!tpl) return;
    seen.unobserve(el);
    if (tpl.content.querySelector('.plotly-graph-div')) plotly();
    el.replaceChildren(document.importNode(tpl.content, true));
    el.style.minHeight = '';
    el.classList.add('drawn');
  };
  document.querySelectorAll('.lazy').forEach(function (el) { seen.observe(el); });
})();"""


def lazy(content: str, name: str, min_height: int) -> str:
    """`content` (a plotly figure or interactive table, with its scripts) held inert in a
    <template> and drawn when the block nears the viewport; `min_height` (px, about the
    drawn height) keeps the page's layout while it waits. `name` (data-lazy) finds it."""
    return (f'<div class="lazy" data-lazy="{esc(name)}" style="min-height:{min_height}px">'
            f"<template>{content}</template></div>")


def json_script(data, element_id: str) -> str:
    """Data for the page's scripts, as an inert JSON block ("</" escaped)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


@dataclass
class Section:
    """One section of the report: its title, whether its stage ran, and its HTML body."""

    title: str
    body: list[str] = field(default_factory=list)
    present: bool = True
    absent_reason: str = ""

    @property
    def id(self) -> str:
        return slug(self.title)

    def add(self, *parts: str) -> Section:
        self.body.extend(p for p in parts if p)
        return self


def page(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole report: a fixed table of contents and the sections in order. Sections of
    stages that did not run stay as one line saying so."""
    nav = "".join(
        f'<a href="#{s.id}"{"" if s.present else " class=absent"}>{esc(s.title)}</a>'
        for s in sections)
    body = []
    for s in sections:
        if s.present:
            body.append(f'<section id="{s.id}" data-section="{esc(s.title)}">'
                        f"<h2>{esc(s.title)}</h2>{''.join(s.body)}</section>")
        else:
            body.append(f'<section id="{s.id}" class="absent" data-absent="{esc(s.title)}">'
                        f"<h2>{esc(s.title)}</h2><p class=\"absent-note\">"
                        f"{esc(s.absent_reason)}</p></section>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width\"><title>{esc(title)}</title>"
        f"<style>{STYLE}</style>{plotly_library()}</head><body>"
        f"{datatables_library()}"
        f"<nav id=\"toc\"><b>{esc(title)}</b>{nav}</nav><main><h1>{esc(title)}</h1>"
        f"<p>{subtitle}</p>{''.join(body)}</main><script>{LAZY_JS}</script></body></html>\n")
