"""The embedded demo end to end (fixture `demo` in conftest.py): expression QC and DE outputs,
and the planted truth measured in them."""

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # runs Snakemake


def test_all_stage_outputs_exist(demo):
    analyses = ["primary", "cell_adjusted", "male", "female", "alsfrs_quartile"]
    for analysis in analyses:
        for name in ["toptable.tsv", "degs_up.tsv", "degs_down.tsv", "residuals.tsv",
                     "covariates.tsv", "volcano.png", "heatmap.png"]:
            assert (demo / "results/discovery/de" / analysis / name).stat().st_size > 0
    table = pd.read_csv(demo / "results/discovery/de/primary/toptable.tsv", sep="\t")
    assert list(table.columns[:8]) == ["gene_id", "gene_name", "logFC", "AveExpr", "t",
                                       "P.Value", "adj.P.Val", "B"]


def test_planted_de_recovered(demo):
    """Primary analysis at FDR < 0.01: false discovery proportion <= 2% against the truth."""
    truth = pd.read_csv(demo / "results/demo/truth/de_genes.tsv", sep="\t")
    table = pd.read_csv(demo / "results/discovery/de/primary/toptable.tsv", sep="\t")
    called = set(table.loc[table["adj.P.Val"] < 0.01, "gene_id"])
    planted = set(truth["gene_id"])
    fdp = len(called - planted) / max(len(called), 1)
    tested_planted = planted & set(table["gene_id"])
    power = len(called & planted) / len(tested_planted)
    print(f"primary: {len(called)} called, FDP {fdp:.4f}, power {power:.3f} "
          f"({len(tested_planted)} planted genes tested)")
    assert len(called) > 50
    assert fdp <= 0.02
    assert power > 0.3


def test_cell_mediated_effects_vanish_after_adjustment(demo):
    truth = pd.read_csv(demo / "results/demo/truth/de_genes.tsv", sep="\t")
    mediated = set(truth.loc[truth["mechanism"] == "cell_mediated", "gene_id"])
    direct = set(truth.loc[truth["mechanism"] == "direct", "gene_id"])

    def called(analysis):
        t = pd.read_csv(demo / f"results/discovery/de/{analysis}/toptable.tsv", sep="\t")
        return set(t.loc[t["adj.P.Val"] < 0.01, "gene_id"])

    primary, adjusted = called("primary"), called("cell_adjusted")
    assert len(primary & mediated) > 2 * max(len(adjusted & mediated), 1)
    assert len(adjusted & direct) > 0.5 * len(primary & direct)


def test_sex_mislabels_flagged(demo):
    truth = pd.read_csv(demo / "results/demo/truth/sex_mislabels.tsv", sep="\t")
    report = pd.read_csv(demo / "results/discovery/expression_qc/sample_report.tsv", sep="\t")
    flagged = set(report.loc[report["mismatch"], "sample_id"])
    assert flagged == set(truth["sample_id"])
    kept = pd.read_csv(demo / "results/discovery/expression_qc/samples.tsv", sep="\t")
    assert not flagged & set(kept["sample_id"])
