"""The DESeq2 engine (config `de.engine: deseq2`) on pydeseq2, with limma-style output columns.

pydeseq2 0.5 reimplements DESeq2's median-of-ratios size factors, parametric dispersion
trend, MAP dispersions, negative-binomial GLM and Wald test (Love et al. 2014, Genome Biol
15:550); it matches R DESeq2 1.38 closely (tests/validation/test_deseq2_vs_r.py). pydeseq2
has no random steps, so two runs give identical tables without a seed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

import numpy as np
import pandas as pd
import scipy.linalg

from ..core.errors import InputError

log = logging.getLogger(__name__)


def _formula_terms(formula: str) -> list[str]:
    rhs = formula.split("~", 1)[-1]
    return [term.strip() for term in rhs.replace("*", "+").replace(":", "+").split("+")
            if term.strip() and term.strip() not in {"0", "1"}]


def prepare_design(design: pd.DataFrame, formula: str, factor: str,
                   reference: str | None = None) -> pd.DataFrame:
    """The columns of `design` that `formula` uses, ready for a model matrix.

    Numeric covariates other than `factor` are centred and scaled to unit SD: unscaled
    covariates (age in years, RIN, cell fractions) make pydeseq2's IRLS fits converge poorly,
    and scaling changes no other coefficient. `factor` and non-numeric columns become
    categorical (strings; `factor`'s first level is `reference` when given, others sorted).
    Missing values raise InputError.
    """
    terms = _formula_terms(formula)
    absent = [t for t in terms if t not in design.columns]
    if absent:
        raise InputError(f"design formula term '{absent[0]}' is not a sample-sheet column",
                         column=absent[0])
    meta = design[terms].copy()
    for col in terms:
        values = meta[col]
        if values.isna().any():
            raise InputError(f"missing value for sample '{values.index[values.isna()][0]}'",
                             column=col)
        if col != factor and pd.api.types.is_numeric_dtype(values):
            sd = values.std(ddof=1)
            meta[col] = (values - values.mean()) / (sd if sd > 0 else 1.0)
        else:
            levels = sorted(values.astype(str).unique())
            if col == factor and reference in levels:
                levels.remove(reference)
                levels.insert(0, reference)
            meta[col] = pd.Categorical(values.astype(str), categories=levels)
    return meta


def full_rank_matrix(meta: pd.DataFrame, formula: str, keep: list[str]) -> pd.DataFrame:
    """The model matrix of `formula` with linearly dependent columns dropped (as limma's
    lmFit drops non-estimable coefficients), found by QR with column pivoting. Dropped
    columns are logged; dropping one of `keep` (the tested coefficients) raises InputError."""
    from formulaic import model_matrix

    x = pd.DataFrame(model_matrix(formula, meta), index=meta.index).astype(float)
    _, r, pivot = scipy.linalg.qr(x.to_numpy(), mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > 1e-7 * diag[0]))  # R's qr() tolerance, as limma uses
    dropped = sorted(x.columns[pivot[rank:]], key=list(x.columns).index)
    confounded = [c for c in keep if c in dropped]
    if confounded:
        raise InputError(f"the tested coefficient '{confounded[0]}' is confounded with other "
                         f"terms of '{formula}'")
    if dropped:
        log.warning("design columns not estimable (linear combinations of others), dropped: "
                    "%s", ", ".join(dropped))
    return x.drop(columns=dropped)


def deseq2_wald(counts: pd.DataFrame, design: pd.DataFrame, formula: str,
                contrast: tuple[str, str, str], n_cpus: int = 1, refit_cooks: bool = True,
                cooks_filter: bool = True, independent_filter: bool = True,
                alpha: float = 0.05) -> pd.DataFrame:
    """DESeq2 Wald test of one contrast; a table with limma's column names.

    counts: genes x samples raw counts (index gene_id); design: samples x covariates (index
    sample_id, at least the samples of `counts`); formula: e.g. "~ age + sex + condition";
    contrast: (factor, tested level, reference level), as in DESeq2's results(contrast=).
    The model matrix is built here (`full_rank_matrix`), so designs with aliased columns
    (e.g. batches nested in library preparations) lose those columns with a logged warning
    instead of failing as R's DESeq2 does. `alpha` is the FDR target of DESeq2's independent
    filtering.

    Columns, one row per gene in the order of `counts`:
      gene_id; logFC = log2FoldChange; AveExpr = log2(baseMean + 1), the mean normalised
      count on a log2 scale (not limma's mean log-CPM; only for plotting and ranking);
      t = the Wald statistic; P.Value; adj.P.Val = DESeq2's padj (BH after independent
      filtering, NaN for filtered genes and Cook's outliers, as in R); B = NaN (DESeq2 has no
      log-odds); baseMean; lfcSE.
    """
    factor, level, reference = contrast
    missing = counts.columns.difference(design.index)
    if len(missing):
        raise InputError(f"sample '{missing[0]}' of the count matrix is not in the design",
                         column=missing[0])
    meta = prepare_design(design.loc[counts.columns], formula, factor, reference)
    for lvl in (level, reference):
        if lvl not in meta[factor].cat.categories:
            raise InputError(f"contrast level '{lvl}' does not occur", column=factor)
    # Treatment coding names the tested column factor[T.level]; without an intercept each
    # level has its own column factor[level] and the contrast is their difference.
    no_intercept = formula.replace(" ", "").split("~", 1)[-1].startswith(("0+", "-1+"))
    tested = ([f"{factor}[{level}]", f"{factor}[{reference}]"] if no_intercept
              else [f"{factor}[T.{level}]"])
    x = full_rank_matrix(meta, formula, tested)
    vector = (x.columns == tested[0]).astype(float)
    if no_intercept:
        vector -= (x.columns == tested[1]).astype(float)
    # pydeseq2 is imported here: it pulls in anndata, which the other engines do not need.
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    inference = DefaultInference(n_cpus=n_cpus)
    # pydeseq2 prints to stdout for some steps even when quiet; its warnings go to the rule's
    # log once each instead of stderr.
    with warnings.catch_warnings(record=True) as caught, \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        dds = DeseqDataSet(counts=counts.T.astype(np.int64), metadata=meta, design=x,
                           refit_cooks=refit_cooks, inference=inference, quiet=True)
        dds.deseq2()
        res = DeseqStats(dds, contrast=vector, alpha=alpha, cooks_filter=cooks_filter,
                         independent_filter=independent_filter, inference=inference,
                         quiet=True)
        res.summary()
    for message in dict.fromkeys(str(w.message) for w in caught):
        log.warning("pydeseq2: %s", message)
    df = res.results_df.reindex(counts.index)
    return pd.DataFrame({
        "gene_id": counts.index,
        "logFC": df["log2FoldChange"].to_numpy(),
        "AveExpr": np.log2(df["baseMean"].to_numpy() + 1.0),
        "t": df["stat"].to_numpy(),
        "P.Value": df["pvalue"].to_numpy(),
        "adj.P.Val": df["padj"].to_numpy(),
        "B": np.nan,
        "baseMean": df["baseMean"].to_numpy(),
        "lfcSE": df["lfcSE"].to_numpy(),
    })
