"""The study report's library (bloodsig.report) and the figure fixes it relies on: p-values
below the floor read "< 1e-N", the volcano keeps every DEG and stays small, headlines list only
significant terms and the classifier auc.tsv flags with its CI and n, sections of stages that
did not run say so, and a heatmap of hundreds of signatures stays under 4,000 pixels."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from bloodsig import plots
from bloodsig.core.configcheck import fill_defaults
from bloodsig.core.sheets import load_schema
from bloodsig.plots import interactive
from bloodsig.plots import subtypes as subtype_plots
from bloodsig.report import html as h
from bloodsig.report.build import report_page
from bloodsig.report.files import Results
from bloodsig.report.sections import expression

SAMPLES_CFG = {"group_column": "group", "case": "ALS", "control": "control",
               "id_column": "sample_id"}
ROOT = Path(__file__).resolve().parents[2]


def report_settings(**sections) -> dict:
    """The stage sections as the report rule passes them: the given ones, with the schema's
    defaults filled in at load (as the Snakefile does)."""
    schema = load_schema(ROOT / "config/schemas/config.schema.yaml")["properties"]
    return {"samples": SAMPLES_CFG,
            **{name: fill_defaults(value, schema[name]) for name, value in sections.items()}}


def test_fmt_p_never_shows_zero():
    assert h.fmt_p(0.0) == "< 1e-300"
    assert h.fmt_p(0.0, floor=1e-3) == "< 1e-3"
    assert h.fmt_p(0.0004, floor=1e-3) == "< 1e-3"
    assert h.fmt_p(0.0123) == "0.012"
    assert h.fmt_p(3.2e-12) == "3.2e-12"
    assert h.fmt_p(float("nan")) == ""


def _toptable(n=20000, n_de=40, seed=1):
    rng = np.random.default_rng(seed)
    p = np.sort(rng.uniform(size=n))
    p[:n_de] = 10.0 ** -rng.uniform(5, 20, n_de)
    lfc = rng.normal(0, 0.2, n)
    lfc[:n_de] = np.where(np.arange(n_de) % 2, 1.0, -1.0)
    adj = np.minimum(1, p * n / np.arange(1, n + 1))
    return pd.DataFrame({"gene_id": [f"G{i}" for i in range(n)],
                         "gene_name": [f"N{i}" for i in range(n)], "logFC": lfc,
                         "AveExpr": 5.0, "t": 0.0, "P.Value": p, "adj.P.Val": adj, "B": 0.0})


def test_volcano_keeps_degs_and_thins_the_rest():
    tt = _toptable()
    pts = interactive.volcano_points(tt, 0.01, 0.1, grid=(150, 100))
    degs = tt[(tt["adj.P.Val"] < 0.01) & (tt["logFC"].abs() > 0.1)]
    assert set(degs["gene_id"]) <= set(pts["gene_id"])
    # the others: at most one per grid cell, the cloud's top (smallest P) kept
    rest = pts[pts["cls"] == "not significant"]
    assert len(rest) < 0.25 * (len(tt) - len(degs)) and len(rest) <= 150 * 100
    assert tt.loc[~tt["gene_id"].isin(degs["gene_id"]), "P.Value"].idxmin() in rest.index
    fig = interactive.volcano(tt, 0.01, 0.1)
    names = {t.name.split(" (")[0]: t for t in fig.data}
    assert len(names["up"].x) + len(names["down"].x) == len(degs)
    assert "(n=20" in names["up"].name or names["up"].name.endswith(f"(n={len(degs) // 2})")
    # hovering names the gene; the click handler reads the name from customdata
    assert list(names["up"].customdata[:, 0]) == list(
        pts.loc[pts["cls"] == "up", "gene_name"])


def test_expression_data_embeds_only_the_asked_genes():
    rng = np.random.default_rng(3)
    counts = pd.DataFrame(rng.poisson(50, size=(30, 6)), index=[f"G{i}" for i in range(30)],
                          columns=[f"S{i}" for i in range(6)])
    samples = pd.DataFrame({"group": ["ALS", "control"] * 3}, index=counts.columns)
    names = pd.Series({g: f"N{g}" for g in counts.index})
    data = expression.expression_data(counts, samples, ["G1", "G5", "G1"], names, "group",
                                    ["control", "ALS"])
    assert data["levels"] == ["control", "ALS"] and data["groups"] == [1, 0] * 3
    assert list(data["genes"]) == ["NG1", "NG5"] and len(data["genes"]["NG1"]) == 6


@pytest.fixture
def results(tmp_path):
    """A run of stages expression_qc, de and enrich (one analysis), classify's tables."""
    base = tmp_path / "results/c1"
    files = {}

    def write(key, df):
        path = base / key
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, sep="\t", index=False)
        files[key] = path

    rng = np.random.default_rng(0)
    ids = [f"S{i}" for i in range(12)]
    write("expression_qc/samples.tsv", pd.DataFrame({"sample_id": ids,
                                                     "group": ["ALS", "control"] * 6}))
    counts = pd.DataFrame(rng.poisson(40, size=(60, 12)), columns=ids,
                          index=pd.Index([f"G{i}" for i in range(60)], name="gene_id"))
    tt = _toptable(60, 6)
    write("de/primary/toptable.tsv", tt)
    sig = (tt["adj.P.Val"] < 0.01) & (tt["logFC"].abs() > 0.1)
    write("de/primary/degs_up.tsv", tt[sig & (tt["logFC"] > 0)])
    write("de/primary/degs_down.tsv", tt[sig & (tt["logFC"] < 0)])
    write("de/primary/covariates.tsv", pd.DataFrame({"sample_id": ids}))
    write("de/primary/confounding.tsv", pd.DataFrame({
        "column": ["batch"], "in_formula": [True], "kind": ["factor"],
        "statistic": ["cramers_v"], "value": [0.95], "strength": [0.95], "n": [12],
        "confounded": [True], "separates": [False]}))
    write("enrich/primary/ora_hallmark.tsv", pd.DataFrame({
        "direction": ["up", "up", "down"], "term": ["SIG_TERM", "NS_TERM", "NS_TERM2"],
        "Count": [5, 3, 2], "pvalue": [1e-6, 0.02, 0.3], "FDR": [1e-5, 0.36, 0.79]}))
    write("classify/compare/auc.tsv", pd.DataFrame({
        "algorithm": ["lasso", "ridge", "xgboost"], "test_auc": [1.0, 1.0, 0.93],
        "ci_low": [1.0, 1.0, 0.85], "ci_high": [1.0, 1.0, 0.99], "n_test": [10, 10, 10],
        "n_test_cases": [5, 5, 5], "n_test_controls": [5, 5, 5],
        "reliability": ["", "", "small test set"], "best": [False, False, True]}))
    return Results([str(p) for p in files.values()], "c1"), counts


def test_report_page_sections_and_headlines(results):
    res, counts = results
    demo = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    cfg = report_settings(
        de={"fdr": 0.01, "min_abs_logfc": 0.1,
            "analyses": {"primary": {"formula": "~ group", "coef": "groupALS"}}},
        enrich={"fdr": 0.05}, expression_qc={},
        classify={**demo["classify"], "analysis": "primary"})
    text = report_page(res, cfg, "t", counts)
    present = re.findall(r'data-section="([^"]+)"', text)
    absent = re.findall(r'data-absent="([^"]+)"', text)
    assert present == ["Headlines", "Cohort", "Differential expression", "Classifiers",
                       "Pathways", "Provenance"]
    assert absent == ["Cell composition", "Survival", "Drug candidates", "Immune subtypes"]
    assert "Not run: stage survival is off" in text
    head = text.split('data-section="Headlines"')[1].split('data-section="Cohort"')[0]
    # only terms significant at the configured FDR; the flagged classifier, its CI and n
    assert "SIG_TERM" in head and "NS_TERM" not in head
    assert "<b>xgboost</b>, held-out test AUC 0.930 [95% CI 0.850, 0.990] on n = 10" in head
    assert "lasso" not in head
    assert "n = 12 samples" in head
    # confounded covariates are a caveat; the small test set is one too
    assert re.search(r'class="caveat"><b>Caveat.</b> batch is confounded', text)
    assert "The test split has 10 samples" in text
    # per-gene expression embedded for the top genes only, as inert JSON
    blob = re.search(r'id="bloodsig-expression">(.*?)</script>', text).group(1)
    assert len(json.loads(blob)["genes"]) == 60  # fewer than 150 genes: all of them
    # one page: plotly.js and DataTables embedded once, nothing loaded from elsewhere
    assert text.count("<script src=") == 0 and not re.search(r"<link[^>]+href=", text)
    assert text.count("window._itables_") >= 1
    # figures and tables wait, inert, until scrolled to; so does plotly.js until needed
    assert re.search(r'<div class="lazy" data-lazy="volcano-[^"]+" [^>]*><template>', text)
    assert re.search(r'<div class="lazy" data-lazy="table-de-[^"]+" [^>]*><template>', text)
    assert text.count('<script type="text/plain" id="bloodsig-plotly">') == 1


def test_png_embeds_and_tables_escape(tmp_path):
    fig = plots.new_figure(2, 2)
    path = tmp_path / "f.png"
    fig.savefig(path)
    assert h.png(path, "f", "cap").startswith(
        '<figure><img alt="f" loading="lazy" decoding="async" src="data:image/png;base64,')
    table = h.static_table(pd.DataFrame({"a": ["<b>x</b>"], "p": [0.123456]}))
    assert "&lt;b&gt;x&lt;/b&gt;" in table and "0.123" in table


def test_subtype_heatmap_of_hundreds_of_signatures_fits():
    rng = np.random.default_rng(2)
    n, m = 120, 250
    labels = pd.Series(np.where(np.arange(n) < 60, "C1", "C2"), index=[f"S{i}" for i in range(n)])
    z = pd.DataFrame(rng.normal(size=(n, m)), index=labels.index,
                     columns=[f"MODULE_{i}" for i in range(m)])
    z.loc[labels == "C1", "MODULE_7"] += 3
    z.loc[labels == "C2", "MODULE_9"] += 3
    from scipy.cluster import hierarchy
    linkage = hierarchy.linkage(z.to_numpy(), "average", metric="correlation")
    rows = subtype_plots.heatmap_rows(z, labels, 40)
    assert len(rows) == 40 and {"MODULE_7", "MODULE_9"} <= set(rows)
    assert list(rows).index("MODULE_7") == 0  # C1's block first, its strongest on top
    names = subtype_plots.cluster_legend_labels(z, labels)
    assert names["C1"].startswith("C1 (n=60): MODULE_7") and names["C1"].count(",") <= 2
    fig = subtype_plots.signature_heatmap(z, linkage, labels)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    assert max(Image.open(buf).size) <= 4000


def test_gsea_plot_titles_show_the_permutation_floor_not_zero():
    from bloodsig.plots import enrich as enrich_plots

    assert enrich_plots.fdr_label(0.0, 1000) == "FDR < 1e-3"
    assert enrich_plots.fdr_label(0.0123, 1000) == "FDR 0.012"
    table = pd.DataFrame({"term": ["A", "B"], "NES": [2.1, -1.5], "FDR": [0.0, 0.04]})
    ranking = pd.Series(np.linspace(3, -3, 50))
    es = {t: np.sin(np.linspace(0, 3, 50)) for t in "AB"}
    fig = enrich_plots.gsea_plots(table, ranking, es, {t: [1, 5, 9] for t in "AB"}, n=2,
                                  permutations=1000)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert "NES 2.10, FDR < 1e-3" in titles[0] and "FDR 0\n" not in "\n".join(titles)
    assert not any(t.endswith("FDR 0") for t in titles)


def test_ora_dotplot_has_a_legend_for_dot_size():
    from bloodsig.plots import enrich as enrich_plots

    table = pd.DataFrame({"direction": ["up"] * 4 + ["down"] * 2,
                          "term": list("abcdef"), "Count": [3, 10, 25, 7, 4, 12],
                          "n_query": [50] * 4 + [40] * 2,
                          "pvalue": [1e-5, 1e-4, 1e-3, 0.2, 1e-6, 0.3],
                          "FDR": [1e-4, 1e-3, 0.01, 0.5, 1e-5, 0.6]})
    fig = enrich_plots.ora_dotplot(table, fdr=0.05)
    legend = fig.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert legend.get_title().get_text().startswith("dot size = Count")
    assert labels[0] == "3" and labels[2] == "25" and labels[-1].startswith("hollow: FDR >=")


def test_roc_curves_that_coincide_stay_distinguishable():
    from bloodsig.plots import classify as classify_plots

    perfect = pd.DataFrame({"fpr": [0, 0, 1], "tpr": [0, 1, 1]})
    roc = pd.concat([perfect.assign(model=m) for m in ("lasso", "ridge", "scad")])
    fig = classify_plots.roc_curves(roc, pd.Series(1.0, index=["lasso", "ridge", "scad"]))
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_gid() in ("lasso", "ridge", "scad")]
    assert len({ln.get_linewidth() for ln in lines}) == 3
    assert len({str(ln._dash_pattern) for ln in lines}) == 3
