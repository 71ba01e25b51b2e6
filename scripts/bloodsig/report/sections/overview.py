"""The landing section (headlines with their n), the cohort and the provenance."""

from __future__ import annotations

import pandas as pd

from .. import html as h
from ..files import Results
from .common import (
    absent,
    analysis_n,
    best_classifier_line,
    n_groups,
    pic,
    settings_sentence,
    table,
)


# ---------------------------------------------------------------------------------- headlines
def headline_section(res: Results, cfg: dict) -> h.Section:
    """The landing section: one line per stage with its main result, each with its n, and
    only terms significant at the configured FDR."""
    sec = h.Section("Headlines")
    items = []
    if res.has("expression_qc/samples.tsv"):
        samples = res.tsv("expression_qc/samples.tsv")
        items.append(f"Cohort {h.esc(res.cohort)}: {n_groups(samples, cfg['samples'])} kept "
                     "after expression QC.")
    de = cfg.get("de")  # stages that are off have no section
    for a in (de["analyses"] if de else {}):
        if res.has(f"de/{a}/degs_up.tsv"):
            up, down = (len(res.tsv(f"de/{a}/degs_{d}.tsv")) for d in ("up", "down"))
            n = analysis_n(res, a)
            items.append(f"DE <b>{h.esc(a)}</b>: {up} up, {down} down "
                         f"(FDR &lt; {de['fdr']:g}, |logFC| &gt; "
                         f"{de['min_abs_logfc']:g}; {n}).")
    if res.has("classify/compare/auc.tsv"):
        items.append(best_classifier_line(res))
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
    for key in res.glob("enrich/*/ora_*.tsv"):
        fdr = cfg["enrich"]["fdr"]
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






# ------------------------------------------------------------------------------------- cohort
def cohort_section(res: Results, cfg: dict) -> h.Section:
    sec = h.Section("Cohort")
    if not res.has("expression_qc/samples.tsv"):
        return absent("Cohort", "expression_qc")
    samples = res.tsv("expression_qc/samples.tsv")
    qc = cfg["expression_qc"]
    sec.add(settings_sentence(
        "{n} after expression QC. A gene is kept with &ge; {min_count} counts in all but "
        "{max_fraction_below:g} of samples; globin genes removed: {remove_globin}; samples "
        "whose inferred sex disagrees with the sheet dropped: {drop_sex_mismatches}.", qc,
        n=n_groups(samples, cfg["samples"])))
    if res.has("report/cohort_table.tsv"):
        table1 = res.tsv("report/cohort_table.tsv")
        if "p_value" in table1:
            table1["p_value"] = table1["p_value"].map(h.fmt_p)
        sec.add("<h3>Table 1</h3>", h.static_table(table1.fillna("")))
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
    sec.add(pic(res, "expression_qc/pca.png", "PCA of the most variable genes (log2 CPM), "
                 "coloured by group, batch and library preparation.", "48%"),
            pic(res, "expression_qc/sex_check.png", "Sex check: XIST against chrY expression; "
                 "hollow points have no recorded sex (coloured by the inferred one)."
                 + sex_line, "48%"))
    if "sex_inferred" in samples and samples["sex_inferred"].astype(bool).any():
        sec.add(h.caveat(f"{int(samples['sex_inferred'].astype(bool).sum())} samples had no "
                         "recorded sex; it was inferred from XIST and chrY expression."))
    return sec



# ------------------------------------------------------------------------------- calibration
def calibration_section(res: Results, cfg: dict) -> h.Section | None:
    """The simulated cohort against the reference study (report/calibration.tsv; runs of the
    embedded demo only, at either scale)."""
    if not res.has("report/calibration.tsv"):
        return None
    cal = res.tsv("report/calibration.tsv")
    scale = cfg["demo"]["scale"]
    sec = h.Section("Calibration against the reference study")
    outside = cal[cal["within_band"] == "no"]
    bands = ("the study's own bands" if scale == "paper"
             else f"the wider bands of the {h.esc(scale)} scale")
    sec.add(h.para(
        f"The simulated cohort ({h.esc(scale)} scale) measured as the reference study was: "
        f"each statistic of this run beside the study's value and {bands} "
        "(resources/calibration.tsv); rows truth_* measure the recovery of the planted truth. "
        f"{len(cal) - len(outside)} of {len(cal)} rows within their band."))
    if not outside.empty:
        sec.add(h.caveat("Outside the band: " + ", ".join(h.esc(v) for v in
                                                            outside["statistic"]) + "."))
    sec.add(h.static_table(cal.fillna("")))
    return sec


def runtime_section(res: Results, cfg: dict) -> h.Section | None:
    """The run's 10 slowest rules (results/benchmarks_slowest.tsv)."""
    path = "results/benchmarks_slowest.tsv"
    if not res.has(path):
        return None
    slowest = res.tsv(path)
    sec = h.Section("Run time")
    sec.add(h.para(
        "The rules with the most wall time in this run, summed over their jobs, with the CPU "
        "time and the largest job's peak memory (Snakemake's benchmark files beside the logs; "
        "every job in results/benchmarks.tsv). Built after them, this page is not among them. "
        "A rule that did not rerun keeps its last timing."))
    sec.add(h.static_table(slowest))
    return sec


# ---------------------------------------------------------------------------- provenance
def provenance_section(res: Results, cfg: dict) -> h.Section:
    sec = h.Section("Provenance")
    sec.add(table(res, "results/provenance/versions.tsv", "Software versions"))
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
