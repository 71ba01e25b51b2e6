import pytest

from bloodsig.configcheck import config_source, stop_on_input_error, validate_config
from bloodsig.errors import InputError

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "seed": {"type": "integer", "default": 1},
        "de": {
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "properties": {
                "fdr": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.01},
                "engine": {"enum": ["limma", "deseq2"], "default": "limma"},
            },
        },
    },
}


def test_defaults_are_filled_in_nested_sections():
    config = {"de": {"fdr": 0.05}}
    validate_config(config, SCHEMA, "c.yaml")
    assert config == {"seed": 1, "de": {"fdr": 0.05, "engine": "limma"}}
    empty = {}
    validate_config(empty, SCHEMA, "c.yaml")
    assert empty == {"seed": 1, "de": {"fdr": 0.01, "engine": "limma"}}


@pytest.mark.parametrize("config, message", [
    ({"de": {"fdr": 0}}, "c.yaml: de.fdr: 0 is less than or equal to the minimum of 0"),
    ({"de": {"fdr": 1.5}}, "c.yaml: de.fdr: 1.5 is greater than the maximum of 1"),
    ({"de": {"engine": "edger"}}, "c.yaml: de.engine: 'edger' is not one of"),
    ({"de": {"fdrr": 0.1}}, "c.yaml: de: Additional properties are not allowed ('fdrr'"),
    ({"sed": 3}, "c.yaml: (top level): Additional properties are not allowed ('sed'"),
])
def test_violation_names_the_file_and_the_key(config, message):
    with pytest.raises(InputError) as err:
        validate_config(config, SCHEMA, "c.yaml")
    assert str(err.value).startswith(message)


def test_config_source_names_files_and_overrides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = [tmp_path / "config/config.yaml", tmp_path / "mine.yaml", tmp_path / "mine.yaml"]
    assert config_source(files, {}) == "config/config.yaml + mine.yaml"
    assert config_source(files[:1], {"seed": 2}) == "config/config.yaml + --config"


def test_input_error_becomes_one_line_and_exit_1(capsys):
    with pytest.raises(SystemExit) as stop, stop_on_input_error():
        raise InputError("bad value", path="s.tsv", row=3, column="age")
    assert stop.value.code == 1
    assert capsys.readouterr().err == "bloodsig: error: s.tsv, row 3, column 'age': bad value\n"
