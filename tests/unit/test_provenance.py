"""Provenance: config YAML round trip, versions, checksums equal to hashlib's."""

from __future__ import annotations

import hashlib

import pandas as pd
import yaml

from bloodsig.core import provenance


def test_config_round_trip():
    config = {"seed": 1, "stages": {"de": True}, "de": {"fdr": 0.01, "tech": ["a", "b"]}}
    text = provenance.config_yaml(config)
    assert yaml.safe_load(text) == config and text.index("seed") < text.index("stages")


def test_versions():
    pkgs = provenance.package_versions().set_index("name")
    assert pkgs.loc["pandas", "version"] == pd.__version__
    assert pkgs.loc["python", "kind"] == "python"
    tools = provenance.tool_versions({"python3": ["--version"], "no-such-tool-xyz": []})
    assert tools["version"].iloc[1] == provenance.NOT_INSTALLED
    assert tools["version"].iloc[0][0].isdigit()


def test_tool_version_tolerates_non_utf8(tmp_path):
    tool = tmp_path / "tool"
    tool.write_bytes(b"#!/bin/sh\nprintf 'Tool \\251 2024, version 2.7.10b\\n'\n")
    tool.chmod(0o755)
    assert provenance.tool_version(str(tool), []) == "2.7.10b"


def test_checksums(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.bin"
    a.write_text("hello\n")
    b.write_bytes(bytes(range(256)) * 5000)
    table = provenance.checksums([b, a, a])
    assert list(table["path"]) == [str(a), str(b)]
    assert table["sha256"].iloc[1] == hashlib.sha256(b.read_bytes()).hexdigest()
    assert table["bytes"].tolist() == [6, 256 * 5000]
    units = pd.DataFrame({"fq1": ["x_1.fq", "y_1.fq"], "fq2": ["x_2.fq", None]})
    assert provenance.units_files(units) == ["x_1.fq", "x_2.fq", "y_1.fq"]
