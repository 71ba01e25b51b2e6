"""Sample and unit sheets: loading, validation against the JSON schemas, matching to counts.

Every problem is raised as one InputError naming the file, the row (the line number in the
file, header = line 1) and the column, so a user can go straight to the cell.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from .errors import InputError
from .io import read_tsv


def load_schema(path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _numeric_columns(schema: dict) -> list[str]:
    numeric = {"number", "integer"}
    out = []
    for name, prop in schema.get("properties", {}).items():
        types = prop.get("type", [])
        types = {types} if isinstance(types, str) else set(types)
        if types and types <= numeric:
            out.append(name)
    return out


def coerce_numeric(df: pd.DataFrame, schema: dict) -> pd.DataFrame:
    """Turn the cells of numeric columns that parse as numbers into numbers, leaving the rest
    as they are, so that one stray text cell is reported by itself rather than its column."""
    df = df.copy()
    for column in _numeric_columns(schema):
        if column in df.columns and df[column].dtype == object:
            parsed = pd.to_numeric(df[column], errors="coerce")
            df[column] = parsed.astype(object).where(parsed.notna(), df[column])
    return df


def validate_rows(df: pd.DataFrame, schema: dict, path) -> None:
    """Check every row against a row-record JSON schema; empty cells are treated as absent."""
    df = coerce_numeric(df, schema)
    validator = jsonschema.Draft202012Validator(schema)
    for i, record in enumerate(df.to_dict("records")):
        record = {k: v for k, v in record.items() if not pd.isna(v)}
        error = jsonschema.exceptions.best_match(validator.iter_errors(record))
        if error is not None:
            column = error.path[0] if error.path else None
            if column is None and error.validator == "required":
                column = error.message.split("'")[1]
            if error.validator == "additionalProperties":
                problem = f"unknown column ({error.message})"
            else:
                problem = error.message
            raise InputError(problem, path=path, row=i + 2, column=column)


def _first_row(mask: pd.Series) -> int:
    return int(mask.to_numpy().nonzero()[0][0]) + 2


def load_samples(path, schema: dict, settings: dict) -> pd.DataFrame:
    """Read and validate a sample sheet; return it indexed by sample id, rows in file order.

    `settings` is the config's `samples:` section (column names, the case/control and
    female/male values, and `other_groups`). Only the id and group columns are required: a
    stage that needs another column checks for it when the workflow is parsed. The sex column
    may be absent or have empty cells (unknown: stage expression_qc infers it); a recorded
    value must be one of the two codes. A group value other than case, control and the
    listed `other_groups` is refused (usually a typo).
    """
    path = Path(path)
    sid, group, sex = settings["id_column"], settings["group_column"], settings["sex_column"]
    df = read_tsv(path, required=[sid, group], what="sample sheet", dtype={sid: str})
    validate_rows(df, schema, path)
    for column in _numeric_columns(schema):
        if column in df.columns:
            df[column] = pd.to_numeric(df[column])
    missing_id = df[sid].isna()
    if missing_id.any():
        raise InputError("empty sample id", path=path, row=_first_row(missing_id), column=sid)
    dup = df[sid].duplicated(keep="first")
    if dup.any():
        name = df.loc[dup, sid].iloc[0]
        first = _first_row(df[sid] == name)
        raise InputError(f"duplicated sample id '{name}' (first at row {first})", path=path,
                         row=_first_row(dup), column=sid)
    empty = df[group].isna()
    if empty.any():
        raise InputError(f"sample '{df.loc[empty, sid].iloc[0]}' has no {group}", path=path,
                         row=_first_row(empty), column=group)
    groups = (settings["case"], settings["control"], *settings["other_groups"])
    _check_values(df, group, groups, path, "samples.other_groups")
    if sex in df.columns:
        _check_values(df[df[sex].notna()], sex, (settings["female"], settings["male"]), path,
                      None)
    return df.set_index(sid, drop=False).rename_axis(None)


def _check_values(df: pd.DataFrame, column: str, allowed, path, extend_key) -> None:
    bad = ~df[column].astype(str).isin([str(a) for a in allowed])
    if bad.any():
        hint = f" (list other values in config {extend_key})" if extend_key else ""
        raise InputError(f"value '{df.loc[bad, column].iloc[0]}' is not one of "
                         f"{', '.join(map(str, allowed))}{hint}", path=path,
                         row=int(df.index[bad.to_numpy()][0]) + 2, column=column)


def load_units(path, schema: dict) -> pd.DataFrame:
    """Read and validate a units sheet (sample_id, unit, fq1[, fq2]); (sample_id, unit) unique."""
    path = Path(path)
    df = read_tsv(path, required=["sample_id", "unit", "fq1"], what="units sheet",
                  dtype={"sample_id": str, "unit": str})
    validate_rows(df, schema, path)
    dup = df.duplicated(["sample_id", "unit"])
    if dup.any():
        row = df.loc[dup].iloc[0]
        raise InputError(f"unit '{row['unit']}' of sample '{row['sample_id']}' is listed twice",
                         path=path, row=_first_row(dup), column="unit")
    return df


def _mangled_hint(name: str, others) -> str:
    """A hint when `name` matches one of `others` once R's make.names() mangling ('-' and
    other characters to '.', a leading digit prefixed with 'X') is undone or applied."""
    def mangle(x: str) -> str:
        x = "".join(c if c.isalnum() or c in "._" else "." for c in str(x))
        return f"X{x}" if x[:1].isdigit() else x

    target = mangle(name)
    match = next((o for o in others if mangle(o) == target), None)
    return (f"; the other file has '{match}': the two spell ids differently (R's make.names "
            "writes '-' as '.'); use the count matrix's spelling in the sheet"
            if match is not None else "")


def match_samples(counts: pd.DataFrame, samples: pd.DataFrame, counts_path,
                  samples_path) -> pd.DataFrame:
    """Order the sample sheet like the count matrix's columns; refuse any mismatch either way."""
    in_counts = [s for s in counts.columns if s not in samples.index]
    if in_counts:
        raise InputError(f"sample '{in_counts[0]}' is in the count matrix but not in the sample "
                         f"sheet {samples_path} ({len(in_counts)} such samples)"
                         f"{_mangled_hint(in_counts[0], samples.index)}",
                         path=counts_path, column=in_counts[0])
    in_sheet = [s for s in samples.index if s not in counts.columns]
    if in_sheet:
        raise InputError(f"sample '{in_sheet[0]}' is in the sample sheet but not in the count "
                         f"matrix {counts_path} ({len(in_sheet)} such samples)"
                         f"{_mangled_hint(in_sheet[0], counts.columns)}",
                         path=samples_path, row=samples.index.get_loc(in_sheet[0]) + 2)
    return samples.loc[list(counts.columns)]
