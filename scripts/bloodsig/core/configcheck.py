"""Parse-time checks: the config against its JSON schema (defaults filled in) and a single
`bloodsig: error:` line, not a traceback, when the config or a sheet is wrong. A config
problem names the file that set the value (the workflow's config/config.yaml, a
--configfile, or --config) and its dotted key."""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import jsonschema
import yaml

from .errors import InputError

Layers = list[tuple[str, dict]]


def _filling_defaults(cls):
    """A validator class that also writes each property's `default` into the instance."""
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": properties})


def _display(path) -> str:
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def config_layers(workflow_files, cli_files, overrides: dict, replaced: bool) -> Layers:
    """Where the config came from, lowest precedence first: the Snakefile's configfile (unless
    --replace-workflow-config), the --configfile files in order, then --config values."""
    cli = [Path(f).absolute() for f in cli_files]
    own = [] if replaced else [Path(f).absolute() for f in workflow_files
                               if Path(f).absolute() not in cli]
    layers = [(_display(f), yaml.safe_load(f.read_text()) or {}) for f in own + cli]
    if overrides:
        layers.append(("--config", dict(overrides)))
    return layers


def source_of(key: list, layers: Layers) -> str:
    """The layer that sets `key` (a list of keys) last, or every layer when none does."""
    for name, data in reversed(layers):
        node = data
        for part in key:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                break
        else:
            return name
    return " + ".join(name for name, _ in layers) or "config"


def validate_config(config: dict, schema: dict, layers: Layers) -> None:
    """Fill in defaults and raise one InputError for the most relevant schema violation,
    naming the layer that set the value and the dotted key (e.g. `de.fdr`)."""
    validator = _filling_defaults(jsonschema.Draft202012Validator)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    key = list(error.absolute_path)
    where = key
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {})
        where = key + [next(k for k in error.instance if k not in allowed)]  # the stray key
    dotted = ".".join(map(str, key)) or "(top level)"
    message = error.message
    if error.validator in ("oneOf", "anyOf") and error.context:
        # jsonschema's "is not valid under any of the given schemas" says nothing: list why
        # each alternative failed
        reasons = dict.fromkeys(sub.message for sub in error.context)
        message = f"{error.instance!r} is none of the accepted forms: " + "; or ".join(reasons)
    raise InputError(f"{dotted}: {message}", path=source_of(where, layers))


def fill_defaults(instance: dict, schema: dict) -> dict:
    """`instance` (a config section) with its schema's defaults written in; its missing
    required keys stay absent."""
    for _ in _filling_defaults(jsonschema.Draft202012Validator)(schema).iter_errors(instance):
        pass  # a missing required key: the stage is not configured
    return instance


def section_defaults(schema: dict) -> dict:
    """An absent config section as its schema's defaults."""
    return fill_defaults({}, schema)


class FromConfig:
    """Base of a stage's settings (a frozen dataclass whose fields are named after its config
    keys): `from_config(section)` takes each field from the key of its name in the section as
    the schema fills it (or in a rule's params, which carry the keys the rule reads), so the
    defaults live in the schema only and a missing key is an error, never a second default.
    `extra` gives the fields that are not keys of that section."""

    @classmethod
    def from_config(cls, section: Mapping, **extra):
        return cls(**{f.name: section[f.name] for f in fields(cls) if f.name not in extra},
                   **extra)


def canonical(value):
    """`value` with every mapping's keys sorted. Snakemake compares a rule's params as text,
    so params built from the config must not depend on the order of keys in the user's file."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


@contextmanager
def stop_on_input_error():
    """At parse time, print an InputError as one line and exit 1 (Snakemake would print a
    traceback around it)."""
    try:
        yield
    except InputError as e:
        print(f"bloodsig: error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
