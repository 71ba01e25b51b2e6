# Sample-sheet loading, config lookups, the names that several rule files share, and input
# functions. No rules here; a stage's .smk reads only the globals defined in this file.
import math
import os
import re
from functools import cache
from pathlib import Path

from bloodsig.connectivity import release as cmaprelease
from bloodsig.core.configcheck import canonical, section_defaults, source_of
from bloodsig.stats.design import parse_formula
from bloodsig.core.errors import InputError
from bloodsig.core.sheets import load_samples, load_schema, load_units
from bloodsig.core.units import check_fastq_paths, match_units


def _samples_schema():
    """The sample-sheet row schema, with the survival columns that the config names (a time of
    zero or less, or an event other than 0/1, is refused at once with its row)."""
    schema = load_schema(Path(workflow.basedir) / "config/schemas/samples.schema.yaml")
    survival = config.get("survival", {})
    if "time_column" in survival:
        schema["properties"][survival["time_column"]] = {"type": "number", "exclusiveMinimum": 0}
    if "event_column" in survival:
        schema["properties"][survival["event_column"]] = {"enum": [0, 1]}
    return schema


SAMPLES_SCHEMA = _samples_schema()
PYENV = "../envs/python.yaml"

COHORTS = config["cohorts"]
# The keys of a cohort entry that name input files (the others are settings).
COHORT_FILE_KEYS = ["samples", "counts", "annotation", "geo_annotation", "cell_fractions",
                    "flow_cytometry", "cell_signature", "units", "genome", "gtf"]
COUNT_COHORTS = [c for c, d in COHORTS.items() if "counts" in d]
DISCOVERY = [c for c, d in COHORTS.items() if d["role"] == "discovery"]
ANALYSES = list(config["de"]["analyses"]) if "de" in config else []


def config_error(key, problem):
    """Stop at parse time: a config value that the schema allows but the rest of the config
    contradicts (one line naming the file that set it and the dotted key)."""
    with stop_on_input_error():
        raise InputError(f"{key}: {problem}", path=source_of(key.split("."), CONFIG_LAYERS))


if len(DISCOVERY) != 1:
    config_error("cohorts", f"exactly one cohort must have role 'discovery' (found {len(DISCOVERY)})")


def _check_cohort_kinds():
    """A cohort is a count matrix (`counts`, optionally `annotation` or `gtf`) or FASTQ reads
    (`units`, `genome`, `gtf`): say which key is missing or does not belong."""
    for name, entry in COHORTS.items():
        if "counts" in entry:
            extra = [k for k in ("units", "genome") if k in entry]
            if extra:
                config_error(f"cohorts.{name}.{extra[0]}", "a cohort has either `counts` (a "
                             "count matrix) or `units` (FASTQ reads), not both")
        elif "units" in entry:
            missing = [k for k in ("genome", "gtf") if k not in entry]
            if missing:
                config_error(f"cohorts.{name}", f"a FASTQ cohort (`units`) also needs "
                             f"`{missing[0]}` (the reads are aligned to a genome and counted "
                             "with a GTF)")
            extra = [k for k in ("annotation", "geo_annotation") if k in entry]
            if extra:
                config_error(f"cohorts.{name}.{extra[0]}", "a FASTQ cohort takes its "
                             "annotation from its `gtf`")
        else:
            config_error(f"cohorts.{name}", "a cohort needs `counts` (a count matrix: plain, "
                         "nf-core, featureCounts or GEO; `annotation`, `gtf` optional) or "
                         "`units` + `genome` + `gtf` (FASTQ reads)")
        if "geo_annotation" in entry and entry["counts_format"] not in ("auto", "geo"):
            config_error(f"cohorts.{name}.geo_annotation", "only a GEO count matrix "
                         "(counts_format: geo) has a GEO annotation table")
        if "annotation" in entry and "gtf" in entry and "counts" in entry:
            config_error(f"cohorts.{name}.gtf", "give the annotation as a table "
                         "(`annotation`) or a GTF (`gtf`), not both")


_check_cohort_kinds()


def one_of(names):
    """A wildcard constraint that matches exactly these names (and nothing when none)."""
    return "|".join(map(re.escape, names)) or "(?!)"


wildcard_constraints:
    cohort=one_of(COHORTS),
    analysis=one_of(ANALYSES),


def stage_on(stage):
    return config["stages"][stage]


def section(name):
    """Config section `name`; when the config has none, its schema defaults (the stage is then
    not configured and its rules are never scheduled)."""
    return config[name] if name in config else section_defaults(CONFIG_SCHEMA["properties"][name])


def settings(name, *keys):
    """The keys of config section `name` that a rule reads (those that are set), with sorted
    mapping keys: the rule's params, so that it reruns only when one of them changes and not
    when the user's file lists its keys in another order."""
    node = section(name)
    return canonical({k: node[k] for k in keys if k in node})


def resource(name):
    """resources/`name`, relative to the working directory as every other input path is: an
    absolute path would be recorded with each job, so a moved or copied project would rerun
    the jobs that read it and everything downstream."""
    return os.path.relpath(Path(workflow.basedir) / "resources" / name)


def figure(path, caption, category, subcategory=None):
    """An output shown in `snakemake --report`, captioned by resources/report/<caption>.rst."""
    return report(path, caption=f"../resources/report/{caption}.rst", category=category,
                  subcategory=subcategory)


# Stage sections and the names that several rule files use.
SHEET = canonical(config["samples"])  # the sample sheet's columns and values, as rule params
READS = section("reads")
READS_DIR = "results/{cohort}/reads"
DEMO_FASTQ = "results/demo/external/fastq"  # a directory() output of checkpoint demo_data
DEMO_FILES = [
    "discovery/counts.tsv",
    "discovery/genes.tsv",
    "discovery/samples.tsv",
    "discovery/cells_dnam.tsv",
    "discovery/cells_flow.tsv",
    "discovery/cell_signature.tsv",
    "discovery/qpcr_ct.tsv",
    "discovery/treatments.tsv",
    "discovery/qpcr_followup.tsv",
    "external/samples.tsv",
    "external/units.tsv",
    "external/genome.fa",
    "external/genes.gtf",
    "external/true_counts.tsv",
    "validation/counts.tsv",
    "validation/genes.tsv",
    "validation/samples.tsv",
    "genesets/pathways.gmt",
    "genesets/go_bp.gmt",
    "genesets/immune_signatures.gmt",
    "disease_tissue/tdp43_neurons.tsv",
    "disease_tissue/spinal_cord.tsv",
    "cmap/signatures.gctx",
    "cmap/siginfo.tsv",
    "cmap/geneinfo.tsv",
    "cmap/compoundinfo.tsv",
    "truth/de_genes.tsv",
    "truth/modules.tsv",
    "truth/survival_risk.tsv",
    "truth/sex_mislabels.tsv",
    "truth/survival_genes.tsv",
    "truth/subgroups.tsv",
    "truth/pathways.tsv",
    "truth/compounds.tsv",
    "truth/repeats.tsv",
    "truth/cell_proportions.tsv",
    "truth/longitudinal.tsv",
    "truth/longitudinal_patients.tsv",
    "truth/qpcr_subgroups.tsv",
    "truth/params.yaml",
]

CONN = section("connectivity")
CONN_STORE = CONN["store"]
CONN_ANALYSES = CONN.get("analyses", [])  # absent: the stage is not configured
CONN_TISSUES = sorted(CONN.get("tissues", {}))
CONN_QUERIES = [f"core_{a}" for a in CONN_ANALYSES] + CONN_TISSUES
CONN_BATCHES = CONN["batches"]
CONN_DB = {"files": {k: [] for k in ("gctx", "siginfo", "geneinfo", "compoundinfo")},
           "annotations": None, "release": "custom", "columns": {}}
if "connectivity" in config:
    try:
        CONN_DB = cmaprelease.resolve(CONN["database"])
    except InputError as e:
        config_error("connectivity.database", e.args[0])

ENRICH = section("enrich")
COLLECTIONS = ENRICH.get("collections", {})  # absent: the stage is not configured
ENRICH_ANALYSES = ENRICH.get("analyses", ANALYSES)  # every DE analysis unless the config names some

SURVIVAL = section("survival")
SURVIVAL_DIR = f"results/{DISCOVERY[0]}/survival"
SURVIVAL_EXTERNAL = SURVIVAL["external_cohort"]

CLASSIFY = section("classify")
CLASSIFY_EXTERNAL = CLASSIFY["external_cohort"]

REPORT = section("report")
QPCR = REPORT["qpcr"] or {}
REPORT_DIR = f"results/{DISCOVERY[0]}/report"
REPORT_HTML = "results/report.html"  # the study report (rule report_html)
BENCHMARK_TARGETS = ["results/benchmarks.tsv", "results/benchmarks_slowest.tsv",
                     "results/benchmarks_slowest.png"]


def cohort_file(key):
    """Input function: a path from the cohort's config entry (e.g. its counts)."""
    return lambda wc: COHORTS[wc.cohort][key]


def cohort_annotation_files(wc):
    """A count cohort's optional annotation sources: a table, a GTF, GEO's annot.tsv."""
    entry = COHORTS[wc.cohort]
    return {k: entry[k] for k in ("annotation", "gtf", "geo_annotation") if k in entry}


def cell_fractions(wc):
    """Cell fractions of an analysis with `cells: true`: the cells stage's chosen estimate
    without its collinear type; its columns are added to the analysis's formula."""
    if config["de"]["analyses"][wc.analysis]["cells"]:
        return [f"results/{wc.cohort}/cells/fractions_for_de.tsv"]
    return []


def cell_estimates(wc):
    """Stage cells: the cohort's cell-fraction estimates by name, supplied and/or RNA-based."""
    entry, files = COHORTS[wc.cohort], {}
    if "cell_fractions" in entry:
        files["supplied"] = entry["cell_fractions"]
    if "cell_signature" in entry:
        files["rna"] = f"results/{wc.cohort}/cells/rna_fractions.tsv"
    return files


def flow_validation(wc):
    """Stage cells: the validation table, if the cohort has flow cytometry."""
    if "flow_cytometry" in COHORTS[wc.cohort]:
        return [f"results/{wc.cohort}/cells/validation.tsv"]
    return []


def cells_summary_inputs(wc):
    """Stage cells: validation, the DE tables compared (stage de on), the planted truth."""
    files = {"validation": flow_validation(wc)}
    compared = config["cells"].get("summary", {})  # optional
    if compared and stage_on("de") and all(a in ANALYSES for a in compared.values()):
        files |= {k: f"results/{wc.cohort}/de/{a}/toptable.tsv" for k, a in compared.items()}
    truth = config["cells"].get("truth", {}).get(wc.cohort, {})
    return files | {f"truth_{k}": v for k, v in truth.items()}


def attempt_mem(base_mb):
    """Memory that grows on retry (a killed job gets twice as much the next time)."""
    return lambda wc, attempt: base_mb * attempt


def input_scaled(key, base, per_mb):
    """A resource (mem_mb or runtime) that grows with the cohort and on retry.

    `base` plus `per_mb` for every MB of the rule's input `key` (its count matrix, genome, ...),
    times the attempt: a job killed for memory or time gets twice as much on its first retry.
    Until the input exists (dry run) Snakemake shows <TBD> and evaluates it before submission.
    """

    def resource(wc, input, attempt):
        return math.ceil((base + per_mb * os.path.getsize(input[key]) / 1e6) * attempt)

    return resource


# Each stage's .smk registers a lambda returning its final targets (functions with `def`
# belong here, not in rule files); rule all asks for the targets of the stages switched on.
STAGE_TARGETS = {}


def all_targets():
    targets = []
    for stage, targets_of in STAGE_TARGETS.items():
        if stage_on(stage):
            targets += targets_of()
    return targets


def _check_existing_sheets():
    """Validate sample sheets that exist before the run, so a bad one stops it at once.

    Sheets written by the run itself (the demo) are validated by the rule that reads them.
    """
    for entry in COHORTS.values():
        if Path(entry["samples"]).exists():
            with stop_on_input_error():
                load_samples(entry["samples"], SAMPLES_SCHEMA, config["samples"])


_check_existing_sheets()


def _needed_columns():
    """(stage, config key, column) for every sample-sheet column of the discovery cohort that
    an enabled stage reads. The sex column is never needed: it is inferred when absent."""
    needs = []
    if stage_on("de"):
        for name, a in config["de"]["analyses"].items():
            derived = [(a.get("quantile_contrast") or {}).get("name")]
            terms = parse_formula(a["formula"]).terms
            needs += [("de", f"de.analyses.{name}.formula", t) for t in terms
                      if t not in derived]
            needs += [("de", f"de.analyses.{name}.subset", c) for c in a.get("subset") or {}]
            if a.get("block"):
                needs.append(("de", f"de.analyses.{name}.block", a["block"]))
            if a.get("quantile_contrast"):
                needs.append(("de", f"de.analyses.{name}.quantile_contrast",
                              a["quantile_contrast"]["column"]))
    if stage_on("survival"):
        sv = config["survival"]
        needs += [("survival", f"survival.{k}", sv[k]) for k in ("time_column", "event_column")]
        needs += [("survival", "survival.clinical", c) for c in sv["clinical"]]
    if stage_on("cells"):
        needs += [("cells", "cells.collinearity.covariates", c)
                  for c in config["cells"]["collinearity"]["covariates"]]
    if stage_on("subtypes"):
        st = config["subtypes"]
        needs += [("subtypes", "subtypes.subset", c) for c in st["subset"]]
        needs += [("subtypes", "subtypes.de.formula", t)
                  for t in parse_formula(st["de"]["formula"]).terms if t != "subtype"]
    if stage_on("report"):
        needs += [("report", f"report.cohort_table.{k}", c)
                  for k, cols in config["report"]["cohort_table"].items() for c in cols]
    sex = config["samples"]["sex_column"]
    return [n for n in needs if n[2] != sex]


def _check_needed_columns():
    """A stage that is on refuses, at parse time, a sample sheet without a column it reads,
    naming the stage, the config key and the column; no other column is demanded."""
    path = COHORTS[DISCOVERY[0]]["samples"]
    if not Path(path).exists():
        return  # written by the demo, checked by the rule that reads it
    with open(path) as fh:
        header = fh.readline().rstrip("\n").split("\t")
    cells = set()
    if "cell_fractions" in COHORTS[DISCOVERY[0]] and Path(
            COHORTS[DISCOVERY[0]]["cell_fractions"]).exists():
        with open(COHORTS[DISCOVERY[0]]["cell_fractions"]) as fh:
            cells = set(fh.readline().rstrip("\n").split("\t"))
    for stage, key, column in _needed_columns():
        if column not in header and column not in cells:
            with stop_on_input_error():
                raise InputError(f"stage {stage} needs column '{column}' (named in {key}) "
                                 "but the sample sheet has no such column; add it or change "
                                 f"{key}", path=path, column=column)


_check_needed_columns()


def check_configured_files():
    """Every input file that the config names exists or is written by the demo, so a typo stops
    the run before anything runs, naming the key. Called once every rule file is read."""
    named = [(f"cohorts.{c}.{k}", d[k]) for c, d in COHORTS.items() for k in COHORT_FILE_KEYS
             if k in d]
    if stage_on("enrich"):
        named += [(f"enrich.collections.{n}.{k}", s[k])
                  for n, s in config["enrich"]["collections"].items() for k in ("gmt", "id_map")
                  if k in s]
    if stage_on("connectivity"):
        named += [(f"connectivity.database.{k}", f) for k, fs in CONN_DB["files"].items()
                  for f in fs]
        named += [("connectivity.database.annotations", CONN_DB["annotations"])] \
            if CONN_DB["annotations"] else []
        named += [(f"connectivity.batches.{b}.{k}", spec[k]) for b, spec in
                  CONN_BATCHES.items() for k in ("up", "down")]
    if stage_on("subtypes"):
        named.append(("subtypes.signatures", config["subtypes"]["signatures"]))
    for key, path in named:
        if not Path(path).exists() and not _demo_output(path):
            config_error(key, f"file '{path}' not found")


# Stage reads: FASTQ units of the cohorts that have `units:` (checked against their sheets).
UNITS_SCHEMA = load_schema(Path(workflow.basedir) / "config/schemas/units.schema.yaml")
FASTQ_COHORTS = [c for c, d in COHORTS.items() if "units" in d]


def _demo_output(path):
    return Path(path).as_posix() in {f"results/demo/{name}" for name in DEMO_FILES}


@cache
def _units(cohort):
    """The cohort's validated units, each sample in its sample sheet and vice versa."""
    entry = COHORTS[cohort]
    for key in ("units", "samples"):
        if not Path(entry[key]).exists() and _demo_output(entry[key]):
            checkpoints.demo_data.get()  # written by the demo: known once it has run
    with stop_on_input_error():
        units = load_units(entry["units"], UNITS_SCHEMA)
        samples = load_samples(entry["samples"], SAMPLES_SCHEMA, config["samples"])
        units = match_units(units, samples, entry["units"], entry["samples"])
        check_fastq_paths(units, entry["units"], pending={DEMO_FASTQ})
        return units


def demo_fastq(wc):
    """The demo's FASTQ folder when the cohort's reads lie in it: Snakemake does not link files
    inside a directory() output to the job that writes it, so the folder is named as input."""
    folders = _units(wc.cohort)["fq1"].map(lambda p: Path(p).parent.as_posix())
    return [DEMO_FASTQ] if folders.eq(DEMO_FASTQ).any() else []


def unit_row(wc):
    units = _units(wc.cohort)
    row = units[(units["sample_id"] == wc.sample) & (units["unit"].astype(str) == wc.unit)]
    return row.iloc[0]


def unit_fastq(wc):
    row = unit_row(wc)
    return [row["fq1"]] + ([row["fq2"]] if row["paired"] else [])


def sample_units(wc):
    units = _units(wc.cohort)
    return units[units["sample_id"] == wc.sample]


def sample_trimmed(wc):
    return [f"{READS_DIR}/trimmed/{{sample}}/{u}".format(cohort=wc.cohort, sample=wc.sample)
            for u in sample_units(wc)["unit"].astype(str)]


def sample_raw(wc):
    rows = sample_units(wc)
    return list(rows["fq1"]) + list(rows.loc[rows["paired"], "fq2"])


def cohort_samples(cohort):
    return list(dict.fromkeys(_units(cohort)["sample_id"]))


def per_sample(pattern):
    """Input function: one path per sample of the cohort (known once its units exist)."""
    return lambda wc: [pattern.format(cohort=wc.cohort, sample=s) for s in
                       cohort_samples(wc.cohort)]


def per_unit(pattern):
    return lambda wc: [pattern.format(cohort=wc.cohort, sample=s, unit=u) for s, u in
                       _units(wc.cohort)[["sample_id", "unit"]].astype(str).itertuples(
                           index=False)]


def genome_mb(wc, input):
    return Path(input.genome).stat().st_size / 1e6 if Path(input.genome).exists() else 100


def star_index_mem(wc, input, attempt):
    # STAR needs about 10 bytes per genome base to build its suffix array (32 GB for human)
    return int(max(2000, 11 * genome_mb(wc, input)) * attempt)


def star_align_mem(wc, input, attempt):
    return int(max(2000, 9 * genome_mb(wc, input) + 2000) * attempt)


def report_html_inputs(wc):
    """Stage report: the files results/report.html is built from. The targets of every stage
    that is on (as rule all asks for them; not the reads stage's per-sample files), the
    samples after QC and each DE analysis's covariates (its n), and the report stage's own
    tables, provenance and the run's slowest rules when it is on."""
    cohort = DISCOVERY[0]
    files = [t for stage, targets_of in STAGE_TARGETS.items()
             if stage not in ("report", "demo", "reads") and stage_on(stage)
             for t in targets_of()]
    if stage_on("expression_qc"):
        files.append(f"results/{cohort}/expression_qc/samples.tsv")
    if stage_on("de"):
        files += [f"results/{cohort}/de/{a}/covariates.tsv" for a in ANALYSES]
    if stage_on("report"):
        files += [t for t in STAGE_TARGETS["report"]()
                  if t != REPORT_HTML] + ["results/benchmarks_slowest.tsv"]
    return sorted(set(files))


# Rule report_calibration's inputs: the statistics' tables of the stages that are on.
def calibration_inputs(wildcards):
    files = {
        "bands": resource("calibration.tsv"),
        "toptable": f"results/{wildcards.cohort}/de/{CLASSIFY['analysis']}/toptable.tsv",
        "planted": "results/demo/truth/de_genes.tsv",
    }
    if stage_on("classify"):
        files |= {name: f"results/{wildcards.cohort}/classify/{path}" for name, path in (
            ("auc", "compare/auc.tsv"), ("panels", "panels/panels.tsv"),
            ("performance", "panels/performance.tsv"))}
        if CLASSIFY_EXTERNAL:
            files["external"] = (f"results/{wildcards.cohort}/classify/external/"
                                 f"{CLASSIFY_EXTERNAL}/metrics.tsv")
    if stage_on("survival"):
        files |= {name: f"{SURVIVAL_DIR}/{name}.tsv" for name in ("splits", "logrank", "cases")}
        files["risk"] = "results/demo/truth/survival_risk.tsv"
    return files
