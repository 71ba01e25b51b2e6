"""One run of the embedded demo (`snakemake --cores 2` on a copy of the project), shared by
every workflow test that measures planted truth in its results."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import copy_project


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The project directory after a complete demo run (results/ and logs/ inside).

    BLOODSIG_DEMO_DIR names a finished run of the current code to reuse while developing;
    CI ignores it, as the run is part of the test.
    """
    if os.environ.get("BLOODSIG_DEMO_DIR") and not os.environ.get("CI"):
        return Path(os.environ["BLOODSIG_DEMO_DIR"])
    work = copy_project(tmp_path_factory.mktemp("demo"))
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=work,
                         capture_output=True, text=True, timeout=2400)
    assert res.returncode == 0, res.stderr[-5000:]
    return work
