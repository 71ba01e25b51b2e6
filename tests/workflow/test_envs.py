"""The pinned conda environments (envs/*.yaml) that `--use-conda` builds for every rule.

Each parses, takes packages from conda-forge and bioconda only (nodefaults), pins every package
to one version, and is named by a rule's `conda:`; every rule names one. The Python packages
pinned there are versions pyproject.toml allows (and, where installed here, the installed
major.minor), and every dependency of bloodsig is pinned in some env. No env installs bloodsig
itself: Snakemake puts scripts/ on every rule script's path, and `pip: -e ../` would bring in
bloodsig's dependencies unpinned.
"""

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
ENVS = sorted((ROOT / "envs").glob("*.yaml"))
CHANNELS = ["conda-forge", "bioconda", "nodefaults"]
CONDA_PIN = re.compile(r"^([a-z0-9][a-z0-9_.\-]*)=(\d[\w.]*)$")  # name=version
PIP_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)==(\d[\w.]*)$")  # name==version
# conda packages whose PyPI distribution has another name
PYPI_NAME = {"matplotlib-base": "matplotlib", "py-xgboost-cpu": "xgboost-cpu"}
RUNNER = "snakemake"  # runs the rules; a rule's env needs none of it
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REQUIREMENTS = {canonicalize_name(r.name): r
                for r in map(Requirement, PYPROJECT["dependencies"])}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def pins(env: dict) -> dict[str, str]:
    """PyPI name -> pinned version, of the pinned conda and pip packages of an env (the test
    below reports the others)."""
    found = {}
    for dep in env["dependencies"]:
        matches = [CONDA_PIN.match(dep)] if isinstance(dep, str) else map(PIP_PIN.match, dep["pip"])
        for match in filter(None, matches):
            name, version = match.groups()
            found[canonicalize_name(PYPI_NAME.get(name, name))] = version
    return found


def test_there_are_envs():
    assert (ROOT / "envs/python.yaml") in ENVS


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_env_parses_and_pins_every_package(path):
    env = load(path)
    assert set(env) <= {"name", "channels", "dependencies"}, path.name
    assert env["channels"] == CHANNELS, f"{path.name}: channels must be {CHANNELS}"
    names = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            assert list(dep) == ["pip"], f"{path.name}: unexpected {dep}"
            assert any(CONDA_PIN.match(d) and d.startswith("pip=")
                       for d in env["dependencies"] if isinstance(d, str)), \
                f"{path.name}: a pip section needs pip itself pinned"
            for req in dep["pip"]:
                assert PIP_PIN.match(req), \
                    f"{path.name}: pip requirement '{req}' is not pinned as name==version"
                names.append(req)
        else:
            assert isinstance(dep, str) and CONDA_PIN.match(dep), \
                f"{path.name}: '{dep}' is not pinned as name=version"
            names.append(dep.split("=")[0])
    assert len(names) == len(set(names)), f"{path.name}: a package is listed twice"


def rule_envs() -> dict[str, str]:
    """Rule name -> the env file its `conda:` names (a quoted path or a name bound to one)."""
    texts = {p: p.read_text() for p in sorted((ROOT / "rules").glob("*.smk"))}
    bound = {name: value for text in texts.values()
             for name, value in re.findall(r'^(\w+) = "([^"]+\.yaml)"', text, flags=re.M)}
    envs = {}
    for path, text in texts.items():
        blocks = re.split(r"^(?:rule|checkpoint) (\w+):\n", text, flags=re.M)
        for name, body in zip(blocks[1::2], blocks[2::2], strict=True):
            match = re.search(r"^    conda:\n        (\S+)\n", body, flags=re.M)
            assert match, f"{path.name}: rule {name} has no conda: directive"
            value = match.group(1)
            value = value.strip('"') if value.startswith('"') else bound.get(value, value)
            envs[name] = value
    return envs


def test_every_rule_names_an_existing_env():
    envs = rule_envs()
    assert {"demo_data", "counts_from_matrix", "expression_qc", "de_fit"} <= set(envs)
    used = set()
    for rule, value in envs.items():
        path = (ROOT / "rules" / value).resolve()
        assert path in ENVS, f"rule {rule}: conda env '{value}' is not a file in envs/"
        used.add(path)
    assert used == set(ENVS), f"envs no rule names: {sorted(set(ENVS) - used)}"


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.name)
def test_python_pins_agree_with_pyproject(path):
    env_pins = pins(load(path))
    python = env_pins.pop("python", None)
    if python is not None:
        assert SpecifierSet(PYPROJECT["requires-python"]).contains(python), python
        assert Version(python).release[:2] == sys.version_info[:2], \
            f"{path.name}: python={python}, tested with {sys.version_info[:2]}"
    for name, version in env_pins.items():
        if name in REQUIREMENTS:
            spec = REQUIREMENTS[name].specifier
            assert spec.contains(version, prereleases=True), \
                f"{path.name}: {name}={version} is outside pyproject.toml's '{spec}'"
        if name == "pip":
            continue  # the installer, not a package bloodsig runs with
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            continue  # a tool's Python package that the test machine does not have
        pinned = Version(version)
        # patch releases may differ (pip resolves the newest); the API level may not
        assert (installed.major, installed.minor) == (pinned.major, pinned.minor), \
            f"{path.name}: {name}={version} pinned, {installed} installed and tested"


def test_every_dependency_is_pinned_in_an_env():
    pinned = set().union(*(pins(load(path)) for path in ENVS))
    unpinned = sorted(set(REQUIREMENTS) - pinned - {RUNNER})
    assert not unpinned, f"pyproject.toml dependencies pinned in no envs/*.yaml: {unpinned}"
