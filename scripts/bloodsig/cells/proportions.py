"""Blood cell proportions: supplied or estimated from RNA, validated, and made fit for a model.

Whole-blood expression changes partly because the mix of immune cells changes, so the
`cells` stage provides per-sample cell-type fractions for the cell-adjusted DE:

1. `read_fractions`: a supplied table (e.g. a DNA-methylation deconvolution such as
   FlowSorted.Blood.EPIC) or flow cytometry, checked: fractions in [0, 1], rows summing to
   about one, only known samples, cell-type names usable as formula terms;
2. `deconvolve`: reference-based deconvolution of the expression with a signature matrix,
   non-negative least squares on linear-scale expression (Abbas et al. 2009, PLoS One
   4:e6098), fractions rescaled to sum to one;
3. `compare`: Pearson correlation of each estimate with flow cytometry (or a planted truth)
   per cell type and per group of types; `choose_estimate` picks the estimate for the model;
4. `drop_collinear`: variance inflation factors of the cell types with the model's other
   covariates; the fractions sum to one, so the worst type is dropped (the reference study
   dropped CD4 T cells);
5. `pc_association`: Pearson correlation of every cell type with every RNA PC, Bonferroni-
   adjusted, strong pairs flagged.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import nnls

from ..core.cohort import read_cell_fractions
from ..core.errors import InputError
from ..core.io import read_tsv

log = logging.getLogger(__name__)


# A cell type becomes a formula term in the cell-adjusted DE (bloodsig.stats.design's names).
_TERM = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")


ESTIMATES = ("supplied", "rna")


def _check_names(columns, path) -> None:
    for column in columns:
        if not _TERM.match(str(column)):
            raise InputError("cell-type name must be a formula term (letters, digits, '_' "
                             "or '.', not starting with a digit)", path=path, column=column)


def read_fractions(path, known_samples, sum_tolerance: float) -> pd.DataFrame:
    """Read and check a cell-fraction table (sample_id + one column per cell type).

    Refuses (InputError naming file, row and column) values outside [0, 1] or not numeric,
    duplicated samples, rows whose sum differs from one by more than `sum_tolerance`,
    samples not in `known_samples` (None: any) and cell-type names that are not formula
    terms. Returns samples x cell types, indexed by sample id.
    """
    df = read_cell_fractions(path)
    _check_names(df.columns, path)
    total = df.sum(axis=1).to_numpy()
    bad = np.abs(total - 1.0) > sum_tolerance
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"fractions of sample '{df.index[i]}' sum to {total[i]:.4g}, not 1 "
                         f"(+/- {sum_tolerance:g}; {int(bad.sum())} such rows)",
                         path=path, row=i + 2)
    if known_samples is not None:
        unknown = ~df.index.isin(pd.Index(known_samples))
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise InputError(f"sample '{df.index[i]}' is not in the cohort's sample sheet "
                             f"({int(unknown.sum())} such samples)", path=path, row=i + 2,
                             column="sample_id")
    return df


def read_estimates(files: dict, known_samples, sum_tolerance: float
                   ) -> dict[str, pd.DataFrame]:
    """The cohort's estimates by name (supplied, rna: the ones in `files`), each checked by
    `read_fractions`, in the order of ESTIMATES."""
    return {name: read_fractions(files[name], known_samples, sum_tolerance)
            for name in ESTIMATES if name in files}


def read_signature(path) -> pd.DataFrame:
    """Signature matrix: gene_id (+ gene_name) and one column of linear-scale expression per
    cell type. Returns genes x cell types, indexed by gene id."""
    df = read_tsv(path, required=["gene_id"], what="signature matrix", dtype={"gene_id": str})
    df = df.drop(columns=[c for c in ("gene_name",) if c in df.columns])
    dup = df["gene_id"].duplicated()
    if dup.any():
        raise InputError(f"duplicated gene id '{df.loc[dup, 'gene_id'].iloc[0]}'", path=path,
                         row=int(np.flatnonzero(dup)[0]) + 2, column="gene_id")
    df = df.set_index("gene_id").rename_axis(None)
    if df.shape[1] < 2:
        raise InputError("signature matrix needs at least two cell-type columns", path=path)
    _check_names(df.columns, path)
    for column in df.columns:
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna() | (values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"expression '{df[column].iloc[i]}' is not a non-negative number "
                             "(the signature is linear-scale expression)", path=path,
                             row=i + 2, column=column)
        df[column] = values.astype(float)
    if (df.sum(axis=0) <= 0).any():
        raise InputError("cell type has no expression in the signature", path=path,
                         column=df.columns[int(np.flatnonzero(df.sum(axis=0) <= 0)[0])])
    return df


@dataclass(frozen=True)
class Deconvolution:
    """Fractions estimated from RNA and the quality of each sample's fit."""

    fractions: pd.DataFrame  # samples x cell types, rows sum to one
    fit: pd.DataFrame        # per sample: n_genes, residual (relative), fit_r


def deconvolve(counts: pd.DataFrame, signature: pd.DataFrame,
               weighting: str = "relative") -> Deconvolution:
    """Cell fractions by non-negative least squares (Abbas et al. 2009).

    For each sample j, b_j = argmin_{b >= 0} ||W (y_j - S b)||, with y_j the sample's CPM of
    the signature genes, S the signature (genes x types, same linear scale) and W diagonal
    gene weights; fractions are b_j / sum(b_j). weighting "relative" sets W_gg = 1 / mean_k
    S_gk, so each marker counts by its relative error rather than its abundance (without it
    the most abundant markers decide alone); "none" is plain NNLS. CPM, TMM or raw counts
    give the same fractions (a per-sample scale cancels). One NNLS per sample, over the
    signature's genes: the problem is small (markers x types).

    fit: n_genes used, residual = ||W(y - S b)|| / ||W y|| and fit_r = Pearson r of W y
    with W S b.
    """
    genes = signature.index.intersection(counts.index, sort=False)
    s = signature.loc[genes].to_numpy(dtype=float)
    expressed = s.sum(axis=1) > 0
    genes, s = genes[expressed], s[expressed]
    n_types = signature.shape[1]
    if len(genes) < 2 * n_types:
        raise InputError(f"the signature shares only {len(genes)} expressed genes with the "
                         f"expression (need at least {2 * n_types} for {n_types} cell types; "
                         "do the gene ids match?)")
    if np.linalg.matrix_rank(s / s.max(axis=0)) < n_types:
        raise InputError("the signature's cell-type columns are linearly dependent on its "
                         "genes shared with the expression; cell types cannot be separated")
    if weighting not in ("relative", "none"):
        raise InputError(f"unknown weighting '{weighting}' (relative or none)",
                         column="cells.weighting")
    log.info("deconvolution: %d signature genes of %d found in the expression, %d cell types",
             len(genes), len(signature), n_types)
    lib = counts.sum(axis=0).to_numpy(dtype=float)
    y = counts.loc[genes].to_numpy(dtype=float) / np.where(lib > 0, lib, 1.0) * 1e6
    w = 1.0 / s.mean(axis=1) if weighting == "relative" else np.ones(len(genes))
    sw, yw = s * w[:, None], y * w[:, None]
    coef = np.array([nnls(sw, yw[:, j])[0] for j in range(yw.shape[1])])
    total = coef.sum(axis=1)
    if (total <= 0).any():
        sample = counts.columns[int(np.flatnonzero(total <= 0)[0])]
        raise InputError(f"sample '{sample}' expresses none of the signature genes; its "
                         "cell fractions cannot be estimated", column=sample)
    fitted = sw @ coef.T
    resid = np.linalg.norm(yw - fitted, axis=0) / np.linalg.norm(yw, axis=0)
    yc, fc = yw - yw.mean(axis=0), fitted - fitted.mean(axis=0)
    fit_r = (yc * fc).sum(axis=0) / np.sqrt((yc**2).sum(axis=0) * (fc**2).sum(axis=0))
    fractions = pd.DataFrame(coef / total[:, None], index=counts.columns,
                             columns=signature.columns)
    fit = pd.DataFrame({"n_genes": len(genes), "residual": resid, "fit_r": fit_r},
                       index=counts.columns)
    log.info("deconvolution: median relative residual %.3f, median fit r %.3f",
             np.median(resid), np.median(fit_r))
    return Deconvolution(fractions, fit)


def with_groups(fractions: pd.DataFrame, groups: dict | None) -> pd.DataFrame:
    """The fractions plus one summed column per group of cell types whose members it has."""
    out = fractions.copy()
    for name, members in (groups or {}).items():
        if name in out.columns:
            raise InputError(f"cell-type group '{name}' has the name of a cell type",
                             column="cells.groups")
        if all(m in fractions.columns for m in members):
            out[name] = fractions[list(members)].sum(axis=1)
    return out


def compare(estimates: dict[str, pd.DataFrame], reference: pd.DataFrame,
            groups: dict | None = None, reference_name: str = "flow cytometry") -> pd.DataFrame:
    """Agreement of each estimate with a reference measurement (flow cytometry, a truth).

    For every cell type (and group of types, summed) that an estimate and the reference both
    have, over their shared samples: n, Pearson r and its p-value, bias (mean estimate minus
    reference) and RMSE. Columns: estimate, cell_type, n, r, p_value, bias, rmse.
    """
    ref = with_groups(reference, groups)
    rows = []
    for name, est in estimates.items():
        est = with_groups(est, groups)
        shared = est.index.intersection(ref.index, sort=False)
        if len(shared) < 3:
            raise InputError(f"the {name} estimate shares {len(shared)} samples with the "
                             f"{reference_name} (need at least 3; do the sample ids match?)")
        common = [c for c in est.columns if c in ref.columns]
        if not common:
            raise InputError(f"the {name} estimate ({', '.join(est.columns)}) and the "
                             f"{reference_name} ({', '.join(ref.columns)}) share no cell type")
        for cell in common:
            x, y = est.loc[shared, cell].to_numpy(), ref.loc[shared, cell].to_numpy()
            r, p = (stats.pearsonr(x, y) if np.ptp(x) > 0 and np.ptp(y) > 0
                    else (np.nan, np.nan))
            rows.append((name, cell, len(shared), float(r), float(p), float(np.mean(x - y)),
                         float(np.sqrt(np.mean((x - y) ** 2)))))
    return pd.DataFrame(rows, columns=["estimate", "cell_type", "n", "r", "p_value", "bias",
                                       "rmse"])


def choose_estimate(setting: str, available: list[str], validation: pd.DataFrame | None,
                    groups=()) -> str:
    """The estimate used for adjustment: `setting` (supplied | rna), or with "auto" the one
    whose mean Pearson r with flow cytometry over the cell types (not groups) is highest;
    without flow cytometry, "auto" takes the supplied estimate if there is one."""
    if setting in ESTIMATES:
        if setting not in available:
            need = "cell_fractions" if setting == "supplied" else "cell_signature"
            raise InputError(f"cells.estimate is '{setting}' but the cohort has no {need} "
                             "file", column="cells.estimate")
        return setting
    if setting != "auto":
        raise InputError(f"unknown estimate '{setting}' (supplied, rna or auto)",
                         column="cells.estimate")
    if not available:
        raise InputError("the cohort has neither cell_fractions nor cell_signature; no cell "
                         "proportions to use")
    v = (validation[validation["estimate"].isin(available)
                    & ~validation["cell_type"].isin(list(groups))]
         if validation is not None else pd.DataFrame())
    if v.empty:
        choice = "supplied" if "supplied" in available else available[0]
        log.info("no flow cytometry to choose by: using the %s estimate", choice)
        return choice
    mean_r = v.groupby("estimate", sort=False)["r"].mean().reindex(available)
    choice = str(mean_r.idxmax())
    log.info("mean r with flow cytometry: %s; using the %s estimate",
             ", ".join(f"{k} {x:.3f}" for k, x in mean_r.items()), choice)
    return choice


def summary_table(chosen: str, available: list[str], validation: pd.DataFrame,
                  collinearity: pd.DataFrame, truth: pd.DataFrame | None = None,
                  adjustment: pd.DataFrame | None = None) -> pd.DataFrame:
    """The stage's summary, one number per row (metric, estimate, item, value): which
    estimate was used, the cell types dropped (value = VIF), r with flow cytometry and, when
    given, r with a planted truth (`compare` tables) and the DE adjustment effect."""
    rows = [("used_for_de", est, "all", float(est == chosen)) for est in available]
    drops = collinearity[collinearity["dropped"]]
    rows += [("dropped_for_collinearity", chosen, c, v)
             for c, v in zip(drops["column"], drops["vif"], strict=True)]
    for metric, table in (("flow_r", validation), ("truth_r", truth)):
        if table is not None:
            rows += [(metric, e, c, r) for e, c, r in
                     zip(table["estimate"], table["cell_type"], table["r"], strict=True)]
    if adjustment is not None:
        rows += [(m, chosen, i, v) for m, i, v in
                 zip(adjustment["metric"], adjustment["item"], adjustment["value"], strict=True)]
    return pd.DataFrame(rows, columns=["metric", "estimate", "item", "value"])
