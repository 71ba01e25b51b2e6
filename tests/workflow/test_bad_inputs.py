"""The catalogue of bad inputs: each case damages one input of the finished demo (a copy of
the `demo` run whose results/ are hard links) and asks Snakemake for a file that needs it.

Every run must exit non-zero with exactly one `bloodsig: error:` line (no traceback) that
names the file, the row or column, and the problem, and must leave no output of the failed
step: Snakemake deletes the outputs of the failed job, and a run stopped at parse time writes
nothing at all. Damaged copies go under bad/ and the config is pointed at them, so the demo's
own files (shared by hard link) are never written to.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import copy_project

from bloodsig.simulate import external

pytestmark = pytest.mark.slow

DEMO = "results/demo"
SHEET = f"{DEMO}/discovery/samples.tsv"
COUNTS = f"{DEMO}/discovery/counts.tsv"
# a cheap target whose DAG reads the config and the discovery sheet
ANY = "results/discovery/counts/counts.tsv"
COUNTS_OUT = [f"results/discovery/counts/{n}.tsv" for n in ("counts", "genes", "samples")]


# ------------------------------------------------------------------------------ helpers

def config(work: Path, edit) -> None:
    path = work / "config/config.yaml"
    cfg = yaml.safe_load(path.read_text())
    edit(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def setting(keys: str, value):
    """A config edit setting the dotted key to value."""
    def edit(cfg):
        *parents, last = keys.split(".")
        node = cfg
        for key in parents:
            node = node[key]
        node[last] = value
    return edit


def bad_copy(work: Path, source: str, name: str, edit_lines) -> str:
    """bad/<name>: the lines of `source` (a demo file) changed by edit_lines(list) in place."""
    lines = (work / source).read_text().splitlines()
    edit_lines(lines)
    out = work / "bad" / name
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return f"bad/{name}"


def set_cell(column: str, row: int, value: str):
    """An edit_lines setting one cell of a TSV (row = line number, header = 1)."""
    def edit(lines):
        header = lines[0].split("\t")
        fields = lines[row - 1].split("\t")
        fields[header.index(column)] = value
        lines[row - 1] = "\t".join(fields)
    return edit


def first_row(work: Path, source: str, column: str, value: str) -> int:
    """The line number of the first row of a TSV whose column has this value."""
    lines = (work / source).read_text().splitlines()
    j = lines[0].split("\t").index(column)
    return next(i + 1 for i, line in enumerate(lines) if line.split("\t")[j] == value)


def cohort_file(work, cohort, key, path):
    config(work, setting(f"cohorts.{cohort}.{key}", path))


# ------------------------------------------------------------------------------ the cases
# Each case damages the copy and returns (target, fragments of the error line, outputs of the
# failed step). An empty outputs list means the run must stop before any job runs.

def config_case(key, value, fragment):
    def case(work):
        config(work, setting(key, value))
        return ANY, ["config/config.yaml", fragment], []
    return case


def sheet_case(column, value, fragment, row=5):
    def case(work):
        cohort_file(work, "discovery", "samples",
                    bad_copy(work, SHEET, "samples.tsv", set_cell(column, row, value)))
        return ANY, ["bad/samples.tsv", f"row {row}", f"column '{column}'", fragment], []
    return case


def no_discovery(work):
    config(work, setting("cohorts.discovery.role", "validation"))
    return ANY, ["config/config.yaml", "cohorts: exactly one cohort must have role "
                 "'discovery' (found 0)"], []


def missing_file(work):
    cohort_file(work, "discovery", "counts", "data/counts.tsv")
    return ANY, ["config/config.yaml", "cohorts.discovery.counts: file 'data/counts.tsv' "
                 "not found"], []


def duplicated_sample(work):
    def dup(lines):
        lines.append(lines[3])
    cohort_file(work, "discovery", "samples", bad_copy(work, SHEET, "samples.tsv", dup))
    row = len((work / SHEET).read_text().splitlines()) + 1  # the appended copy
    return ANY, ["bad/samples.tsv", f"row {row}", "column 'sample_id'",
                 "duplicated sample id 'S0003' (first at row 4)"], []


def case_without_group(work):
    row = first_row(work, SHEET, "group", "ALS")
    cohort_file(work, "discovery", "samples",
                bad_copy(work, SHEET, "samples.tsv", set_cell("group", row, "")))
    return ANY, ["bad/samples.tsv", f"row {row}", "column 'group'", "has no group"], []


def survival_case(value, fragment):
    def case(work):
        row = first_row(work, SHEET, "survival_event", "1")
        cohort_file(work, "discovery", "samples", bad_copy(
            work, SHEET, "samples.tsv", set_cell("survival_time", row, value)))
        return ANY, ["bad/samples.tsv", f"row {row}", "column 'survival_time'", fragment], []
    return case


def survival_column_missing(work):
    config(work, setting("survival.time_column", "os_months"))
    return ("results/discovery/survival/input_genes.tsv",
            ["results/demo/discovery/samples.tsv", "column 'os_months'",
             "stage survival needs column 'os_months' (named in survival.time_column)"],
            [])  # refused when the workflow is parsed: nothing runs, nothing is written


EXT_UNITS = f"{DEMO}/external/units.tsv"


def units_case(edit_lines, fragments):
    def case(work):
        cohort_file(work, "external", "units", bad_copy(work, EXT_UNITS, "units.tsv",
                                                        edit_lines))
        return "results/external/counts/counts.tsv", fragments, []
    return case


APPENDED_ROW = f"row {external.N_SAMPLES + 2}"  # a row appended to the demo's units.tsv


def _unknown_unit_sample(lines):
    lines.append(lines[1].replace("E001", "E099", 1))


def _duplicated_unit(lines):
    lines.append(lines[2])


def _sample_without_units(lines):
    del lines[3]


def fastq_case(damage, fragment):
    """Sample E001's read 1 replaced by a damaged copy under bad/."""
    def case(work):
        src = work / f"{DEMO}/external/fastq/E001_R1.fastq.gz"
        (work / "bad").mkdir(exist_ok=True)
        (work / "bad/E001_R1.fastq.gz").write_bytes(damage(src.read_bytes()))
        cohort_file(work, "external", "units", bad_copy(
            work, EXT_UNITS, "units.tsv", set_cell("fq1", 2, "bad/E001_R1.fastq.gz")))
        report = "results/external/reads/cutadapt/E001/L001.cutadapt.json"
        return report, ["bad/E001_R1.fastq.gz", fragment, "(listed in bad/units.tsv, row 2)"], [
            report]
    return case


def gtf_case(edit_lines, fragments):
    def case(work):
        lines = (work / f"{DEMO}/external/genes.gtf").read_text().splitlines()
        row = next(i + 1 for i, line in enumerate(lines) if "\texon\t" in line)
        cohort_file(work, "external", "gtf",
                    bad_copy(work, f"{DEMO}/external/genes.gtf", "genes.gtf",
                             lambda ls: edit_lines(ls, row - 1)))
        out = "results/external/reads/genes.tsv"
        return out, ["bad/genes.gtf", f"row {row}"] + fragments, [out]
    return case


def _drop_gene_id(lines, i):
    fields = lines[i].split("\t")
    fields[8] = "; ".join(a for a in fields[8].split("; ") if not a.startswith("gene_id"))
    lines[i] = "\t".join(fields)


def _start_after_end(lines, i):
    fields = lines[i].split("\t")
    fields[3], fields[4] = str(int(fields[4]) + 10), fields[3]
    lines[i] = "\t".join(fields)


def counts_case(edit_lines, fragments):
    def case(work):
        cohort_file(work, "discovery", "counts", bad_copy(work, COUNTS, "counts.tsv",
                                                          edit_lines))
        return ANY, ["bad/counts.tsv"] + fragments, COUNTS_OUT
    return case


def _extra_sample(lines):
    lines[0] += "\tS9999"
    for i in range(1, len(lines)):
        lines[i] += "\t7"


def _missing_sample(lines):
    for i in range(len(lines)):
        lines[i] = lines[i].rsplit("\t", 1)[0]


def _duplicated_gene(lines):
    lines.insert(3, lines[1])


CELLS = f"{DEMO}/discovery/cells_dnam.tsv"
CELLS_OUT = ["results/discovery/cells/validation.tsv", "results/discovery/cells/validation.png"]


def cells_case(column, value, fragment):
    def case(work):
        cohort_file(work, "discovery", "cell_fractions",
                    bad_copy(work, CELLS, "cells.tsv", set_cell(column, 4, value)))
        return CELLS_OUT[0], ["bad/cells.tsv", "row 4", fragment], CELLS_OUT
    return case


ORA = "results/discovery/enrich/primary/ora_pathways"


def gmt_case(text, fragments):
    def case(work):
        (work / "bad").mkdir(exist_ok=True)
        (work / "bad/pathways.gmt").write_text(text)
        config(work, setting("enrich.collections.pathways.gmt", "bad/pathways.gmt"))
        return f"{ORA}.tsv", ["bad/pathways.gmt"] + fragments, [f"{ORA}.tsv", f"{ORA}.png"]
    return case


STORE = "results/connectivity_store"
STORE_OUT = [f"{STORE}/manifest.json", f"{STORE}/ranks.npy", f"{STORE}/scores.npy"]


def database_case(key, source, edit_lines, fragments):
    def case(work):
        config(work, setting(f"connectivity.database.{key}",
                             bad_copy(work, source, Path(source).name, edit_lines)))
        return STORE_OUT[0], [f"bad/{Path(source).name}"] + fragments, STORE_OUT
    return case


def _rename_sig_id(lines):
    lines[0] = lines[0].replace("sig_id", "signature", 1)


def _duplicated_gene_info(lines):
    lines.insert(2, lines[1])


def gctx_not_hdf5(work):
    (work / "bad").mkdir(exist_ok=True)
    (work / "bad/signatures.gctx").write_text("id\tscore\n")
    config(work, setting("connectivity.database.gctx", "bad/signatures.gctx"))
    return STORE_OUT[0], ["bad/signatures.gctx", "not a GCTX file"], STORE_OUT


def external_without_panel_genes(work):
    """A count-matrix copy of the external cohort whose gene ids are all renamed."""
    (work / "bad").mkdir(exist_ok=True)
    for name in ("counts", "genes"):
        lines = (work / f"results/external/counts/{name}.tsv").read_text().splitlines()
        (work / f"bad/{name}.tsv").write_text("\n".join(
            [lines[0]] + ["X" + line for line in lines[1:]]) + "\n")

    def edit(cfg):
        cfg["cohorts"]["renamed"] = {"role": "validation",
                                     "samples": f"{DEMO}/external/samples.tsv",
                                     "counts": "bad/counts.tsv", "annotation": "bad/genes.tsv"}
    config(work, edit)
    predict = "results/discovery/classify/predict/renamed"
    return (f"{predict}/predictions.tsv",
            ["results/renamed/counts/counts.tsv", "column 'gene_id'",
             "the cohort has none of the", "panel genes"],
            [f"{predict}/predictions.tsv", f"{predict}/missing_genes.tsv"])


CASES = {
    # config: schema violations and contradictions, stopped at parse time
    "config_unknown_key": config_case("de.fdrr", 0.05, "de: Additional properties are not "
                                      "allowed ('fdrr' was unexpected)"),
    "config_seed_text": config_case("seed", "x", "seed: 'x' is not of type 'integer'"),
    "de_fdr_zero": config_case("de.fdr", 0, "de.fdr: 0 is less than or equal to the minimum "
                               "of 0"),
    "de_fdr_above_one": config_case("de.fdr", 1.5, "de.fdr: 1.5 is greater than the maximum "
                                    "of 1"),
    "candidates_fdr_zero": config_case("connectivity.candidates.max_fdr", 0,
                                       "connectivity.candidates.max_fdr: 0 is less than"),
    "enrich_fdr_negative": config_case("enrich.fdr", -0.1, "enrich.fdr: -0.1 is less than"),
    "logrank_p_above_one": config_case("survival.logrank_p", 2, "survival.logrank_p: 2 is "
                                       "greater than the maximum of 1"),
    "classify_filter_fdr_zero": config_case("classify.filters.fdr.fdr", 0,
                                            "classify.filters.fdr.fdr: 0 is less than"),
    "subtypes_fdr_above_one": config_case("subtypes.de.fdr", 1.01, "subtypes.de.fdr: 1.01 is "
                                          "greater than"),
    "external_cohort_unknown": config_case("classify.external_cohort", "extrnal",
                                           "classify.external_cohort: 'extrnal' is not a "
                                           "cohort"),
    "no_discovery_cohort": no_discovery,
    "input_file_missing": missing_file,
    # sample sheet: checked row by row at parse time
    "sheet_duplicated_id": duplicated_sample,
    "sheet_case_without_group": case_without_group,
    "sheet_age_text": sheet_case("age", "sixty", "'sixty' is not of type 'number'"),
    "sheet_group_unknown": sheet_case("group", "ALS?", "value 'ALS?' is not one of ALS, "
                                      "control"),
    "survival_time_zero": survival_case("0", "0 is less than or equal to the minimum of 0"),
    "survival_time_negative": survival_case("-3.5", "-3.5 is less than or equal to the "
                                            "minimum of 0"),
    "survival_event_not_binary": sheet_case("survival_event", "2", "2.0 is not one of [0, 1]",
                                            row=2),
    "survival_column_missing": survival_column_missing,
    # units: checked against the sheet when the DAG is built
    "units_unknown_sample": units_case(_unknown_unit_sample, [
        "bad/units.tsv", APPENDED_ROW, "column 'sample_id'", "sample 'E099' is not in the "
        "sample sheet"]),
    "units_duplicated": units_case(_duplicated_unit, [
        "bad/units.tsv", APPENDED_ROW, "column 'unit'", "unit 'L001' of sample 'E002' is listed "
        "twice"]),
    "units_fastq_missing": units_case(set_cell("fq2", 3, "data/E002_R2.fastq.gz"), [
        "bad/units.tsv", "row 3", "column 'fq2'", "FASTQ file 'data/E002_R2.fastq.gz' not "
        "found"]),
    "units_sample_without_reads": units_case(_sample_without_units, [
        f"{DEMO}/external/samples.tsv", "row 4", "sample 'E003' has no FASTQ units"]),
    # FASTQ: checked before trimming
    "fastq_truncated": fastq_case(lambda b: b[:-5000], "FASTQ is truncated or corrupt"),
    "fastq_not_fastq": fastq_case(lambda b: gzip.compress(b"read one\nACGT\n"),
                                  "not a FASTQ file"),
    # GTF: checked before the index build
    "gtf_without_gene_id": gtf_case(_drop_gene_id, [
        "column 'attributes'", "'exon' line has no 'gene_id' attribute"]),
    "gtf_start_after_end": gtf_case(_start_after_end, [
        "column 'start'", "start/end are not positions with start <= end"]),
    # count matrix
    "counts_decimal": counts_case(set_cell("S0002", 3, "12.5"), [
        "row 3", "column 'S0002'", "non-integer count 12.5"]),
    "counts_negative": counts_case(set_cell("S0003", 4, "-4"), [
        "row 4", "column 'S0003'", "negative count -4"]),
    "counts_nan": counts_case(set_cell("S0004", 5, "NA"), [
        "row 5", "column 'S0004'", "missing value (NaN)"]),
    "counts_sample_not_in_sheet": counts_case(_extra_sample, [
        "column 'S9999'", "sample 'S9999' is in the count matrix but not in the sample sheet"]),
    "sheet_sample_not_in_counts": counts_case(_missing_sample, [
        "sample 'S0420' is in the sample sheet but not in the count matrix"]),  # the last
    "counts_duplicated_gene": counts_case(_duplicated_gene, [
        "row 4", "column 'gene_id'", "duplicated gene id"]),
    # cell fractions
    "cells_sum_not_one": cells_case("Neu", "0.95", "sum to"),
    "cells_fraction_text": cells_case("NK", "high", "column 'NK': fraction 'high' is not a "
                                      "number in [0, 1]"),
    # gene sets
    "gmt_no_gene_in_universe": gmt_case("SET_A\tdesc\tNOPE1\tNOPE2\nSET_B\tdesc\tNOPE3\n",
                                        ["no gene of this collection is among"]),
    "gmt_set_without_genes": gmt_case("SET_A\tdesc\tGENE1\nSET_B\tdesc\n",
                                      ["row 2", "gene set 'SET_B' has no genes"]),
    # signature database
    "siginfo_without_sig_id": database_case("siginfo", f"{DEMO}/cmap/siginfo.tsv",
                                            _rename_sig_id, ["column 'sig_id'", "lacks "
                                                             "required column"]),
    "geneinfo_duplicated_gene": database_case("geneinfo", f"{DEMO}/cmap/geneinfo.tsv",
                                              _duplicated_gene_info, [
                                                  "row 3", "column 'gene_id'",
                                                  "duplicated gene id"]),
    "gctx_not_hdf5": gctx_not_hdf5,
    # external cohort
    "external_without_panel_genes": external_without_panel_genes,
}


@pytest.fixture(scope="module")
def finished(demo, tmp_path_factory):
    """The demo's finished results (hard links are cheap) and Snakemake's record of the
    params and code that made them (copied: Snakemake rewrites it), in a folder of its own."""
    base = tmp_path_factory.mktemp("finished")
    subprocess.run(["cp", "-al", str(demo / "results"), str(base / "results")], check=True)
    (base / ".snakemake").mkdir()
    shutil.copytree(demo / ".snakemake/metadata", base / ".snakemake/metadata")
    return base


def written_since(root: Path, start: float) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / "results").rglob("*")
                  if p.is_file() and p.stat().st_mtime >= start)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_stops_with_one_message(finished, tmp_path, name):
    work = copy_project(tmp_path)
    subprocess.run(["cp", "-al", str(finished / "results"), str(work / "results")], check=True)
    shutil.copytree(finished / ".snakemake", work / ".snakemake")
    target, fragments, failed_outputs = CASES[name](work)
    start = time.time() - 1
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", target],
                         cwd=work, capture_output=True, text=True, timeout=600)
    assert res.returncode != 0, res.stderr[-3000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("bloodsig: error:")]
    assert len(errors) == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    written = written_since(work, start)
    if not failed_outputs:  # stopped before any job: nothing written at all
        assert not written, written
    for output in failed_outputs:
        assert not (work / output).exists(), f"{output} survived the failed step"
    assert not [p for p in written if Path(p).name.startswith(".")], written
    # the demo's files are untouched (the damaged copies went under bad/)
    assert os.path.samefile(work / SHEET, finished / SHEET)
