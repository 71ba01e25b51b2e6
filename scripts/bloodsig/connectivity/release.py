"""LINCS/CMap releases as the Broad publishes them: which files a release folder holds, their
column names, and the touchstone flags each release defines.

- lincs2017: the GEO series GSE92742 (phase I) and GSE70138 (phase II), e.g.
  GSE92742_Broad_LINCS_Level5_COMPZ.MODZ_n473647x12328.gctx with *_sig_info.txt (sig_id,
  pert_id, pert_iname, pert_type, cell_id, pert_dose, pert_dose_unit, pert_idose, pert_time,
  pert_time_unit, pert_itime, distil_id), *_gene_info.txt (pr_gene_id, pr_gene_symbol,
  pr_gene_title, pr_is_lm, pr_is_bing: BING = landmark + best inferred, pr_is_bing == 1) and
  *_pert_info.txt (pert_id, pert_iname, pert_type, is_touchstone, inchi_key_prefix, inchi_key,
  canonical_smiles, pubchem_cid). GEO's files carry no mechanism of action or target: give a
  table that does (compoundinfo_beta.txt, the Repurposing Hub's drug file) as `annotations`.
  Flags, as CMap defines them: null signatures (is_null_sig) are the control treatments
  (ctl_vehicle, ctl_vector, ctl_untrt), the FDR's null; reference signatures (is_ncs_sig),
  which normalise WTCS to NCS, are the treatment signatures (trt_*) of touchstone
  perturbagens (pert_info is_touchstone == 1), or all treatment signatures when no
  perturbagen is flagged.
- lincs2020: the beta release (clue.io LINCS2020): level5_beta_*.gctx (default
  level5_beta_trt_cp_n720216x12328.gctx plus the controls level5_beta_ctl_*.gctx, the null),
  siginfo_beta.txt (sig_id, pert_id, cmap_name, pert_type, cell_iname, qc_pass, is_exemplar_sig,
  is_ncs_sig, is_null_sig, ...), geneinfo_beta.txt (gene_id, gene_symbol, ensembl_id,
  gene_title, gene_type, src, feature_space: landmark / best inferred / inferred) and
  compoundinfo_beta.txt (pert_id, cmap_name, target, moa, canonical_smiles, inchi_key,
  compound_aliases; one row per compound and target). The flags are the release's own.
- custom: any layout, every file and column named in the config.

Column names given in the config override a preset's (e.g. is_ncs_sig: my_flag_column); a
preset finds its files itself, or takes the folder's files named in `select` (e.g. gctx:
[level5_beta_trt_sh_n238351x12328.gctx, level5_beta_ctl_n58022x12328.gctx]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.io import read_tsv

RELEASES = ("lincs2017", "lincs2020", "custom")
CONTROL_TYPES = ("ctl_vehicle", "ctl_vector", "ctl_untrt")
FILES = ("gctx", "siginfo", "geneinfo", "compoundinfo")

#: file name patterns of each release folder (the first pattern that matches wins per entry)
PATTERNS = {
    "lincs2017": {"gctx": ["*_Level5_COMPZ*.gctx"],
                  "siginfo": ["*_sig_info*.txt", "*_sig_info*.txt.gz"],
                  "geneinfo": ["*_gene_info*.txt", "*_gene_info*.txt.gz"],
                  "compoundinfo": ["*_pert_info*.txt", "*_pert_info*.txt.gz"]},
    "lincs2020": {"gctx": ["level5_beta_trt_cp_*.gctx", "level5_beta_ctl_*.gctx"],
                  "siginfo": ["siginfo_beta.txt", "siginfo_beta.txt.gz"],
                  "geneinfo": ["geneinfo_beta.txt", "geneinfo_beta.txt.gz"],
                  "compoundinfo": ["compoundinfo_beta.txt", "compoundinfo_beta.txt.gz"]},
}

_RELEASES = ("custom", "lincs2017", "lincs2020")
# standard name -> its column in each of _RELEASES (None: that release has no such column)
_TABLES = {
    "siginfo": {"sig_id": ("sig_id",) * 3, "pert_id": ("pert_id",) * 3,
                "pert_name": ("pert_iname", "pert_iname", "cmap_name"),
                "pert_type": ("pert_type",) * 3, "cell_id": ("cell_id", "cell_id", "cell_iname"),
                "qc_pass": ("qc_pass", None, "qc_pass"),
                "is_ncs_sig": ("is_ncs_sig", None, "is_ncs_sig"),
                "is_null_sig": ("is_null_sig", None, "is_null_sig")},
    "geneinfo": {"gene_id": ("gene_id", "pr_gene_id", "gene_id"),
                 "gene_symbol": ("gene_symbol", "pr_gene_symbol", "gene_symbol")},
    "compoundinfo": {"pert_id": ("pert_id",) * 3,
                     "pert_name": ("pert_iname", "pert_iname", "cmap_name"),
                     "moa": ("moa", None, "moa"), "target": ("target", None, "target")},
}
#: release -> table -> standard name -> the release's column (None: the release has none)
COLUMNS = {release: {table: {name: columns[i] for name, columns in names.items()}
                     for table, names in _TABLES.items()}
           for i, release in enumerate(_RELEASES)}
FLAG_TRUE = {"1", "true", "t", "yes", "y", "1.0"}


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def resolve(db: dict) -> dict:
    """The database section of the config, resolved: release, the files of each kind (lists;
    a preset finds them in its folder by the names the Broad publishes), the annotations
    table (or None) and the column names (the preset's, overridden by the config's).

    Raises InputError naming the folder, pattern or key when a file cannot be found."""
    release = db["release"]
    if release not in RELEASES:
        raise InputError(f"unknown release '{release}' (use {', '.join(RELEASES)})")
    files: dict[str, list[str]] = {}
    if release == "custom":
        for kind in FILES:
            files[kind] = _as_list(db.get(kind))
            if not files[kind]:
                raise InputError(f"connectivity.database.{kind} is required for a custom "
                                 "database")
    else:
        folder = db.get("folder")
        if not folder:
            raise InputError(f"connectivity.database.folder is required for release {release}")
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError(f"release folder of {release} not found", path=folder)
        # gctx, siginfo, ... are the custom layout's keys: a preset ignores them (a config
        # merged over the default one still carries the demo's paths) and takes `select`.
        select = db.get("select") or {}
        for kind in FILES:
            given = _as_list(select.get(kind))
            if given:  # names in the folder (or paths) chosen by the user
                files[kind] = [str(p if Path(p).is_absolute() or Path(p).exists()
                                   else folder / p) for p in given]
                continue
            found = []
            for pattern in PATTERNS[release][kind]:
                hits = sorted(str(p) for p in folder.glob(pattern))
                if kind == "gctx":
                    found += hits  # trt_cp and ctl: every pattern's files
                elif hits and not found:
                    found = hits
            if kind == "gctx" and not found and any(folder.glob("*.gctx.gz")):
                raise InputError("the release's GCTX is still gzipped: gunzip it first "
                                 "(HDF5 is read in place)", path=folder)
            if not found:
                raise InputError(f"no {kind} file in the {release} folder (looked for "
                                 f"{' or '.join(PATTERNS[release][kind])})", path=folder)
            files[kind] = found if kind in ("gctx", "siginfo", "compoundinfo") else found[:1]
    if len(files["geneinfo"]) != 1:
        raise InputError("connectivity.database.geneinfo names one file")
    columns = {}
    given_cols = db.get("columns") or {}
    for table, names in COLUMNS[release].items():
        columns[table] = {**names, **(given_cols.get(table) or {})}
    return {"release": release, "files": files, "annotations": db.get("annotations"),
            "columns": columns}


def _read(paths, required, what) -> pd.DataFrame:
    parts = [read_tsv(p, required=[c for c in required if c], what=what, dtype=str,
                      keep_default_na=False) for p in paths]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def as_flag(series: pd.Series) -> np.ndarray:
    """Booleans of a flag column (FLAG_TRUE spellings are true), decided once per distinct
    value (473k signatures: 0.03 instead of 0.07 CPU s a column)."""
    codes, values = pd.factorize(series, use_na_sentinel=False)
    return pd.Index(values).astype(str).str.strip().str.lower().isin(FLAG_TRUE)[codes]


def read_siginfo(paths, columns: dict, release: str = "custom",
                 compounds: pd.DataFrame | None = None) -> pd.DataFrame:
    """Signature info with standard columns: sig_id, pert_id, pert_name, pert_type, cell_id,
    qc_pass, is_ncs_sig, is_null_sig (then the file's other columns). Flags that the columns
    do not name are derived as the release defines them (module doc); for a custom layout
    without them: all pass QC, all are reference signatures, none is null. compounds: the
    standardised compound table (its is_touchstone, for lincs2017)."""
    paths = _as_list(paths)
    need = [columns[k] for k in ("sig_id", "pert_id", "pert_name", "pert_type", "cell_id")]
    df = _read(paths, need, "signature info")
    out = pd.DataFrame({k: df[columns[k]].str.strip().to_numpy()
                        for k in ("sig_id", "pert_id", "pert_name", "pert_type", "cell_id")})
    ptype = out["pert_type"].str.lower()
    for key in ("qc_pass", "is_ncs_sig", "is_null_sig"):
        col = columns.get(key)
        if col and col in df.columns:
            out[key] = as_flag(df[col])
        elif col and col != COLUMNS[release]["siginfo"].get(key):
            raise InputError(f"signature info has no column '{col}' (connectivity.database."
                             f"columns.siginfo.{key})", path=paths[0], column=col)
        elif key == "qc_pass":
            out[key] = True
        elif key == "is_null_sig":
            out[key] = ptype.isin(CONTROL_TYPES).to_numpy() if release != "custom" else False
        elif release == "custom":
            out[key] = True
        else:  # lincs2017: treatment signatures of touchstone perturbagens
            trt = ptype.str.startswith("trt").to_numpy()
            touch = set()
            if compounds is not None and "is_touchstone" in compounds.columns:
                touch = set(compounds.loc[compounds["is_touchstone"], "pert_id"])
            out[key] = trt & out["pert_id"].isin(touch).to_numpy() if touch else trt
    rest = [c for c in df.columns if c not in set(columns.values()) and c not in out.columns]
    out = pd.concat([out, df[rest].reset_index(drop=True)], axis=1)
    dup = out["sig_id"].duplicated()
    if dup.any():
        raise InputError(f"duplicated signature id '{out['sig_id'][dup].iloc[0]}'",
                         path=paths[0] if len(paths) == 1 else ", ".join(paths),
                         row=int(np.flatnonzero(dup)[0]) + 2 if len(paths) == 1 else None,
                         column=columns["sig_id"])
    return out


def read_compounds(paths, columns: dict, annotations=None) -> pd.DataFrame:
    """pert_id, pert_name, moa, target ('|'-separated), is_touchstone: one row per compound
    (LINCS 2020's compoundinfo has a row per compound and target: targets and mechanisms are
    joined). Mechanisms and targets come from whichever table holds them: the compound file's
    columns when the release has them, else `annotations` (any table with pert_id, or with
    pert_iname / cmap_name, and moa and target columns), matched by pert_id, then by name."""
    paths = _as_list(paths)
    need = [columns["pert_id"], columns["pert_name"]]
    df = _read(paths, need, "compound info")
    out = pd.DataFrame({"pert_id": df[columns["pert_id"]].str.strip(),
                        "pert_name": df[columns["pert_name"]].str.strip()})
    for key in ("moa", "target"):
        col = columns.get(key)
        out[key] = df[col].str.strip().replace({"-666": ""}) if col and col in df.columns \
            else ""
    out["is_touchstone"] = as_flag(df["is_touchstone"]) if "is_touchstone" in df.columns \
        else False
    if annotations:
        out = _annotate(out, annotations)
    join = lambda s: "|".join(sorted({x.strip() for v in s for x in str(v).split("|")  # noqa: E731
                                      if x.strip()}))
    return out.groupby("pert_id", sort=True).agg(
        {"pert_name": "first", "moa": join, "target": join, "is_touchstone": "max"}) \
        .reset_index()


def _annotate(compounds: pd.DataFrame, path) -> pd.DataFrame:
    ann = read_tsv(path, what="compound annotations", dtype=str, keep_default_na=False)
    missing = [c for c in ("moa", "target") if c not in ann.columns]
    if missing:
        raise InputError(f"compound annotations lack column '{missing[0]}'", path=path,
                         column=missing[0])
    name_col = next((c for c in ("pert_iname", "cmap_name", "pert_name") if c in ann.columns),
                    None)
    if "pert_id" not in ann.columns and name_col is None:
        raise InputError("compound annotations need a pert_id or a pert_iname / cmap_name "
                         "column", path=path)
    ann = ann.replace({"-666": ""})
    out = compounds.copy()
    for key_ann, key_cmp in (("pert_id", "pert_id"), (name_col, "pert_name")):
        if key_ann is None or key_ann not in ann.columns:
            continue
        by = ann.groupby(ann[key_ann].str.strip().str.lower())
        for col in ("moa", "target"):
            values = by[col].agg(lambda s: "|".join(x for x in s if x))
            fill = out[key_cmp].str.lower().map(values).fillna("")
            out[col] = out[col].where(out[col].ne(""), fill)
    return out


def _feature_space(geneinfo: pd.DataFrame) -> pd.Series:
    """LINCS 2020 geneinfo has feature_space; GSE92742 has pr_is_lm / pr_is_bing flags."""
    if "feature_space" in geneinfo.columns:
        return geneinfo["feature_space"].astype(str)
    if {"pr_is_lm", "pr_is_bing"} <= set(geneinfo.columns):
        lm = geneinfo["pr_is_lm"].astype(int) == 1
        bing = geneinfo["pr_is_bing"].astype(int) == 1
        return pd.Series(np.where(lm, "landmark", np.where(bing, "best inferred", "inferred")),
                         index=geneinfo.index)
    return pd.Series("all", index=geneinfo.index)


def read_geneinfo(path, columns: dict) -> pd.DataFrame:
    """gene_id, gene_symbol, feature_space from a LINCS geneinfo file (names from `columns`)."""
    df = read_tsv(path, required=[columns["gene_id"], columns["gene_symbol"]],
                  what="gene info", dtype=str)
    out = pd.DataFrame({"gene_id": df[columns["gene_id"]].str.strip(),
                        "gene_symbol": df[columns["gene_symbol"]].str.strip(),
                        "feature_space": _feature_space(df).to_numpy()})
    dup = out["gene_id"].duplicated()
    if dup.any():
        raise InputError(f"duplicated gene id '{out['gene_id'][dup].iloc[0]}'", path=path,
                         row=int(np.flatnonzero(dup)[0]) + 2, column=columns["gene_id"])
    return out


def load_tables(spec: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(siginfo, geneinfo, compounds) of a resolved database spec (resolve), standardised for
    bloodsig.connectivity.store.build_store."""
    files, cols, release = spec["files"], spec["columns"], spec["release"]
    compounds = read_compounds(files["compoundinfo"], cols["compoundinfo"],
                               spec.get("annotations"))
    siginfo = read_siginfo(files["siginfo"], cols["siginfo"], release, compounds)
    geneinfo = read_geneinfo(files["geneinfo"][0], cols["geneinfo"])
    return siginfo, geneinfo, compounds
