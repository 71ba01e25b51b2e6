"""Differential expression (interactive volcano, per-gene expression, searchable tables) and
cell composition."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ...plots import interactive
from ...stats.normalize import calc_norm_factors, cpm
from .. import html as h
from ..files import Results
from .common import absent, analysis_n, pic, settings_sentence, stage_section, table, trim_text


# -------------------------------------------------------------------- differential expression
def expression_data(counts: pd.DataFrame, samples: pd.DataFrame, genes: list[str],
                    gene_names: pd.Series, group_column: str, order: list[str]) -> dict:
    """Per-gene log2 CPM (TMM) of `genes` (gene ids) for the report's expression plots:
    {"levels", "groups" (level index per sample), "genes": {gene_name: values}}, 2 decimals."""
    ids = [g for g in dict.fromkeys(genes) if g in counts.index]
    shared = [s for s in counts.columns if s in set(samples.index)]
    counts = counts[shared]
    logcpm = cpm(counts, norm_factors=calc_norm_factors(counts), log=True).loc[ids]
    group = samples.loc[shared, group_column].astype(str)
    levels = [lv for lv in order if lv in set(group)] + sorted(set(group) - set(order))
    index = group.map({lv: i for i, lv in enumerate(levels)}).astype(int).tolist()
    out = {}
    for gid, row in zip(ids, np.round(logcpm.to_numpy(), 2), strict=True):
        name = str(gene_names.get(gid, gid))
        out.setdefault(name, row.tolist())
    return {"levels": levels, "groups": index, "genes": out}


SHOW_GENE_JS = """
window.bloodsigShowGene = function(divId, gene) {
  var d = window.bloodsigExpr || (window.bloodsigExpr =
      JSON.parse(document.getElementById('bloodsig-expression').textContent));
  var div = document.getElementById(divId), note = document.getElementById(divId + '-note');
  var vals = d.genes[gene];
  if (!vals) { note.textContent = gene + ': per-sample expression is embedded only for ' +
      'the top genes of each analysis (see the top table).'; return; }
  note.textContent = '';
  var traces = d.levels.map(function(level, i) {
    var y = vals.filter(function(v, j) { return d.groups[j] === i; });
    return {type: 'box', y: y, name: level + ' (n=' + y.length + ')', boxpoints: 'all',
            jitter: 0.4, pointpos: 0, marker: {size: 4}, hovertemplate: '%{y:.2f}<extra></extra>'};
  });
  Plotly.react(div, traces, Object.assign({}, div.layout, {title: {text: gene, x: 0}}));
  div.setAttribute('data-gene', gene);
};
"""


def de_section(res: Results, cfg: dict, counts: pd.DataFrame | None = None,
               expression_genes: int = 150, table_rows: int = 5000) -> h.Section:
    """Per analysis: settings and n, DEG counts, confounded covariates, the interactive
    volcano (hover names the gene, click shows its expression by group), MA, heatmap,
    p-value histogram and a searchable table; then the sex-stratified comparison and the
    overlap with published lists."""
    de = cfg["de"]
    analyses = [a for a in de["analyses"] if res.has(f"de/{a}/toptable.tsv")]
    if not analyses:
        return absent("Differential expression", "de")
    sec = h.Section("Differential expression")
    fdr, lfc = de["fdr"], de["min_abs_logfc"]
    scfg = cfg["samples"]
    sec.add(settings_sentence(
        "Engine {engine}; a DEG has adj.P.Val &lt; {fdr:g} (Benjamini-Hochberg) and |logFC| "
        "&gt; {min_abs_logfc:g}; technical covariates {technical}; RNA-PC method "
        "{covariates[method]}.", de, technical=", ".join(map(str, de["technical"])) or "none"))
    counts_rows, tables, expr_genes = [], {}, []
    for a in analyses:
        tt = res.tsv(f"de/{a}/toptable.tsv")
        tables[a] = tt
        sig = (tt["adj.P.Val"] < fdr) & (tt["logFC"].abs() > lfc)
        counts_rows.append({"analysis": a, "formula": de["analyses"][a]["formula"],
                            "coefficient": de["analyses"][a]["coef"],
                            "n samples": analysis_n(res, a).removeprefix("n = ")
                            .removesuffix(" samples"),
                            "genes tested": len(tt), "up": int((sig & (tt["logFC"] > 0)).sum()),
                            "down": int((sig & (tt["logFC"] < 0)).sum())})
        expr_genes += list(tt.sort_values("P.Value", kind="stable")["gene_id"]
                           .head(expression_genes))
    sec.add("<h3>DEGs per analysis</h3>", h.static_table(pd.DataFrame(counts_rows)))
    have_expr = counts is not None and res.has("expression_qc/samples.tsv")
    if have_expr:
        samples = res.tsv("expression_qc/samples.tsv").set_index(scfg["id_column"])
        names = pd.concat(tables.values()).drop_duplicates("gene_id").set_index("gene_id")[
            "gene_name"]
        data = expression_data(counts, samples, expr_genes, names,
                               scfg["group_column"],
                               [scfg["control"], scfg["case"]])
        sec.add(h.json_script(data, "bloodsig-expression"),
                f"<script>{SHOW_GENE_JS}</script>")
    for a in analyses:
        sec.add(*_analysis_block(res, a, tables[a], fdr, lfc, have_expr, table_rows,
                                 de["analyses"][a]))
    if res.has("de/sex_comparison.tsv"):
        comp = res.tsv("de/sex_comparison.tsv")
        sec.add("<h3>Sex-stratified comparison</h3>",
                h.para(f"The male-only and female-only analyses compared gene by gene "
                       f"({len(comp)} genes; de/sex_comparison.tsv)."),
                pic(res, "de/sex_comparison.png", "logFC in males against logFC in females; "
                     "genes DE in one sex only are marked.", "60%"))
    overlap = res.glob("enrich/overlap/*_tests.tsv")
    if overlap:
        sec.add("<h3>Overlap with published DEG lists</h3>")
        for key in overlap:
            name = key.split("/")[-1].removesuffix("_tests.tsv")
            tests = res.tsv(key).drop(columns=["shared_genes"], errors="ignore")
            if "pvalue" in tests:
                tests["pvalue"] = tests["pvalue"].map(h.fmt_p)
            sec.add(f"<h4>{h.esc(name)}</h4>", h.static_table(trim_text(tests)),
                    pic(res, f"enrich/overlap/{name}_logfc.png",
                         f"logFC of the shared genes: this study against {h.esc(name)}.", "50%"))
    return sec


def _analysis_block(res: Results, a: str, tt: pd.DataFrame, fdr: float, lfc: float,
                    have_expr: bool, table_rows: int, acfg: dict) -> list[str]:
    out = [f'<h3 id="de-{h.slug(a)}">Analysis {h.esc(a)}</h3>']
    out.append(h.settings(f"Formula <code>{h.esc(acfg['formula'])}</code>, coefficient "
                          f"<code>{h.esc(acfg['coef'])}</code>"
                          + (f", subset {h.esc(acfg['subset'])}" if acfg.get("subset") else "")
                          + (f", blocked on {h.esc(acfg['block'])}" if acfg.get("block") else "")
                          + f"; {analysis_n(res, a)}."))
    if res.has(f"de/{a}/confounding.tsv"):
        conf = res.tsv(f"de/{a}/confounding.tsv")
        bad = conf[conf["confounded"].astype(str).str.lower() == "true"]
        for row in bad.itertuples(index=False):
            out.append(h.caveat(
                f"{h.esc(row.column)} is confounded with the contrast ({h.esc(row.statistic)} "
                f"{float(row.value):.2f}, n = {int(row.n)}): its effect cannot be told apart "
                "from the group's."))
    vid, eid = f"volcano-{h.slug(a)}", f"expr-{h.slug(a)}"
    fig = interactive.volcano(tt, fdr, lfc, title=f"{a}: volcano")
    post = ("document.getElementById('{plot_id}').on('plotly_click', function(ev) {"
            f"bloodsigShowGene('{eid}', ev.points[0].customdata[0]); }});") if have_expr else None
    block = [f'<div class="twocol"><div>{h.plotly_div(fig, vid, post)}</div>']
    if have_expr:
        first = str(tt.sort_values("P.Value", kind="stable")["gene_name"].iloc[0])
        empty = interactive.expression_by_group(pd.Series(dtype=float), pd.Series(dtype=str),
                                                first)
        init = f"bloodsigShowGene('{eid}', {json.dumps(first)});"
        block.append(f'<div><p id="{eid}-note" class="absent-note"></p>'
                     f"{h.plotly_div(empty, eid, init)}</div>")
    block.append("</div>")
    out.append(h.lazy("".join(block), vid, 520))
    out.append(h.para("Hover a point of the volcano to name its gene; click it to show the "
                      "gene's expression by group beside it. Volcano: every DEG is drawn; of the "
                      "other genes, where several would fall on the same spot (a cell of "
                      "1/150 of the x axis by 1/100 of the y axis) only the one of smallest P. "
                      "Expression: TMM log2 CPM of each sample after expression QC, by "
                      "group."))
    out += [pic(res, f"de/{a}/ma.png", "MA plot: logFC against mean log2 expression.", "32%"),
            pic(res, f"de/{a}/heatmap.png", "Top up and down DEGs, z-scored log2 CPM.", "32%"),
            pic(res, f"de/{a}/pvalue_hist.png", "P-value histogram (a uniform base with a "
                 "peak at 0 is expected).", "32%")]
    shown = tt.sort_values("P.Value", kind="stable").head(table_rows)
    cols = [c for c in ("gene_id", "gene_name", "logFC", "AveExpr", "t", "P.Value",
                        "adj.P.Val") if c in shown]
    out.append(h.interactive_table(
        shown[cols], f"table-de-{h.slug(a)}",
        caption=f"{a}: the {len(shown)} genes of smallest P of {len(tt)} tested "
                f"(full table: de/{a}/toptable.tsv)."))
    return out


# ----------------------------------------------------------------------------- cells
def cells_section(res: Results, cfg: dict) -> h.Section:
    return stage_section(res, cfg, "cells", _cells)


def _cells(sec: h.Section, res: Results, block: dict) -> None:
    sec.add(table(res, "cells/summary.tsv"), table(res, "cells/vif.tsv", "Collinearity (VIF)"))
    sec.add(pic(res, "cells/validation.png", "Estimated against flow-cytometry fractions.",
                 "48%"),
            pic(res, "cells/pc_association.png", "Correlation of RNA PCs with cell types.",
                 "48%"))
    sec.add(h.caveat("Cell proportions shift with disease in blood: adjusting for them removes "
                     "part of the case-control signal as well as confounding."))
