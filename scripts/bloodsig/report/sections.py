"""The sections of the study report, in the order the reference study presents its results.

Each `*_section(res, cfg)` reads the files of one stage from a `Results` and returns a
`Section`: its settings (thresholds, n), its figures and tables, and its caveats. A stage that
did not run gives a section that says so. `cfg` holds the config sections of the stages
(as the report rule passes them).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..plots import interactive
from ..stats.normalize import calc_norm_factors, cpm
from . import html as h
from .files import Results

# Text columns that list genes: cut in tables (the TSV keeps them whole).
LONG_TEXT = 80


def absent(title: str, stage: str) -> h.Section:
    return h.Section(title, present=False,
                     absent_reason=f"Not run: stage {stage} is off in this run's config "
                                   f"(stages.{stage}), so this section is left out.")


def trim_text(df: pd.DataFrame, max_chars: int = LONG_TEXT) -> pd.DataFrame:
    """Text cells longer than `max_chars` cut with an ellipsis (gene lists of ORA/GSEA)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: v if not isinstance(v, str) or len(v) <= max_chars
                                    else v[:max_chars] + "…")
    return out


def _fig(res: Results, key: str, caption: str, width: str | None = None) -> str:
    return h.png(res.path(key), key, caption, width) if res.has(key) else ""


def _n_groups(samples: pd.DataFrame, scfg: dict) -> str:
    col = scfg.get("group_column", "group")
    counts = samples[col].astype(str).value_counts()
    case, ctrl = scfg.get("case"), scfg.get("control")
    parts = [f"{counts.get(case, 0)} {case}", f"{counts.get(ctrl, 0)} {ctrl}"]
    parts += [f"{n} {g}" for g, n in counts.items() if g not in (case, ctrl)]
    return f"n = {len(samples)} samples ({', '.join(parts)})"


# ---------------------------------------------------------------------------------- headlines
def headline_section(res: Results, cfg: dict) -> h.Section:
    """The landing section: one line per stage with its main result, each with its n, and
    only terms significant at the configured FDR."""
    sec = h.Section("Headlines")
    items = []
    if res.has("expression_qc/samples.tsv"):
        samples = res.tsv("expression_qc/samples.tsv")
        items.append(f"Cohort {h.esc(res.cohort)}: {_n_groups(samples, cfg['samples'])} kept "
                     "after expression QC.")
    de = cfg.get("de") or {}
    for a in (de.get("analyses") or {}):
        if res.has(f"de/{a}/degs_up.tsv"):
            up, down = (len(res.tsv(f"de/{a}/degs_{d}.tsv")) for d in ("up", "down"))
            n = _analysis_n(res, a)
            items.append(f"DE <b>{h.esc(a)}</b>: {up} up, {down} down "
                         f"(FDR &lt; {de.get('fdr', 0.01):g}, |logFC| &gt; "
                         f"{de.get('min_abs_logfc', 0.1):g}; {n}).")
    if res.has("classify/compare/auc.tsv"):
        items.append(_best_classifier_line(res))
    if res.has("classify/nested/summary.tsv"):
        nest = res.tsv("classify/nested/summary.tsv").iloc[0]
        items.append(f"Nested-CV AUC of {h.esc(nest['model'])}: "
                     f"{nest['nested_cv_auc']:.3f} (sd {nest['nested_cv_sd']:.3f} over "
                     f"{int(nest['outer_folds'])} outer folds; n = {int(nest['n'])}).")
    if res.has("survival/cindex.tsv"):
        ci = res.tsv("survival/cindex.tsv")
        best = ci.sort_values("c_index", ascending=False).iloc[0]
        items.append(f"Best survival model {h.esc(best['model'])} ({h.esc(best['cohort'])}): "
                     f"C-index {best['c_index']:.3f} [{best['ci_lower']:.3f}, "
                     f"{best['ci_upper']:.3f}], n = {int(best['n'])}, "
                     f"{int(best['events'])} events.")
    enrich = cfg.get("enrich") or {}
    fdr = enrich.get("fdr", 0.05)
    for key in res.glob("enrich/*/ora_*.tsv"):
        ora = res.tsv(key)
        sig = ora[ora["FDR"] < fdr].sort_values(["FDR", "term"])
        analysis, coll = key.split("/")[1], key.split("ora_")[1][:-4]
        if sig.empty:
            items.append(f"ORA {h.esc(analysis)} / {h.esc(coll)}: no term at FDR &lt; {fdr:g}.")
            continue
        top = "; ".join(f"{h.esc(t)} ({d}, FDR {h.fmt_p(q)})" for t, d, q in
                        sig[["term", "direction", "FDR"]].head(3).itertuples(index=False))
        items.append(f"ORA {h.esc(analysis)} / {h.esc(coll)}: {len(sig)} terms at FDR &lt; "
                     f"{fdr:g}; top: {top}.")
    for key in res.glob("connectivity/*/candidates.tsv"):
        cands = res.tsv(key)
        names = ", ".join(h.esc(v) for v in cands.get("pert_name", cands.iloc[:, 1]).head(5))
        items.append(f"Drug candidates of query {h.esc(key.split('/')[1])}: {len(cands)} "
                     f"(first: {names or 'none'}).")
    if res.has("subtypes/summary.tsv"):
        s = res.tsv("subtypes/summary.tsv").set_index("metric")["value"]
        items.append(f"Immune subtypes: k = {s.get('k')} clusters of {s.get('n_samples')} "
                     f"samples (silhouette {float(s.get('silhouette', 'nan')):.2f}).")
    sec.add("<ul class=\"headline\">" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
    return sec


def _best_classifier_line(res: Results) -> str:
    auc = res.tsv("classify/compare/auc.tsv")
    best = auc[auc["best"].astype(str).str.lower() == "true"]
    if best.empty:
        return "Classifier comparison: no algorithm flagged best in compare/auc.tsv."
    b = best.iloc[0]
    return (f"Best classifier by the comparison's rule (compare/auc.tsv): "
            f"<b>{h.esc(b['algorithm'])}</b>, held-out test AUC {b['test_auc']:.3f} "
            f"[95% CI {b['ci_low']:.3f}, {b['ci_high']:.3f}] on n = {int(b['n_test'])} test "
            f"samples ({int(b['n_test_cases'])} cases, {int(b['n_test_controls'])} controls)"
            + (f"; {h.esc(b['reliability'])}" if isinstance(b.get("reliability"), str)
               and b["reliability"] else "") + ".")


def _analysis_n(res: Results, analysis: str) -> str:
    key = f"de/{analysis}/covariates.tsv"
    return f"n = {len(res.tsv(key))} samples" if res.has(key) else "n not recorded"


# ------------------------------------------------------------------------------------- cohort
def cohort_section(res: Results, cfg: dict) -> h.Section:
    sec = h.Section("Cohort")
    if not res.has("expression_qc/samples.tsv"):
        return absent("Cohort", "expression_qc")
    samples = res.tsv("expression_qc/samples.tsv")
    qc = cfg.get("expression_qc") or {}
    sec.add(h.settings(
        f"{_n_groups(samples, cfg['samples'])} after expression QC. A gene is kept with "
        f"&ge; {qc.get('min_count', 5)} counts in all but {qc.get('max_fraction_below', 0.5):g}"
        f" of samples; globin genes removed: {qc.get('remove_globin', True)}; samples whose "
        f"inferred sex disagrees with the sheet dropped: {qc.get('drop_sex_mismatches', True)}."))
    if res.has("report/cohort_table.tsv"):
        table = res.tsv("report/cohort_table.tsv")
        if "p_value" in table:
            table["p_value"] = table["p_value"].map(h.fmt_p)
        sec.add("<h3>Table 1</h3>", h.static_table(table.fillna("")))
    else:
        sec.add(h.para("Table 1 is written by stage report (report/cohort_table.tsv); "
                       "not in this run."))
    sex_line = ""
    if res.has("expression_qc/sample_report.tsv"):
        rep = res.tsv("expression_qc/sample_report.tsv")
        dropped = rep[~rep.get("kept", pd.Series(True, index=rep.index)).astype(bool)]
        sec.add(h.para(f"Sample QC: {len(rep)} samples checked, {len(dropped)} dropped "
                       "(expression_qc/sample_report.tsv)."))
        if "threshold" in rep:
            sex_line = (f" Dashed line: the check's threshold, chrY - XIST = "
                        f"{rep['threshold'].iloc[0]:.2f}.")
    if res.has("expression_qc/gene_report.tsv"):
        genes = res.tsv("expression_qc/gene_report.tsv")
        if "kept" in genes:
            sec.add(h.para(f"Genes: {int(genes['kept'].sum())} of {len(genes)} kept."))
    sec.add(_fig(res, "expression_qc/pca.png", "PCA of the most variable genes (log2 CPM), "
                 "coloured by group, batch and library preparation.", "48%"),
            _fig(res, "expression_qc/sex_check.png", "Sex check: XIST against chrY expression; "
                 "hollow points have no recorded sex (coloured by the inferred one)."
                 + sex_line, "48%"))
    if "sex_inferred" in samples and samples["sex_inferred"].astype(bool).any():
        sec.add(h.caveat(f"{int(samples['sex_inferred'].astype(bool).sum())} samples had no "
                         "recorded sex; it was inferred from XIST and chrY expression."))
    return sec


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
    de = cfg.get("de") or {}
    analyses = [a for a in (de.get("analyses") or {}) if res.has(f"de/{a}/toptable.tsv")]
    if not analyses:
        return absent("Differential expression", "de")
    sec = h.Section("Differential expression")
    fdr, lfc = de.get("fdr", 0.01), de.get("min_abs_logfc", 0.1)
    scfg = cfg["samples"]
    sec.add(h.settings(
        f"Engine {h.esc(de.get('engine', 'limma'))}; a DEG has adj.P.Val &lt; {fdr:g} "
        f"(Benjamini-Hochberg) and |logFC| &gt; {lfc:g}; technical covariates "
        f"{h.esc(', '.join(map(str, de.get('technical', []))) or 'none')}; RNA-PC method "
        f"{h.esc((de.get('covariates') or {}).get('method', 'rna_pcs'))}."))
    counts_rows, tables, expr_genes = [], {}, []
    for a in analyses:
        tt = res.tsv(f"de/{a}/toptable.tsv")
        tables[a] = tt
        sig = (tt["adj.P.Val"] < fdr) & (tt["logFC"].abs() > lfc)
        counts_rows.append({"analysis": a, "formula": de["analyses"][a].get("formula", ""),
                            "coefficient": de["analyses"][a].get("coef", ""),
                            "n samples": _analysis_n(res, a).removeprefix("n = ")
                            .removesuffix(" samples"),
                            "genes tested": len(tt), "up": int((sig & (tt["logFC"] > 0)).sum()),
                            "down": int((sig & (tt["logFC"] < 0)).sum())})
        expr_genes += list(tt.sort_values("P.Value", kind="stable")["gene_id"]
                           .head(expression_genes))
    sec.add("<h3>DEGs per analysis</h3>", h.static_table(pd.DataFrame(counts_rows)))
    have_expr = counts is not None and res.has("expression_qc/samples.tsv")
    if have_expr:
        samples = res.tsv("expression_qc/samples.tsv").set_index(scfg.get("id_column",
                                                                          "sample_id"))
        names = pd.concat(tables.values()).drop_duplicates("gene_id").set_index("gene_id")[
            "gene_name"]
        data = expression_data(counts, samples, expr_genes, names,
                               scfg.get("group_column", "group"),
                               [scfg.get("control"), scfg.get("case")])
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
                _fig(res, "de/sex_comparison.png", "logFC in males against logFC in females; "
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
                    _fig(res, f"enrich/overlap/{name}_logfc.png",
                         f"logFC of the shared genes: this study against {h.esc(name)}.", "50%"))
    return sec


def _analysis_block(res: Results, a: str, tt: pd.DataFrame, fdr: float, lfc: float,
                    have_expr: bool, table_rows: int, acfg: dict) -> list[str]:
    out = [f'<h3 id="de-{h.slug(a)}">Analysis {h.esc(a)}</h3>']
    out.append(h.settings(f"Formula <code>{h.esc(acfg.get('formula', ''))}</code>, coefficient "
                          f"<code>{h.esc(acfg.get('coef', ''))}</code>"
                          + (f", subset {h.esc(acfg['subset'])}" if acfg.get("subset") else "")
                          + (f", blocked on {h.esc(acfg['block'])}" if acfg.get("block") else "")
                          + f"; {_analysis_n(res, a)}."))
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
    out += [_fig(res, f"de/{a}/ma.png", "MA plot: logFC against mean log2 expression.", "32%"),
            _fig(res, f"de/{a}/heatmap.png", "Top up and down DEGs, z-scored log2 CPM.", "32%"),
            _fig(res, f"de/{a}/pvalue_hist.png", "P-value histogram (a uniform base with a "
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
    if not res.any("cells/*"):
        return absent("Cell composition", "cells")
    sec = h.Section("Cell composition")
    c = cfg.get("cells") or {}
    sec.add(h.settings(f"Estimate used: {h.esc(c.get('estimate', 'auto'))}; a cell type is "
                       f"dropped while its VIF exceeds "
                       f"{(c.get('collinearity') or {}).get('max_vif', 10)}."))
    if res.has("cells/summary.tsv"):
        sec.add(h.static_table(res.tsv("cells/summary.tsv")))
    if res.has("cells/vif.tsv"):
        sec.add("<h3>Collinearity (VIF)</h3>", h.static_table(res.tsv("cells/vif.tsv")))
    sec.add(_fig(res, "cells/validation.png", "Estimated against flow-cytometry fractions.",
                 "48%"),
            _fig(res, "cells/pc_association.png", "Correlation of RNA PCs with cell types.",
                 "48%"))
    sec.add(h.caveat("Cell proportions shift with disease in blood: adjusting for them removes "
                     "part of the case-control signal as well as confounding."))
    return sec


# ------------------------------------------------------------------------------ classifiers
def classify_section(res: Results, cfg: dict) -> h.Section:
    if not res.any("classify/*"):
        return absent("Classifiers", "classify")
    sec = h.Section("Classifiers")
    c = cfg.get("classify") or {}
    comp = c.get("compare") or {}
    sec.add(h.settings(
        f"Genes of DE analysis {h.esc(c.get('analysis', ''))} (filter "
        f"{h.esc(comp.get('filter', ''))}); held-out test part {comp.get('test_fraction', '')}"
        f" of the patients; nested CV with {(c.get('nested') or {}).get('outer_folds', '')} "
        "outer folds; AUC confidence intervals by DeLong."))
    if res.has("classify/compare/auc.tsv"):
        auc = res.tsv("classify/compare/auc.tsv")
        sec.add("<h3>Comparison of algorithms (held-out test split)</h3>",
                h.para(_best_classifier_line(res)), h.static_table(trim_text(auc)))
        n = int(auc["n_test"].iloc[0]) if "n_test" in auc else None
        if n is not None and n < 50:
            sec.add(h.caveat(f"The test split has {n} samples: AUCs of 1.0 and CIs of width 0 "
                             "are expected by chance at this size; the nested-CV AUC below "
                             "is the honest estimate."))
    if res.has("classify/compare/grouping.tsv"):
        sec.add("<h3>Test split by patient against one ignoring patients</h3>",
                h.para("A split that ignores patients puts repeat samples of one patient on "
                       "both sides: its AUC is leaky, shown only to measure the leak "
                       "(classify/compare/grouping.tsv)."),
                h.static_table(trim_text(res.tsv("classify/compare/grouping.tsv"))))
    sec.add(_fig(res, "classify/compare/roc.png", "ROC curves on the held-out test split.",
                 "48%"))
    if res.has("classify/nested/summary.tsv"):
        sec.add("<h3>Nested cross-validation</h3>",
                h.static_table(trim_text(res.tsv("classify/nested/summary.tsv"))))
    if res.has("classify/panels/panels.tsv"):
        panels = res.tsv("classify/panels/panels.tsv")
        sec.add("<h3>Gene panels (XGBoost RFE)</h3>", h.static_table(trim_text(panels)))
        if "n_genes" in panels and (panels["n_genes"] <= 2).any():
            sec.add(h.caveat("Some panels have only 1-2 genes: their AUC rests on single "
                             "genes and is unlikely to hold in another cohort."))
    sec.add(_fig(res, "classify/panels/rfe_curves.png", "RFE: CV AUC against panel size.",
                 "48%"),
            _fig(res, "classify/panels/importance.png", "Gene importance in the panels.", "48%"),
            _fig(res, "classify/panels/overlap.png", "Overlap of the panels' genes.", "48%"))
    for key in res.glob("classify/external/*/metrics.tsv"):
        name = key.split("/")[2]
        sec.add(f"<h3>External validation: {h.esc(name)}</h3>",
                h.static_table(trim_text(res.tsv(key))),
                _fig(res, f"classify/external/{name}/roc.png", f"ROC in cohort {name}.",
                     "48%"))
    return sec


# ------------------------------------------------------------------------------- survival
def survival_section(res: Results, cfg: dict) -> h.Section:
    if not res.any("survival/*"):
        return absent("Survival", "survival")
    sec = h.Section("Survival")
    s = cfg.get("survival") or {}
    sec.add(h.settings(
        f"Cases with {h.esc(s.get('time_column', ''))} ({h.esc(s.get('time_unit', ''))}) and "
        f"{h.esc(s.get('event_column', ''))}; clinical covariates "
        f"{h.esc(', '.join(s.get('clinical', [])))}; log-rank screen P &lt; "
        f"{s.get('logrank_p', 0.05)}; {s.get('splits', '')} train/test splits "
        f"({s.get('test_fraction', '')} test); risk groups by {h.esc(s.get('risk_model', ''))}"
        f" at quantiles {s.get('risk_quantiles', '')}."))
    for key, title in (("survival/cindex.tsv", "C-index"),
                       ("survival/cindex_tests.tsv", "C-index tests"),
                       ("survival/splits_tests.tsv", "Across train/test splits"),
                       ("survival/risk_group_summary.tsv", "Risk groups"),
                       ("survival/risk_group_tests.tsv", "Risk-group tests")):
        if res.has(key):
            t = res.tsv(key)
            for col in [c for c in t.columns if c.lower() in ("p", "pvalue", "p_value")]:
                t[col] = t[col].map(h.fmt_p)
            sec.add(f"<h3>{title}</h3>", h.static_table(trim_text(t)))
    sec.add(_fig(res, "survival/km.png", "Kaplan-Meier curves of the risk groups.", "48%"),
            _fig(res, "survival/td_auc.png", "Time-dependent AUC.", "48%"))
    for key in res.glob("*/survival/km.png"):
        sec.add(_fig(res, key, f"External cohort: {key}.", "48%"))
    if res.has("survival/cindex.tsv"):
        ci = res.tsv("survival/cindex.tsv")
        if "events" in ci and (ci["events"] < 50).any():
            sec.add(h.caveat("Some C-indices rest on fewer than 50 events: wide intervals."))
    return sec


# ------------------------------------------------------------------------------- pathways
def pathways_section(res: Results, cfg: dict) -> h.Section:
    if not res.any("enrich/*"):
        return absent("Pathways", "enrich")
    sec = h.Section("Pathways")
    e = cfg.get("enrich") or {}
    fdr = e.get("fdr", 0.05)
    g = e.get("gsea") or {}
    sec.add(h.settings(
        f"ORA of the up and down DEGs (universe: {h.esc(e.get('universe', 'tested'))}; sets of "
        f"{e.get('min_size', 10)}-{e.get('max_size', 500)} genes); significant: BH FDR &lt; "
        f"{fdr:g}. Only significant terms are listed."))
    for key in res.glob("enrich/*/ora_*.tsv"):
        analysis, coll = key.split("/")[1], key.split("ora_")[1][:-4]
        ora = res.tsv(key)
        sig = ora[ora["FDR"] < fdr].sort_values(["direction", "FDR", "term"])
        sec.add(f"<h3>ORA {h.esc(analysis)} / {h.esc(coll)}</h3>",
                h.para(f"{len(sig)} of {len(ora)} terms tested at FDR &lt; {fdr:g}."))
        if not sig.empty:
            cols = [c for c in ("direction", "term", "Count", "set_size", "fold_enrichment",
                                "pvalue", "FDR") if c in sig]
            shown = sig[cols].copy()
            for c in ("pvalue", "FDR"):
                if c in shown:
                    shown[c] = shown[c].map(h.fmt_p)
            sec.add(h.static_table(shown.head(40)))
        sec.add(_fig(res, key.replace(".tsv", ".png"), f"ORA dot plot, {analysis} / {coll}.",
                     "60%"))
    for key in res.glob("enrich/*/map_*.png"):
        sec.add("<h3>Enrichment map</h3>",
                _fig(res, key, f"Enrichment map ({key.split('/')[1]}): terms linked by shared "
                     "genes.", "70%"))
    for key in res.glob("enrich/*/gsea_*.tsv"):
        analysis, coll = key.split("/")[1], key.split("gsea_")[1][:-4]
        gs = res.tsv(key)
        floor = 1 / g["permutations"] if g.get("permutations") else None
        shown = gs.drop(columns=["leading_edge"], errors="ignore").head(30).copy()
        for c in ("pvalue", "FDR", "FWER"):
            if c in shown:
                shown[c] = shown[c].map(lambda v, f=floor: h.fmt_p(v, f))
        sec.add(f"<h3>GSEA {h.esc(analysis)} / {h.esc(coll)}</h3>",
                h.settings(f"Preranked by -log10(P) x sign(logFC); {g.get('permutations', '')} "
                           "gene-set permutations, so p and FDR below 1/permutations read "
                           "&lt; 1/permutations."),
                h.static_table(trim_text(shown)),
                _fig(res, key.replace(".tsv", ".png"), "Enrichment plots of the sets with the "
                     "smallest FDR.", "70%"))
    for key in res.glob("enrich/compare_*.tsv"):
        comp = res.tsv(key)
        sec.add(f"<h3>Terms gained and lost with cell adjustment ({h.esc(key[15:-4])})</h3>",
                h.static_table(trim_text(comp.head(30))))
    return sec


# ------------------------------------------------------------------------- connectivity
def candidates_section(res: Results, cfg: dict) -> h.Section:
    if not res.any("connectivity/*"):
        return absent("Drug candidates", "connectivity")
    sec = h.Section("Drug candidates")
    c = cfg.get("connectivity") or {}
    cand = c.get("candidates") or {}
    sec.add(h.settings(
        f"Core genes: DEGs at FDR &lt; {c.get('fdr', '')} and |logFC| &gt; "
        f"{c.get('min_abs_logfc', '')} shared with the disease tissues; "
        f"{h.esc(cand.get('direction', 'reversing'))} perturbagens with FDR q &lt; "
        f"{cand.get('max_fdr', '')}, known mechanism required: {cand.get('require_moa', '')};"
        f" ranked by tau."))
    for key in res.glob("connectivity/*/overlaps.tsv"):
        sec.add(f"<h3>Core genes: {h.esc(key.split('/')[1])}</h3>",
                h.static_table(trim_text(res.tsv(key))),
                _fig(res, key.replace(".tsv", ".png"), "Overlap of the DEG lists.", "48%"))
    for key in res.glob("connectivity/*/candidates.tsv"):
        q = key.split("/")[1]
        cands = res.tsv(key)
        sec.add(f"<h3>Candidates of query {h.esc(q)}</h3>",
                h.interactive_table(trim_text(cands), f"table-candidates-{h.slug(q)}",
                                    caption=f"{len(cands)} candidates ({key})."),
                _fig(res, f"connectivity/{q}/network.png", "Candidates and their targets.",
                     "70%"))
    sec.add(h.caveat("Connectivity scores come from cell lines, not blood: candidates are "
                     "hypotheses to test, not treatments."))
    return sec


# ------------------------------------------------------------------------------- subtypes
def subtypes_section(res: Results, cfg: dict) -> h.Section:
    if not res.any("subtypes/*"):
        return absent("Immune subtypes", "subtypes")
    sec = h.Section("Immune subtypes")
    s = cfg.get("subtypes") or {}
    sec.add(h.settings(
        f"Samples {h.esc(s.get('subset') or 'all')}; k = {s.get('k', '')}; "
        f"{h.esc(s.get('linkage', ''))} linkage on correlation distance; DE of C1 against the "
        f"others: padj &lt; {(s.get('de') or {}).get('fdr', '')}, |log2FC| &gt; "
        f"{(s.get('de') or {}).get('min_abs_log2fc', '')}."))
    if res.has("subtypes/summary.tsv"):
        sec.add(h.static_table(res.tsv("subtypes/summary.tsv")))
    if res.has("subtypes/clusters.tsv"):
        cl = res.tsv("subtypes/clusters.tsv")
        sec.add(h.para(f"{len(cl)} samples clustered (subtypes/clusters.tsv)."))
    sec.add(_fig(res, "subtypes/heatmap.png", "Signature z-scores by cluster.", "60%"),
            _fig(res, "subtypes/markers.png", "Marker genes by cluster.", "48%"),
            _fig(res, "subtypes/correlation.png", "Sample correlation; repeat samples of a "
                 "patient marked.", "48%"),
            _fig(res, "subtypes/volcano.png", "DE between the clusters.", "48%"))
    return sec


# ----------------------------------------------------------------------------------- qPCR
def qpcr_section(res: Results, cfg: dict) -> h.Section | None:
    if not res.has("report/qpcr.tsv"):
        return None
    sec = h.Section("qPCR")
    q = (cfg.get("report") or {}).get("qpcr") or {}
    sec.add(h.settings(f"Delta-delta-Ct against the mean of "
                       f"{h.esc(', '.join(q.get('reference_genes', [])))}; compared with the "
                       f"RNA-seq logFC of analysis {h.esc(q.get('analysis', ''))}."))
    t = res.tsv("report/qpcr.tsv")
    if "P.Value" in t:
        t["P.Value"] = t["P.Value"].map(h.fmt_p)
    sec.add(h.static_table(t), _fig(res, "report/qpcr.png", "qPCR against RNA-seq fold "
                                    "changes.", "48%"))
    return sec


# ---------------------------------------------------------------------------- provenance
def provenance_section(res: Results, cfg: dict) -> h.Section:
    sec = h.Section("Provenance")
    if res.has("results/provenance/versions.tsv"):
        sec.add("<h3>Software versions</h3>",
                h.static_table(res.tsv("results/provenance/versions.tsv")))
    if res.has("results/provenance/checksums.tsv"):
        sums = res.tsv("results/provenance/checksums.tsv")
        sec.add(f"<details><summary>Input checksums ({len(sums)} files)</summary>"
                f"{h.static_table(sums)}</details>")
    if res.has("results/provenance/config.yaml"):
        sec.add("<details><summary>Resolved config</summary><pre>"
                f"{h.esc(res.text('results/provenance/config.yaml'))}</pre></details>")
    if len(sec.body) == 0:
        sec.add(h.para("Provenance (versions, checksums, resolved config) is written by stage "
                       "report; not in this run."))
    return sec
