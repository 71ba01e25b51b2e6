"""Enrichment against reference implementations and the reference study's own results.

- ORA: clusterProfiler (enricher, universe = the collection's genes) Hallmark/KEGG results of
  the study (als_paper/plot_no_yes_df3__plot_{no,yes}.tsv).
  (a) The test statistic: every reported p-value is reproduced from its own GeneRatio and
      BgRatio to 1e-9 (relative).
  (b) End to end: ORA of the study's 3,640 primary DEGs with MSigDB Hallmark v7.0 reproduces
      the reported Hallmark counts and p-values within the difference of the gene-set
      versions: the study used newer Hallmark symbols (e.g. MARCHF1, H2AZ1, SEPTIN9 where
      v7.0 has MARCH1, H2AFZ, SEPT9; 4,383 vs 4,384 genes), so 417 vs 404 up and 450 vs 447
      down DEGs fall in the collection. Tolerances: set sizes equal for 12 of 13 terms, counts
      within 2, log10 p within 0.75 (measured: max 0.68), and every reported term in our top
      10 of its direction (measured: all in the top 8).
      The cell-adjusted list is rebuilt from the full adjusted table (FDR < 0.01, |logFC| > 0.1;
      320/541 vs the study's 310/498 in the collection), so only its ranking is compared.
- GSEA preranked: Broad GSEA Java 1,000 permutations (gsea_reference/gsea_java_edb). ES is
  deterministic and agrees to Java's 4 printed decimals; NES and nominal p depend on
  permutations on both sides: with 10,000 permutations (seed 20250101) |dNES| < 0.1 and
  |dp| < 0.03 (measured over 5 seeds: max |dNES| 0.04, max |dp| 0.017).
- Overlap: odds ratio, 95% CI and one-sided p equal R's fisher.test on the study's primary
  DEGs vs the TDP-43-knockdown neuron DEGs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from bloodsig.core.gmt import read_gmt
from bloodsig.enrich.gsea import GseaSettings, prerank
from bloodsig.enrich.ora import hypergeometric_sf, ora, universe_genes
from bloodsig.enrich.overlap import PublishedList, overlap_tests, read_published

pytestmark = pytest.mark.slow
SEED = 20250101


def _reference(refdata, which):
    df = pd.read_csv(refdata / f"als_paper/plot_no_yes_df3__plot_{which}.tsv", sep="\t")
    k, n = (df["GeneRatio"].str.split("/", expand=True).astype(int)[i] for i in (0, 1))
    m, big = (df["BgRatio"].str.split("/", expand=True).astype(int)[i] for i in (0, 1))
    return df.assign(k=k, n=n, M=m, N=big)


@pytest.mark.parametrize("which", ["no", "yes"])
def test_hypergeometric_reproduces_clusterprofiler(refdata, which):
    ref = _reference(refdata, which)
    p = hypergeometric_sf(ref["k"], ref["M"], ref["n"], ref["N"])
    np.testing.assert_allclose(p, ref["pvalue"], rtol=1e-9)
    assert (ref["geneID"].str.count("/") + 1 == ref["Count"]).all()
    assert (ref["k"] == ref["Count"]).all()
    print(f"plot_{which}: {len(ref)} terms, max rel. error "
          f"{np.max(np.abs(p / ref['pvalue'] - 1)):.2e}")


@pytest.fixture(scope="module")
def hallmark(refdata):
    sets, desc = read_gmt(refdata / "gene_sets/h.all.v7.0.symbols.gmt")
    return sets, desc, universe_genes(pd.Series(dtype=object), sets, "collection")


def _hallmark_reference(refdata, which, method):
    ref = _reference(refdata, which)
    ref = ref[(ref["category"] == "Hallmark") & (ref["comparison"] == "Overall")]
    return ref[ref["method"] == method].set_index("ID")


@pytest.mark.parametrize("direction, method", [("up", "Up"), ("down", "Down")])
def test_ora_primary_degs_match_study(refdata, hallmark, direction, method):
    sets, desc, universe = hallmark
    degs = pd.read_csv(refdata / "als_paper/Fig6abcd_input__all_deg_sig.tsv", sep="\t")
    degs = degs[degs["direction"] == direction].sort_values("P.Value")
    ours = ora(degs["gene_symbol"], sets, universe, 10, 500, desc).set_index("term")
    ref = _hallmark_reference(refdata, "no", method)
    assert abs(len(universe) - ref["N"].iloc[0]) <= 1
    assert abs(ours["n_query"].iloc[0] - ref["n"].iloc[0]) <= 15
    joined = ref.join(ours, rsuffix="_ours", how="left")
    assert joined["pvalue_ours"].notna().all()
    dlog = np.log10(joined["pvalue_ours"]) - np.log10(joined["pvalue"])
    same_size = joined["M"] == joined["set_size"]
    print(pd.DataFrame({"Count": joined["Count"], "ours": joined["Count_ours"],
                        "p": joined["pvalue"], "p_ours": joined["pvalue_ours"],
                        "dlog10p": dlog}).to_string())
    assert same_size.sum() >= len(joined) - 1
    assert (joined["Count"] - joined["Count_ours"]).abs().max() <= 2
    assert dlog.abs().max() < 0.75
    top = list(ours.index[:10])
    assert set(ref.index) <= set(top)


@pytest.mark.parametrize("method", ["Up", "Down"])
def test_ora_adjusted_degs_rank_like_study(refdata, hallmark, method):
    sets, desc, universe = hallmark
    table = pd.read_csv(refdata / "als_paper/Fig6abcd_input__DEG_filtered.tsv", sep="\t")
    table = table[(table["adj.P.Val"] < 0.01) & (table["logFC"].abs() > 0.1)]
    table = table[(table["logFC"] > 0) == (method == "Up")].sort_values("P.Value")
    ours = ora(table["gene_symbol"], sets, universe, 10, 500, desc).set_index("term")
    ref = _hallmark_reference(refdata, "yes", method)
    reported = ref.index[ref["FDR"] < 0.05]
    assert (ours.loc[reported, "FDR"] < 0.1).all()
    assert set(reported) <= set(ours.index[:8])


@pytest.fixture(scope="module")
def java_gsea(refdata):
    base = refdata / "gsea_reference/gsea_java_edb"
    root = ET.parse(base / "results.edb").getroot()
    ref = pd.DataFrame([{"term": d.attrib["GENESET"].split("#")[1], "ES": float(d.attrib["ES"]),
                         "NES": float(d.attrib["NES"]), "NP": float(d.attrib["NP"]),
                         "FDR": float(d.attrib["FDR"])} for d in root.iter("DTG")])
    rnk = pd.read_csv(base / "gsea_data.gsea_data.rnk", sep="\t", header=None)
    ranking = pd.Series(rnk[1].to_numpy(), index=rnk[0].astype(str)).sort_values(
        ascending=False)
    sets, _ = read_gmt(base / "gene_sets.gmt")
    return ref.set_index("term"), ranking, sets


def test_gsea_prerank_matches_broad_java(java_gsea):
    ref, ranking, sets = java_gsea
    res = prerank(ranking, sets, GseaSettings(permutations=10_000, min_size=5, max_size=1000,
                                               plots=0), seed=SEED)
    ours = res.table.set_index("term").loc[ref.index]
    d_nes = (ours["NES"] - ref["NES"]).abs()
    d_p = (ours["pvalue"] - ref["NP"]).abs()
    print(pd.DataFrame({"ES": ref["ES"], "ES_ours": ours["ES"], "NES": ref["NES"],
                        "NES_ours": ours["NES"], "p": ref["NP"], "p_ours": ours["pvalue"],
                        "FDR": ref["FDR"], "FDR_ours": ours["FDR"]}).to_string())
    np.testing.assert_allclose(ours["ES"], ref["ES"], atol=5.1e-5)
    assert d_nes.max() < 0.1, d_nes
    assert d_p.max() < 0.03, d_p
    assert ((ours["FDR"] < 0.05) == (ref["FDR"] < 0.05)).all()


def test_overlap_fisher_matches_r(refdata, rscript):
    als = refdata / "als_paper"
    blood = pd.read_csv(als / "Fig6abcd_input__all_deg_sig.tsv", sep="\t")
    blood = blood.rename(columns={"gene_symbol": "gene_name"})
    tested = pd.read_csv(als / "Fig6abcd_input__DEG_filtered.tsv", sep="\t")
    tested = tested.rename(columns={"gene_symbol": "gene_name"})
    neurons = read_published(PublishedList(als / "neuron_spinal_cord__TDP43_deg_sig_strong.tsv",
                                           "gene_name", "log2FoldChange", "padj", 0.05, 0.0))
    ours = overlap_tests(tested, blood[blood["logFC"] > 0], blood[blood["logFC"] < 0],
                         neurons).set_index("direction")
    for direction, row in ours.iterrows():
        a, b = int(row["n_shared"]), int(row["n_ours"] - row["n_shared"])
        c = int(row["n_published"] - row["n_shared"])
        d = int(row["n_universe"]) - a - b - c
        out = rscript(f"m <- matrix(c({a}, {c}, {b}, {d}), 2); f <- fisher.test(m); "
                      "g <- fisher.test(m, alternative = 'greater'); "
                      "cat(sprintf('%.12g', c(f$estimate, f$conf.int, g$p.value)))")
        est, low, high, p = (float(x) for x in out.split()[-4:])
        print(direction, row[["odds_ratio", "ci_low", "ci_high", "pvalue"]].to_dict(),
              (est, low, high, p))
        assert row["odds_ratio"] == pytest.approx(est, rel=1e-4)
        assert row["ci_low"] == pytest.approx(low, rel=1e-3)
        assert row["ci_high"] == pytest.approx(high, rel=1e-3)
        assert row["pvalue"] == pytest.approx(p, rel=1e-6)
        assert row["n_shared"] > row["expected_shared"]
