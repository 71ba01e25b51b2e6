"""Stage enrich on the embedded demo (fixture `demo`): planted pathways are the top hits and
decoys are not, GO themes form separate clusters in the enrichment map, the pathway planted to
follow ALSFRS-R is found by the preranked GSEA, and the published lists' planted overlap is
found."""

from __future__ import annotations

import subprocess
import sys

import networkx as nx
import pandas as pd
import pytest
import yaml
from helpers import copy_project

from bloodsig.simulate.genesets import GO_THEMES

pytestmark = pytest.mark.slow  # runs Snakemake

ANALYSES = ["primary", "cell_adjusted", "male", "female"]


def _tsv(path):
    return pd.read_csv(path, sep="\t")


@pytest.fixture(scope="module")
def truth(demo):
    return _tsv(demo / "results/demo/truth/pathways.tsv").set_index("set_name")


def test_enrich_outputs_exist(demo):
    base = demo / "results/discovery/enrich"
    names = [f"{a}/ora_{c}.{e}" for a in ANALYSES for c in ("pathways", "go_bp")
             for e in ("tsv", "png")]
    names += [f"{a}/map_go_bp.{e}" for a in ("primary", "cell_adjusted")
              for e in ("graphml", "tsv", "png")]
    names += ["compare_pathways.tsv", "compare_go_bp.tsv", "alsfrs_quartile/gsea_pathways.tsv",
              "alsfrs_quartile/gsea_pathways.png"]
    names += [f"overlap/{p}_{part}" for p in ("tdp43_neurons", "spinal_cord")
              for part in ("tests.tsv", "shared.tsv", "pathways.tsv", "logfc.png")]
    for name in names:
        assert (base / name).stat().st_size > 0, name


@pytest.mark.parametrize("analysis", ANALYSES)
def test_planted_pathways_lead_and_decoys_stay_out(demo, truth, analysis):
    table = _tsv(demo / f"results/discovery/enrich/{analysis}/ora_pathways.tsv")
    planted = truth[(truth["collection"] == "pathways") & truth["planted"]]
    for direction in ("up", "down"):
        sets = set(planted.index[planted["direction"] == direction])
        ours = table[table["direction"] == direction]
        significant = set(ours.loc[ours["FDR"] < 0.05, "term"])
        print(analysis, direction, sorted(significant))
        assert significant <= sets  # no decoy (nor a set of the other direction) passes
        assert set(ours["term"].iloc[: len(significant)]) == significant  # planted lead
        # all of them in the primary analysis; the subsets and the cell-adjusted analysis
        # have less power (and a planted set may hold cell-mediated genes)
        assert len(significant) >= (len(sets) if analysis == "primary" else len(sets) / 2)


@pytest.mark.parametrize("analysis", ["primary", "cell_adjusted"])
def test_enrichment_map_themes_are_the_planted_go_themes(demo, truth, analysis):
    nodes = _tsv(demo / f"results/discovery/enrich/{analysis}/map_go_bp.tsv")
    theme_of = {term: theme for theme, (_, terms) in GO_THEMES.items() for term in terms}
    planted = {t for t in truth.index[(truth["collection"] == "go_bp") & truth["planted"]]}
    assert set(nodes["term"]) <= planted  # no null-theme term is a node
    assert len(set(nodes["term"])) >= (0.8 if analysis == "primary" else 0.6) * len(planted)
    # each map theme holds terms of one planted theme, in the planted direction
    for _, group in nodes.groupby("theme"):
        assert group["term"].map(theme_of).nunique() == 1
        assert (group["direction"] == group["term"].map(truth["direction"])).all()
    assert nodes["theme"].nunique() >= 3
    g = nx.read_graphml(demo / f"results/discovery/enrich/{analysis}/map_go_bp.graphml")
    assert set(g.nodes) == set(nodes["node"])
    for a, b in g.edges:
        assert theme_of[g.nodes[a]["term"]] == theme_of[g.nodes[b]["term"]]


def test_compare_keeps_planted_terms(demo, truth):
    table = _tsv(demo / "results/discovery/enrich/compare_pathways.tsv").set_index("term")
    planted = truth.index[(truth["collection"] == "pathways") & truth["planted"]]
    assert set(table.index) == set(planted)
    # cell adjustment keeps most planted terms (a set holding cell-mediated genes may go)
    assert (table["status"] == "kept").mean() >= 0.75


def test_gsea_finds_the_alsfrs_pathway(demo):
    params = yaml.safe_load((demo / "results/demo/truth/params.yaml").read_text())
    target = params["progression"]["pathway"]
    table = _tsv(demo / "results/discovery/enrich/alsfrs_quartile/gsea_pathways.tsv")
    print(table.head(5)[["term", "NES", "pvalue", "FDR"]].to_string())
    row = table.set_index("term").loc[target]
    assert row["NES"] > 1.5 and row["FDR"] < 0.05
    # The other significant sets follow ALSFRS-R through the latent prognosis (which speeds
    # the decline): their genes are in the modules that carry it, at 3x those genes' share.
    genes = _tsv(demo / "results/demo/discovery/genes.tsv").set_index("gene_name")["gene_id"]
    modules = _tsv(demo / "results/demo/truth/modules.tsv")
    prognostic = set(modules.loc[modules["prognosis_coupling"] > 0, "gene_id"])
    members = {line.split("\t")[0]: line.split("\t")[2:] for line in
               (demo / "results/demo/genesets/pathways.gmt").read_text().splitlines()}
    for term in table.loc[(table["FDR"] < 0.05) & (table["term"] != target), "term"]:
        ids = genes.reindex(members[term]).dropna()
        assert ids.isin(prognostic).mean() > 3 * genes.isin(prognostic).mean(), term


@pytest.mark.parametrize("published", ["tdp43_neurons", "spinal_cord"])
def test_published_overlap(demo, published):
    base = demo / "results/discovery/enrich/overlap"
    tests = _tsv(base / f"{published}_tests.tsv").set_index("direction")
    print(tests.drop(columns="shared_genes").to_string())
    assert (tests["pvalue"] < 1e-10).all()
    assert (tests["ci_low"] > 2).all()
    shared = _tsv(base / f"{published}_shared.tsv")
    assert shared["concordant"].mean() > 0.9  # planted shared DEGs change in the same direction
    assert tests["spearman_rho"].iloc[0] > 0.5
    pathways = _tsv(base / f"{published}_pathways.tsv")
    top_up = pathways[(pathways["direction"] == "up") & (pathways["collection"] == "pathways")]
    assert top_up["FDR"].iloc[0] < 0.05


@pytest.mark.parametrize("key, value, message", [
    ("analyses", ["primary", "typo"],
     "config/config.yaml: enrich.analyses: 'typo' is not in de.analyses"),
    ("universe", "genome", "universe"),
])
def test_bad_enrich_config_refused(tmp_path, key, value, message):
    work = copy_project(tmp_path)
    config = yaml.safe_load((work / "config/config.yaml").read_text())
    config["enrich"][key] = value
    (work / "config/config.yaml").write_text(yaml.safe_dump(config))
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n"], cwd=work,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert message in res.stdout + res.stderr
