"""A finished project copied (or moved) to another directory has nothing to do: no job
records an absolute path among its inputs or params (resources/ files are inputs relative to
the working directory, as config paths are), so Snakemake finds every output up to date.

The project is the demo marked done cheaply (`mark_done`: input data simulated, every other
output a placeholder recorded by `--touch --forceall`), which records each job's inputs and
params as a real run does."""

import shutil

import pytest
from helpers import copy_project, mark_done, snakemake

pytestmark = pytest.mark.slow  # runs Snakemake


def test_a_copied_finished_project_has_nothing_to_do(tmp_path):
    (tmp_path / "first").mkdir()
    project = mark_done(copy_project(tmp_path / "first"))
    assert "Nothing to be done" in snakemake(project, "-n")
    # copytree keeps modification times (copy2) and .snakemake/ with the jobs' records
    copied = shutil.copytree(project, tmp_path / "elsewhere" / "copied", symlinks=True)
    shutil.rmtree(project)  # a move: nothing of the old directory is left to point at
    out = snakemake(copied, "-n", "--quiet", "rules")
    assert "Nothing to be done" in out, out[-3000:]
