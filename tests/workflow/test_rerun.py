"""Exact reruns: a rule's params carry only the config keys it reads, with sorted mapping keys,
so an edit reruns the rules that read the edited key and what consumes their outputs, never an
upstream rule, and the same config with its keys in another order reruns only the provenance.

One project for all cases: the demo's input data simulated for real, every other output an
empty placeholder marked done with `--touch --forceall` (which records each job's params);
each case then writes an edited config/config.yaml and asks `snakemake -n` what would run."""

import copy
import re
from pathlib import Path

import pytest
import yaml
from helpers import copy_project, mark_done, snakemake

pytestmark = pytest.mark.slow  # runs Snakemake

# Records the resolved config, so any edit reruns it; report_html and report_benchmarks (and
# `all`) read every stage's targets and the provenance, so they follow any rerun.
PROVENANCE = {"report_provenance"}
REPORT = {"report_html", "report_benchmarks", "all"}
INPUTS = {"demo_data", "counts_from_matrix", "counts_from_reads"}
READS = {"reads_annotation", "star_index", "cutadapt", "fastqc", "star_align", "samtools_qc",
         "infer_strandedness", "featurecounts", "multiqc"}
QC = INPUTS | READS | {"expression_qc"}
DE = QC | {"cells_rna", "cells_validate", "cells_for_de", "de_covariates", "de_fit"}

# key edited, new value, rules whose params changed, rules that must not run (upstream)
CASES = [
    ("reads.min_reads", 20000, {"multiqc"}, INPUTS | READS - {"multiqc"}),
    ("expression_qc.pca_top_genes", 1000, {"expression_qc"}, INPUTS | READS),
    ("cells.pc_association.alpha", 0.01, {"cells_pcs"}, DE),
    ("de.heatmap_genes", 12, {"de_fit"}, QC | {"de_covariates"}),
    ("connectivity.candidates.max_fdr", 0.1, {"connectivity_score"},
     DE | {"connectivity_store", "connectivity_background", "connectivity_core_genes",
           "connectivity_queries"}),
    ("enrich.gsea.permutations", 200, {"enrich_gsea"}, DE | {"enrich_ora"}),
    ("subtypes.de.fdr", 0.01, {"subtypes_de"},
     QC | {"subtypes_cluster", "subtypes_transcriptome", "subtypes_longitudinal"}),
    ("survival.splits", 4, {"survival_splits"},
     DE | {"survival_inputs", "survival_select", "survival_models"}),
    ("classify.nested.outer_folds", 4, {"classify_nested"},
     DE | {"classify_compare", "classify_panels", "classify_external"}),
    ("report.cohort_table.categorical", ["sex", "batch"], {"report_cohort_table"},
     DE | {"report_qpcr"}),
]


def dry_run(project: Path, config: dict) -> tuple[set[str], dict[str, int]]:
    """(rules whose params changed, rule -> jobs that would run) for `config`."""
    (project / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    out = snakemake(project, "-n", "--quiet", "rules", timeout=300)
    if "Job stats:" not in out:
        assert "Nothing to be done" in out, out[-3000:]
        return set(), {}
    triggered = re.search(r"^Rules with provenance triggered jobs: (.*)$", out, flags=re.M)
    stats = out.split("Job stats:", 1)[1].split("total", 1)[0]
    jobs = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stats, flags=re.M)}
    return set(re.split(r"[\s,]+", triggered[1].strip())) if triggered else set(), jobs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The demo project with every job done (placeholders), and its config."""
    project = copy_project(tmp_path_factory.mktemp("rerun"))
    config = yaml.safe_load((project / "config/config.yaml").read_text())
    (project / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    mark_done(project)
    assert dry_run(project, config) == (set(), {})
    return project, config


def edited(config: dict, key: str, value) -> dict:
    out = copy.deepcopy(config)
    *parents, leaf = key.split(".")
    node = out
    for part in parents:
        node = node[part]
    node[leaf] = value
    return out


@pytest.mark.parametrize("key, value, changed, upstream", CASES, ids=[c[0] for c in CASES])
def test_an_edit_reruns_only_the_rules_that_read_it(built, key, value, changed, upstream):
    project, config = built
    triggered, jobs = dry_run(project, edited(config, key, value))
    assert triggered == changed | PROVENANCE
    assert not set(jobs) & upstream


def test_a_new_de_analysis_schedules_only_its_own_jobs_and_their_consumers(built):
    project, config = built
    analyses = dict(config["de"]["analyses"], extra={
        "formula": "~ group + age + sex + batch + library_type", "coef": "groupALS"})
    triggered, jobs = dry_run(project, edited(config, "de.analyses", analyses))
    # the other stages name their analyses
    assert triggered == PROVENANCE
    assert jobs == {"de_covariates": 1, "de_fit": 1,
                    **dict.fromkeys(PROVENANCE | REPORT, 1)}


def test_a_reordered_config_reruns_only_the_provenance(built):
    project, config = built

    def reversed_keys(node):
        if isinstance(node, dict):
            return {k: reversed_keys(node[k]) for k in reversed(list(node))}
        return [reversed_keys(v) for v in node] if isinstance(node, list) else node

    triggered, jobs = dry_run(project, reversed_keys(config))
    assert triggered == PROVENANCE
    assert set(jobs) == PROVENANCE | REPORT
