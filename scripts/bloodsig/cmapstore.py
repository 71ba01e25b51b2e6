"""A gene-major, memory-mapped store of LINCS/CMap signatures, built once from a level-5 GCTX.

A GCTX (HDF5; /0/DATA/0/matrix holds one row per signature, /0/META/ROW/id the genes and
/0/META/COL/id the signatures, as cmapPy writes it) is read in chunks of signatures with
h5py, so memory stays bounded whatever the database size. Each chunk is restricted to the
chosen gene space, ranked within it (rank 1 = highest score, ties by gene order) and written
into two gene-major arrays, so that a query reads only the rows of its own genes:

    store/ranks.npy       (n_genes, n_signatures) int16 (int32 above 32,767 genes)
    store/scores.npy      (n_genes, n_signatures) float32
    store/genes.tsv       gene_id, gene_symbol, feature_space (store row order)
    store/signatures.tsv  sig_id, pert_id, pert_name, pert_type, cell_id, qc_pass,
                          is_ncs_sig, is_null_sig (store column order) + the other siginfo columns
    store/compounds.tsv   pert_id, pert_name, moa, target
    store/manifest.json   shapes, dtypes, gene space and the source files
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numba
import numpy as np
import pandas as pd

from .errors import InputError
from .io import atomic_path, read_tsv, write_text, write_tsv

log = logging.getLogger(__name__)
FORMAT = "bloodsig-cmap-store"
VERSION = 1
#: gene spaces: which feature_space values each keeps (LINCS geneinfo vocabulary)
GENE_SPACES = {"landmark": {"landmark"}, "bing": {"landmark", "best inferred"}, "all": None}
CHUNK_SIGNATURES = 4096


def _decode(values) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)


def read_gctx_ids(path) -> tuple[np.ndarray, np.ndarray]:
    """(gene ids, signature ids) of a GCTX, without reading its matrix."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            return _decode(f["0/META/ROW/id"][:]), _decode(f["0/META/COL/id"][:])
    except (OSError, KeyError) as e:
        raise InputError(f"not a GCTX file with /0/META/ROW/id and /0/META/COL/id ({e})",
                         path=path) from None


def read_gctx(path) -> pd.DataFrame:
    """A whole (small) GCTX as a genes x signatures frame (the GCT orientation)."""
    genes, sigs = read_gctx_ids(path)
    with h5py.File(path, "r") as f:
        mat = f["0/DATA/0/matrix"][:]
    return pd.DataFrame(mat.T, index=pd.Index(genes, name="rid"), columns=sigs)


@numba.njit(parallel=True, cache=True)
def _rank_rows(scores, out):
    for i in numba.prange(scores.shape[0]):
        order = np.argsort(-scores[i], kind="mergesort")
        for r in range(order.shape[0]):
            out[i, order[r]] = r + 1


def rank_descending(scores: np.ndarray) -> np.ndarray:
    """Ranks within each row (signature), int32: 1 = highest score; ties keep gene order
    (stable sort), in parallel over rows."""
    scores = np.ascontiguousarray(scores)
    out = np.empty(scores.shape, dtype=np.int32)
    if scores.size:
        _rank_rows(scores, out)
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


_FLAG_TRUE = {"1", "true", "t", "yes", "y", "1.0"}


def read_siginfo(path, columns: dict) -> pd.DataFrame:
    """Signature info with standard column names: sig_id, pert_id, pert_name, pert_type,
    cell_id, qc_pass, is_ncs_sig, is_null_sig (flags default to all-true / all-false)."""
    need = [columns[k] for k in ("sig_id", "pert_id", "pert_name", "pert_type", "cell_id")]
    df = read_tsv(path, required=need, what="signature info", dtype=str, keep_default_na=False)
    out = pd.DataFrame({k: df[columns[k]].to_numpy() for k in
                        ("sig_id", "pert_id", "pert_name", "pert_type", "cell_id")})
    for key, default in (("qc_pass", True), ("is_ncs_sig", True), ("is_null_sig", False)):
        col = columns.get(key) or key
        out[key] = (df[col].str.strip().str.lower().isin(_FLAG_TRUE).to_numpy()
                    if col in df.columns else default)
    dup = out["sig_id"].duplicated()
    if dup.any():
        raise InputError(f"duplicated signature id '{out['sig_id'][dup].iloc[0]}'", path=path,
                         row=int(np.flatnonzero(dup)[0]) + 2, column=columns["sig_id"])
    return out


def read_compoundinfo(path, columns: dict) -> pd.DataFrame:
    """pert_id, pert_name, moa, target ('|'-separated gene symbols)."""
    need = [columns[k] for k in ("pert_id", "pert_name", "moa", "target")]
    df = read_tsv(path, required=need, what="compound info", dtype=str, keep_default_na=False)
    out = pd.DataFrame({k: df[columns[k]].str.strip().to_numpy()
                        for k in ("pert_id", "pert_name", "moa", "target")})
    # LINCS 2020 compoundinfo has one row per (compound, target): join targets and MoAs.
    join = lambda s: "|".join(sorted({x for v in s for x in v.split("|") if x}))  # noqa: E731
    return out.groupby("pert_id", sort=True).agg(
        {"pert_name": "first", "moa": join, "target": join}).reset_index()


def _open_npy(path: Path, dtype, shape) -> int:
    """Create a sparse .npy file of the given shape; return the data's byte offset."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
                "shape": shape})
        offset = f.tell()
        f.truncate(offset + int(np.prod(shape)) * np.dtype(dtype).itemsize)
    return offset


def build_store(gctx, siginfo: pd.DataFrame, geneinfo: pd.DataFrame, compounds: pd.DataFrame,
                outdir, gene_space: str = "bing", chunk: int = CHUNK_SIGNATURES) -> dict:
    """Convert a level-5 GCTX into a gene-major store under outdir (layout in the module doc).

    Signatures are those of the GCTX that siginfo describes (GCTX order); genes those of the
    GCTX in geneinfo's chosen gene space (GCTX order). Reads and writes `chunk` signatures at a
    time: memory is about chunk x n_genes x 20 bytes. Returns the manifest.
    """
    gctx, outdir = Path(gctx), Path(outdir)
    if gene_space not in GENE_SPACES:
        raise InputError(f"unknown gene space '{gene_space}' (use {', '.join(GENE_SPACES)})")
    gene_ids, sig_ids = read_gctx_ids(gctx)
    info = geneinfo.set_index("gene_id")
    missing = [g for g in gene_ids if g not in info.index]
    if missing:
        raise InputError(f"{len(missing)} gene id(s) of the GCTX lack gene info, e.g. "
                         f"'{missing[0]}'", path=gctx)
    spaces = GENE_SPACES[gene_space]
    space = info.loc[gene_ids, "feature_space"].to_numpy()
    cols = np.flatnonzero(np.ones(len(gene_ids), bool) if spaces is None
                          else np.isin(space, list(spaces)))
    if len(cols) < 2:
        raise InputError(f"gene space '{gene_space}' keeps {len(cols)} gene(s) of the GCTX",
                         path=gctx)
    sig_index = pd.Index(siginfo["sig_id"])
    keep = np.flatnonzero(pd.Index(sig_ids).isin(sig_index))
    if len(keep) == 0:
        raise InputError("no signature of the GCTX is in the signature info", path=gctx)
    n_genes, n_sig = len(cols), len(keep)
    rank_dtype = np.int16 if n_genes <= np.iinfo(np.int16).max else np.int32

    log.info("store: %d signatures x %d genes (%s space of %d) from %s", n_sig, n_genes,
             gene_space, len(gene_ids), gctx)
    outdir.mkdir(parents=True, exist_ok=True)
    tmp = {name: outdir / f".{name}.npy.partial" for name in ("ranks", "scores")}
    offsets = {"ranks": _open_npy(tmp["ranks"], rank_dtype, (n_genes, n_sig)),
               "scores": _open_npy(tmp["scores"], np.float32, (n_genes, n_sig))}
    fds = {k: os.open(p, os.O_WRONLY) for k, p in tmp.items()}
    try:
        with h5py.File(gctx, "r") as f:
            data = f["0/DATA/0/matrix"]
            if data.shape != (len(sig_ids), len(gene_ids)):
                raise InputError(f"matrix shape {data.shape} does not match its ids "
                                 f"({len(sig_ids)} signatures x {len(gene_ids)} genes)",
                                 path=gctx)
            done = 0
            for gstart in range(0, len(sig_ids), chunk):
                sel = keep[(keep >= gstart) & (keep < gstart + chunk)] - gstart
                if len(sel) == 0:
                    continue
                block = data[gstart:gstart + chunk][sel][:, cols].astype(np.float32)
                if not np.isfinite(block).all():
                    bad = np.argwhere(~np.isfinite(block))[0]
                    raise InputError(f"non-finite score for gene {gene_ids[cols[bad[1]]]}",
                                     path=gctx, column=sig_ids[gstart + sel[bad[0]]])
                ranks = rank_descending(block).astype(rank_dtype)
                _write_columns(fds["ranks"], offsets["ranks"], ranks, done, n_sig)
                _write_columns(fds["scores"], offsets["scores"], block, done, n_sig)
                done += len(sel)
                log.info("store: %d / %d signatures written", done, n_sig)
    except BaseException:
        for k, p in tmp.items():
            os.close(fds[k])
            p.unlink(missing_ok=True)
        raise
    for k, p in tmp.items():
        os.close(fds[k])
        os.replace(p, outdir / f"{k}.npy")

    genes = geneinfo.set_index("gene_id").loc[gene_ids[cols]].reset_index()
    sigs = siginfo.set_index("sig_id").loc[sig_ids[keep]].reset_index()
    write_tsv(genes[["gene_id", "gene_symbol", "feature_space"]], outdir / "genes.tsv")
    write_tsv(sigs, outdir / "signatures.tsv")
    write_tsv(compounds, outdir / "compounds.tsv")
    manifest = {"format": FORMAT, "version": VERSION, "gene_space": gene_space,
                "n_genes": n_genes, "n_signatures": n_sig,
                "ranks": {"file": "ranks.npy", "dtype": np.dtype(rank_dtype).name},
                "scores": {"file": "scores.npy", "dtype": "float32"},
                "layout": "gene-major (n_genes, n_signatures); rank 1 = highest score",
                "source": {"gctx": gctx.name, "bytes": gctx.stat().st_size,
                           "genes_in_gctx": len(gene_ids), "signatures_in_gctx": len(sig_ids)}}
    write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", outdir / "manifest.json")
    return manifest


def _write_columns(fd: int, offset: int, block: np.ndarray, start: int, n_sig: int) -> None:
    """Write a (chunk, n_genes) block as columns start.. of a gene-major (n_genes, n_sig) file:
    one contiguous run per gene, so the written pages are never held in memory."""
    cols = np.ascontiguousarray(block.T)
    item = cols.dtype.itemsize
    for g in range(cols.shape[0]):
        os.pwrite(fd, cols[g].tobytes(), offset + (g * n_sig + start) * item)


@dataclass
class Store:
    """An opened store: memory-mapped ranks and scores plus its tables."""

    path: Path
    ranks: np.ndarray
    scores: np.ndarray
    genes: pd.DataFrame
    signatures: pd.DataFrame
    compounds: pd.DataFrame
    manifest: dict

    @property
    def n_genes(self) -> int:
        return self.ranks.shape[0]


def open_store(path) -> Store:
    """Open a store written by build_store (arrays memory-mapped read-only)."""
    path = Path(path)
    mpath = path / "manifest.json"
    if not mpath.exists():
        raise InputError("not a connectivity store (no manifest.json)", path=path)
    manifest = json.loads(mpath.read_text())
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise InputError(f"unsupported store format {manifest.get('format')} "
                         f"v{manifest.get('version')}", path=mpath)
    ranks = np.load(path / "ranks.npy", mmap_mode="r")
    scores = np.load(path / "scores.npy", mmap_mode="r")
    shape = (manifest["n_genes"], manifest["n_signatures"])
    if ranks.shape != shape or scores.shape != shape:
        raise InputError(f"arrays do not have the manifest's shape {shape}", path=path)
    sigs = read_tsv(path / "signatures.tsv", what="store signatures", dtype=str,
                    keep_default_na=False)
    for flag in ("qc_pass", "is_ncs_sig", "is_null_sig"):
        sigs[flag] = sigs[flag].str.lower().isin(_FLAG_TRUE)
    return Store(path, ranks, scores,
                 read_tsv(path / "genes.tsv", what="store genes", dtype=str),
                 sigs,
                 read_tsv(path / "compounds.tsv", what="store compounds", dtype=str,
                          keep_default_na=False),
                 manifest)


def save_background(path, ncs_ref: np.ndarray) -> None:
    """Reference-query NCS (n_queries, n_signatures) float32, written atomically."""
    with atomic_path(Path(path), suffix=".npy") as tmp:
        np.save(tmp, np.asarray(ncs_ref, dtype=np.float32))
