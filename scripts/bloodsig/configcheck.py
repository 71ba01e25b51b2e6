"""Parse-time checks: the config against its JSON schema (defaults filled in) and a single
`bloodsig: error:` line, not a traceback, when the config or a sheet is wrong."""

from __future__ import annotations

import copy
import os
import sys
from contextlib import contextmanager

import jsonschema

from .errors import InputError


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


def validate_config(config: dict, schema: dict, source: str) -> None:
    """Fill in defaults and raise one InputError for the most relevant schema violation,
    naming the config source and the dotted key (e.g. `de.fdr`)."""
    validator = _filling_defaults(jsonschema.Draft202012Validator)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InputError(f"{key}: {error.message}", path=source)


def config_source(configfiles, overrides) -> str:
    """The files (relative to the working directory) and command-line values the config
    came from, for messages."""
    names = [os.path.relpath(f) for f in dict.fromkeys(map(str, configfiles))]
    if overrides:
        names.append("--config")
    return " + ".join(names) or "config"


@contextmanager
def stop_on_input_error():
    """At parse time, print an InputError as one line and exit 1 (Snakemake would print a
    traceback around it)."""
    try:
        yield
    except InputError as e:
        print(f"bloodsig: error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
