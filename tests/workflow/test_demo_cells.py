"""Stage cells on the embedded demo (fixture `demo`): the RNA estimate against the planted
proportions, both estimates against the "flow cytometry" subset, and the planted
cell-mediated DEGs removed by the cell-adjusted DE, all read from the stage's summary."""

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # runs Snakemake

TYPES = ["CD8T", "CD4T", "NK", "Bcell", "Mono", "Neu"]


def summary(demo):
    s = pd.read_csv(demo / "results/discovery/cells/summary.tsv", sep="\t")
    return s.set_index(["metric", "estimate", "item"])["value"]


def test_rna_estimate_recovers_planted_proportions(demo):
    s = summary(demo)
    truth_r = s["truth_r"]
    print("r with planted truth:", truth_r.round(3).to_dict())
    for item in ["Neu", "Mono", "Lymphocytes", "Tcells", *TYPES]:
        assert truth_r[("rna", item)] >= 0.8, item
    fractions = pd.read_csv(demo / "results/discovery/cells/rna_fractions.tsv", sep="\t")
    assert ((fractions[TYPES].sum(axis=1) - 1).abs() < 1e-8).all()
    assert (fractions[TYPES] >= 0).all().all()


def test_both_estimates_validated_against_flow(demo):
    s = summary(demo)
    flow_r = s["flow_r"]
    print("r with flow cytometry:", flow_r.round(3).to_dict())
    for estimate in ["supplied", "rna"]:
        for item in [*TYPES, "Lymphocytes"]:
            assert flow_r[(estimate, item)] >= 0.8, (estimate, item)
    validation = pd.read_csv(demo / "results/discovery/cells/validation.tsv", sep="\t")
    assert (validation["n"] >= 50).all()  # the flow subset (60 samples) kept by QC
    used = s["used_for_de"]
    # auto: the estimate with the better mean r over the cell types
    mean_r = {e: flow_r[[(e, t) for t in TYPES]].mean() for e in ["supplied", "rna"]}
    assert used[(max(mean_r, key=mean_r.get), "all")] == 1
    assert used.sum() == 1


def test_collinear_type_dropped_and_rest_used_by_de(demo):
    s = summary(demo)
    dropped = [item for (_, item) in s["dropped_for_collinearity"].index]
    assert len(dropped) == 1
    for_de = pd.read_csv(demo / "results/discovery/cells/fractions_for_de.tsv", sep="\t")
    kept = [t for t in TYPES if t not in dropped]
    assert list(for_de.columns) == ["sample_id", *kept]
    assoc = pd.read_csv(demo / "results/discovery/de/cell_adjusted/covariate_association.tsv",
                        sep="\t")
    assert set(kept) <= set(assoc["variable"]) and dropped[0] not in set(assoc["variable"])
    pcs = pd.read_csv(demo / "results/discovery/cells/pc_association.tsv", sep="\t")
    # cell types go with RNA PCs (Bonferroni); the pairs flagged also pass the |r| cut (the
    # demo's co-expression modules, not composition, lead its PCs, so none may reach it)
    assert (pcs["p_bonferroni"] < 0.05).any()
    assert (pcs.loc[pcs["flagged"], "r"].abs() > 0.25).all()


def test_adjustment_removes_cell_mediated_degs_keeps_direct(demo):
    s = summary(demo)
    kept, called = s["kept_share"], s["planted_called_unadjusted"]
    print("kept share after adjustment:", kept.round(3).to_dict(), "called before:",
          called.to_dict())
    estimate = s["used_for_de"].idxmax()[0]
    assert called[(estimate, "cell_mediated")] >= 50
    assert kept[(estimate, "cell_mediated")] <= 0.2
    # about half the module DEGs stay: 5 more terms, and composition goes with group (cases
    # carry more neutrophils), so the adjusted analysis has less power
    assert kept[(estimate, "direct")] >= 0.45
