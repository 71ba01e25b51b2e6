"""Pathways, drug candidates, immune subtypes and qPCR."""

from __future__ import annotations

from .. import html as h
from ..files import Results
from .common import pic, settings_sentence, stage_section, table, trim_text


# ------------------------------------------------------------------------------- pathways
def pathways_section(res: Results, cfg: dict) -> h.Section:
    return stage_section(res, cfg, "enrich", _pathways)


def _pathways(sec: h.Section, res: Results, e: dict) -> None:
    fdr = e["fdr"]
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
        sec.add(pic(res, key.replace(".tsv", ".png"), f"ORA dot plot, {analysis} / {coll}.",
                     "60%"))
    for key in res.glob("enrich/*/map_*.png"):
        sec.add("<h3>Enrichment map</h3>",
                pic(res, key, f"Enrichment map ({key.split('/')[1]}): terms linked by shared "
                     "genes.", "70%"))
    for key in res.glob("enrich/*/gsea_*.tsv"):
        analysis, coll = key.split("/")[1], key.split("gsea_")[1][:-4]
        gs = res.tsv(key)
        permutations = e["gsea"]["permutations"]
        floor = 1 / permutations
        shown = gs.drop(columns=["leading_edge"], errors="ignore").head(30).copy()
        for c in ("pvalue", "FDR", "FWER"):
            if c in shown:
                shown[c] = shown[c].map(lambda v, f=floor: h.fmt_p(v, f))
        sec.add(f"<h3>GSEA {h.esc(analysis)} / {h.esc(coll)}</h3>",
                settings_sentence("Preranked by -log10(P) x sign(logFC); {permutations} "
                                  "gene-set permutations, so p and FDR below 1/permutations "
                                  "read &lt; 1/permutations.", e["gsea"]),
                h.static_table(trim_text(shown)),
                pic(res, key.replace(".tsv", ".png"), "Enrichment plots of the sets with the "
                     "smallest FDR.", "70%"))
    for key in res.glob("enrich/compare_*.tsv"):
        comp = res.tsv(key)
        sec.add(f"<h3>Terms gained and lost with cell adjustment ({h.esc(key[15:-4])})</h3>",
                h.static_table(trim_text(comp.head(30))))


# ------------------------------------------------------------------------- connectivity
def candidates_section(res: Results, cfg: dict) -> h.Section:
    return stage_section(res, cfg, "connectivity", _candidates)


def _candidates(sec: h.Section, res: Results, block: dict) -> None:
    for key in res.glob("connectivity/*/overlaps.tsv"):
        sec.add(f"<h3>Core genes: {h.esc(key.split('/')[1])}</h3>",
                h.static_table(trim_text(res.tsv(key))),
                pic(res, key.replace(".tsv", ".png"), "Overlap of the DEG lists.", "48%"))
    for key in res.glob("connectivity/*/candidates.tsv"):
        q = key.split("/")[1]
        cands = res.tsv(key)
        sec.add(f"<h3>Candidates of query {h.esc(q)}</h3>",
                h.interactive_table(trim_text(cands), f"table-candidates-{h.slug(q)}",
                                    caption=f"{len(cands)} candidates ({key})."),
                pic(res, f"connectivity/{q}/network.png", "Candidates and their targets.",
                     "70%"))
    sec.add(h.caveat("Connectivity scores come from cell lines, not blood: candidates are "
                     "hypotheses to test, not treatments."))


# ------------------------------------------------------------------------------- subtypes
def subtypes_section(res: Results, cfg: dict) -> h.Section:
    return stage_section(res, cfg, "subtypes", _subtypes)


def _subtypes(sec: h.Section, res: Results, block: dict) -> None:
    sec.add(table(res, "subtypes/summary.tsv"))
    if res.has("subtypes/clusters.tsv"):
        cl = res.tsv("subtypes/clusters.tsv")
        sec.add(h.para(f"{len(cl)} samples clustered (subtypes/clusters.tsv)."))
    sec.add(pic(res, "subtypes/heatmap.png", "Signature z-scores by cluster.", "60%"),
            pic(res, "subtypes/markers.png", "Marker genes by cluster.", "48%"),
            pic(res, "subtypes/correlation.png", "Sample correlation; repeat samples of a "
                 "patient marked.", "48%"),
            pic(res, "subtypes/volcano.png", "DE between the clusters.", "48%"))


# ----------------------------------------------------------------------------------- qPCR
def qpcr_section(res: Results, cfg: dict) -> h.Section | None:
    if not res.has("report/qpcr.tsv"):
        return None
    sec = h.Section("qPCR")
    q = cfg["report"]["qpcr"]
    sec.add(settings_sentence("Delta-delta-Ct against the mean of {reference_genes}; compared "
                              "with the RNA-seq logFC of analysis {analysis}.", q,
                              reference_genes=", ".join(q["reference_genes"])))
    t = res.tsv("report/qpcr.tsv")
    if "P.Value" in t:
        t["P.Value"] = t["P.Value"].map(h.fmt_p)
    sec.add(h.static_table(t), pic(res, "report/qpcr.png", "qPCR against RNA-seq fold "
                                    "changes.", "48%"))
    return sec
