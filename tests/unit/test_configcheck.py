import pytest
import yaml

from bloodsig.core.configcheck import config_layers, source_of, stop_on_input_error, validate_config
from bloodsig.core.errors import InputError

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
    validate_config(config, SCHEMA, [("c.yaml", config)])
    assert config == {"seed": 1, "de": {"fdr": 0.05, "engine": "limma"}}
    empty = {}
    validate_config(empty, SCHEMA, [("c.yaml", {})])
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
        validate_config(config, SCHEMA, [("c.yaml", copy_of(config))])
    assert str(err.value).startswith(message)


def copy_of(config):
    return yaml.safe_load(yaml.safe_dump(config))


def test_the_message_names_the_layer_that_set_the_value(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    default, mine = tmp_path / "config/config.yaml", tmp_path / "mine.yaml"
    default.write_text("seed: 1\nde: {fdr: 0.01}\n")
    mine.write_text("de: {fdr: 2, fdrr: 1}\n")
    layers = config_layers([mine, default], [mine], {"seed": 7}, replaced=False)
    assert [name for name, _ in layers] == ["config/config.yaml", "mine.yaml", "--config"]
    assert source_of(["de", "fdr"], layers) == "mine.yaml"
    assert source_of(["seed"], layers) == "--config"
    assert source_of(["de", "engine"], layers) == "config/config.yaml + mine.yaml + --config"
    # the stray key of an unknown-key error is looked up, not its section
    with pytest.raises(InputError, match=r"^mine.yaml: de: Additional properties"):
        validate_config({"de": {"fdrr": 1}}, SCHEMA, layers)
    replaced = config_layers([mine, default], [mine], {}, replaced=True)
    assert [name for name, _ in replaced] == ["mine.yaml"]


def test_input_error_becomes_one_line_and_exit_1(capsys):
    with pytest.raises(SystemExit) as stop, stop_on_input_error():
        raise InputError("bad value", path="s.tsv", row=3, column="age")
    assert stop.value.code == 1
    assert capsys.readouterr().err == "bloodsig: error: s.tsv, row 3, column 'age': bad value\n"
