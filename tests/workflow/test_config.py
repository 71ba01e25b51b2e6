"""The workflow refuses a bad config before anything runs, and lints clean."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import copy_project

pytestmark = pytest.mark.slow  # runs Snakemake

ROOT = Path(__file__).resolve().parents[2]


def snakemake(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_lint_clean():
    res = snakemake("--lint")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Lints for" not in res.stdout + res.stderr


def test_ruff_clean():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout


def test_default_config_dry_run():
    res = snakemake("-n", "--quiet", "rules")
    assert res.returncode == 0, res.stderr
    assert "demo_data" in res.stdout + res.stderr


def test_paper_config_dry_run():
    """The reference study's settings stay one --configfile away: they pass the schema."""
    res = snakemake("-n", "--quiet", "rules", "--configfile", "config/paper.yaml")
    assert res.returncode == 0, res.stderr
    assert "bloodsig: error" not in res.stderr


def test_error_names_the_users_configfile(tmp_path):
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    cfg["de"]["fdr"] = 2
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(cfg))
    res = snakemake("-n", "--configfile", str(mine), "--replace-workflow-config")
    assert res.returncode != 0
    assert f"bloodsig: error: {mine}: de.fdr: 2 is greater than the maximum of 1" in res.stderr


@pytest.fixture
def broken_config(tmp_path):
    """A copy of the project whose config/config.yaml is edited (a --configfile would only be
    merged over the default, so a removed key would come back)."""
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    base = yaml.safe_load((ROOT / "config/config.yaml").read_text())

    def make(edit):
        cfg = yaml.safe_load(yaml.safe_dump(base))
        edit(cfg)
        (project / "config/config.yaml").write_text(yaml.safe_dump(cfg))
        return project

    return make


@pytest.mark.parametrize("edit, fragments", [
    (lambda c: c["de"].update(fdrr=0.05), ["fdrr"]),
    (lambda c: c["de"].update(fdr="small"), ["'small'", "fdr"]),
    (lambda c: c["de"].update(fdr=1.5), ["1.5", "fdr"]),
    (lambda c: c.update(seed="x"), ["'x'", "seed"]),
    (lambda c: c["stages"].update(de="yes"), ["'yes'", "de"]),
    (lambda c: c["de"]["analyses"]["primary"].pop("coef"), ["coef", "primary"]),
    (lambda c: c["cohorts"]["discovery"].pop("counts"), ["discovery"]),
])
def test_bad_config_refused(broken_config, edit, fragments):
    project = broken_config(edit)
    res = snakemake("--cores", "1", cwd=project)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    for fragment in fragments:
        assert fragment in out, out[-2000:]
    assert not (project / "results").exists()  # nothing ran


def test_bad_existing_sample_sheet_stops_at_parse(tmp_path, broken_config):
    sheet = tmp_path / "samples.tsv"
    text = (ROOT / "config/samples.tsv").read_text().splitlines()
    sheet.write_text("\n".join(text + [text[1]]) + "\n")  # duplicate the first sample

    def edit(cfg):
        cfg["cohorts"]["discovery"]["samples"] = str(sheet)

    project = broken_config(edit)
    res = snakemake("--cores", "1", cwd=project)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "duplicated sample id 'S0001'" in out and str(sheet) in out
    assert not (project / "results").exists()

