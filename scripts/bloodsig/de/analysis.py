"""One differential-expression analysis from counts to tables: the `de` stage's library entry.

An analysis (config `de.analyses.<name>`) is a subset of samples, an R-style formula, the
coefficient to test and the biological variables to protect. The steps:

1. `with_cell_terms` and `analysis_samples`: add the cell-fraction columns (stage `cells`) to
   the formula, subset the sample sheet, merge cell fractions, derive a quantile contrast
   factor, check every group of the tested factor has >= 3 samples;
2. `technical_covariates`: RNA PCs of the residuals after the biology (the reference study's
   modified SVA, `bloodsig.de.covariates`) or Leek's IRW-SVA (`bloodsig.stats.sva`);
3. `fit_analysis`: TMM + voom + lmFit + eBayes + topTable (`bloodsig.stats.limma`, exact to R) or
   pydeseq2 (`bloodsig.stats.deseq2`), DEG lists and the residual expression with the technical
   covariates removed.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..core.errors import InputError
from ..stats import limma, limma_block, limma_quality, sva
from ..stats.deseq2 import deseq2_wald
from ..stats.design import check_group_sizes, contrast_vector, model_matrix, parse_formula
from ..stats.normalize import calc_norm_factors, log2cpm_voom
from . import confounding
from . import covariates as rnapc
from .settings import Analysis, CovariateSettings, FitSettings

log = logging.getLogger(__name__)

TABLE_COLUMNS = ["gene_id", "gene_name", "logFC", "AveExpr", "t", "P.Value", "adj.P.Val", "B"]


def tested_term(analysis: Analysis, samples: pd.DataFrame, reference_levels: dict) -> str:
    """The formula term whose design column(s) the coefficient names (e.g. group for groupALS)."""
    coef = analysis.coef
    terms = parse_formula(analysis.formula).terms
    for term in sorted(terms, key=len, reverse=True):
        if coef == term or coef.startswith(term):
            return term
    raise InputError(f"coefficient '{coef}' does not belong to any term of the formula "
                     f"'{analysis.formula}'", column="coef")


def with_cell_terms(analysis: Analysis, cells: pd.DataFrame | None) -> Analysis:
    """The analysis with every cell-fraction column appended to its formula, and to its
    `biological` variables (so RNA PCs cannot absorb composition), if it has `cells: true`.

    The cells stage drops the collinear cell type, so its table's columns are the terms.
    """
    if not analysis.cells or cells is None:
        return analysis
    terms = parse_formula(analysis.formula).terms
    added = [c for c in cells.columns if c not in terms]
    biological = analysis.biological
    if biological is not None:
        biological = [*biological, *(c for c in added if c not in biological)]
    return dataclasses.replace(
        analysis, formula=analysis.formula + "".join(f" + {c}" for c in added),
        biological=biological)


def analysis_samples(samples: pd.DataFrame, analysis: Analysis,
                     cells: pd.DataFrame | None = None, cells_path=None) -> pd.DataFrame:
    """The analysis's sample table: subset, cell fractions merged, quantile factor derived."""
    out = samples
    for column, values in (analysis.subset or {}).items():
        if column not in out.columns:
            raise InputError(f"subset column '{column}' is not in the sample sheet",
                             column=column)
        out = out[out[column].astype(str).isin([str(v) for v in values])]
        if out.empty:
            raise InputError(f"subset {column} in {values} selects no sample", column=column)
    out = out.copy()
    if analysis.cells:
        if cells is None:
            raise InputError("analysis asks for cell fractions (cells: true) but the cohort "
                             "has no cell_fractions file")
        missing = out.index.difference(cells.index)
        if len(missing):
            raise InputError(f"sample '{missing[0]}' has no cell fractions "
                             f"({len(missing)} such samples)", path=cells_path)
        clash = [c for c in cells.columns if c in out.columns]
        if clash:
            raise InputError(f"cell-fraction column '{clash[0]}' is also a sample-sheet column",
                             path=cells_path, column=clash[0])
        out = out.join(cells)
    qc = analysis.quantile_contrast
    if qc:
        column, name, q = qc.column, qc.name, qc.quantile
        if column not in out.columns:
            raise InputError("quantile contrast column is not in the sample sheet", column=column)
        values = pd.to_numeric(out[column], errors="coerce")
        lo, hi = values.quantile(q), values.quantile(1 - q)
        level = pd.Series(np.where(values <= lo, "low", np.where(values >= hi, "high", "")),
                          index=out.index)
        out = out[(level != "") & values.notna()].copy()
        out[name] = level[out.index]
        log.info("quantile contrast on %s: low <= %.4g (%d), high >= %.4g (%d)", column, lo,
                 (out[name] == "low").sum(), hi, (out[name] == "high").sum())
    return out


def analysis_confounding(samples: pd.DataFrame, analysis: Analysis, name: str,
                         settings: CovariateSettings) -> pd.DataFrame:
    """The confounding table of one analysis (`bloodsig.de.confounding`): the tested variable
    against the configured batch and library columns, `de.technical` and every other formula
    term, among the two compared levels (the coefficient's and the reference). Logs each
    confounded covariate with its cross-table and stops when a formula term separates the
    groups perfectly."""
    reference = settings.reference_levels
    term = tested_term(analysis, samples, reference)
    terms = list(parse_formula(analysis.formula).terms)
    compared, level = samples, None
    if term in samples.columns and not pd.api.types.is_numeric_dtype(samples[term]):
        level = analysis.coef[len(term):]
        ref = str(reference.get(term, sorted(samples[term].astype(str).unique())[0]))
        compared = samples[samples[term].astype(str).isin([level, ref])]
    columns = [settings.batch_column, settings.library_column, *settings.technical, *terms]
    table = confounding.confounding_table(compared, term, columns, terms, level)
    for message in confounding.messages(table, term):
        log.warning("analysis %s: %s", name, message)
    confounding.refuse_separation(table, term, name)
    return table


@dataclass(frozen=True)
class Covariates:
    """Technical covariates estimated from expression, with their association table."""

    values: pd.DataFrame       # samples x covariates (RNA_PC.. or SV..); may have 0 columns
    association: pd.DataFrame  # one row per candidate covariate x model variable: p-values


def variable_association(covs: pd.DataFrame, samples: pd.DataFrame,
                         variables: list[str]) -> pd.DataFrame:
    """p-value of the association of each covariate with each variable (for the heatmap).

    Numeric variables: Pearson correlation test; factors: one-way ANOVA F-test.
    """
    rows = []
    for var in variables:
        s = samples.loc[covs.index, var]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        for cov in covs.columns:
            x = covs[cov].to_numpy(dtype=float)
            if numeric:
                r, p = stats.pearsonr(x, s.to_numpy(dtype=float))
            else:
                groups = [x[(s == level).to_numpy()] for level in pd.unique(s)]
                r, p = np.nan, stats.f_oneway(*groups).pvalue
            rows.append((cov, var, r, p))
    return pd.DataFrame(rows, columns=["covariate", "variable", "r", "p_value"])


def technical_covariates(counts: pd.DataFrame, samples: pd.DataFrame, analysis: Analysis,
                         settings: CovariateSettings, seed: int) -> Covariates:
    """RNA PCs (study's modified SVA) or surrogate variables for one analysis, as `settings`
    says (method, n_pcs, max_pcs, alpha, sva_permutations, reference_levels)."""
    method, reference_levels = settings.method, settings.reference_levels
    term = tested_term(analysis, samples, reference_levels)
    variables = parse_formula(analysis.formula).terms
    counts = counts[samples.index]
    if method == "none":
        empty = pd.DataFrame(index=samples.index)
        return Covariates(empty, pd.DataFrame(columns=["covariate", "variable", "r", "p_value"]))
    expr = log2cpm_voom(counts, norm_factors=calc_norm_factors(counts.to_numpy()))
    if method == "rna_pcs":
        bio = analysis.biological or [term]
        if term not in bio:
            raise InputError(f"the tested variable '{term}' must be among `biological`",
                             column="biological")
        # a block (repeated measures of one patient) is modelled by its correlation: keep the
        # PCs from capturing it too, as they would otherwise soak up the patients' differences
        others = [v for v in [*bio, analysis.block] if v and v != term]
        design_bio = model_matrix("~ " + " + ".join(others) if others else "~ 1", samples,
                                  reference_levels)
        other_terms = [v for v in variables if v != term]
        other = (model_matrix("~ " + " + ".join(other_terms), samples, reference_levels)
                 .drop(columns="(Intercept)") if other_terms else None)
        res = rnapc.rna_pc_covariates(expr, design_bio, samples[term], other,
                                      n_pcs=settings.n_pcs, n_max=settings.max_pcs,
                                      alpha=settings.alpha)
        candidates = res.association["pc"].tolist()
        scores = rnapc.residual_pca(rnapc.residualize(expr, design_bio),
                                    n_max=len(candidates))[0] if candidates else None
        values = res.covariates
        assoc = (variable_association(scores[candidates], samples, variables)
                 if candidates else pd.DataFrame(columns=["covariate", "variable", "r",
                                                          "p_value"]))
        dropped = res.association.set_index("pc")["associated"]
        assoc["dropped_for_group"] = assoc["covariate"].map(dropped).fillna(False)
        return Covariates(values, assoc)
    if method == "sva":
        mod = model_matrix(analysis.formula, samples, reference_levels)
        null_terms = [v for v in variables if v != term]
        mod0 = model_matrix("~ " + " + ".join(null_terms) if null_terms else "~ 1", samples,
                            reference_levels)
        n_sv = sva.num_sv(expr.to_numpy(), mod.to_numpy(), B=settings.sva_permutations,
                          seed=seed)
        log.info("num.sv (be): %d surrogate variables", n_sv)
        if n_sv == 0:
            return Covariates(pd.DataFrame(index=samples.index),
                              variable_association(pd.DataFrame(index=samples.index), samples,
                                                   variables))
        svs = sva.irw_sva(expr, mod.to_numpy(), mod0.to_numpy(), n_sv=n_sv)
        return Covariates(svs, variable_association(svs, samples, variables))
    raise InputError(f"unknown covariates method '{method}'", column="de.covariates.method")


@dataclass(frozen=True)
class DEResult:
    """The outcome of one analysis."""

    table: pd.DataFrame      # TABLE_COLUMNS (+ engine extras), sorted by P.Value
    up: pd.DataFrame         # DEGs with logFC > 0, same columns
    down: pd.DataFrame
    expression: pd.DataFrame  # voom log2-CPM (genes x samples) used for the heatmap
    residuals: pd.DataFrame  # expression with technical covariates removed


def deg_lists(table: pd.DataFrame, fdr: float, min_abs_logfc: float):
    """Up and down DEGs: adj.P.Val < fdr and |logFC| > min_abs_logfc, sorted by P.Value."""
    sig = table[(table["adj.P.Val"] < fdr) & (table["logFC"].abs() > min_abs_logfc)]
    return sig[sig["logFC"] > 0], sig[sig["logFC"] < 0]


def gene_table(tt: pd.DataFrame, genes: pd.DataFrame) -> pd.DataFrame:
    """A per-gene result indexed by gene_id as a table: gene_id, gene_name first, sorted by
    P.Value (ties by gene_id, so the order is reproducible)."""
    tt = tt.rename_axis("gene_id").reset_index()
    tt.insert(1, "gene_name", genes["gene_name"].reindex(tt["gene_id"]).to_numpy())
    order = np.lexsort((tt["gene_id"].to_numpy(), tt["P.Value"].to_numpy()))
    return tt.iloc[order].reset_index(drop=True)


def fit_analysis(counts: pd.DataFrame, samples: pd.DataFrame, covs: pd.DataFrame,
                 genes: pd.DataFrame, analysis: Analysis, settings: FitSettings,
                 n_cpus: int = 1) -> DEResult:
    """Fit one analysis as `settings` says (engine, fdr, min_abs_logfc, technical,
    reference_levels)."""
    reference = settings.reference_levels
    term = tested_term(analysis, samples, reference)
    check_group_sizes(samples, term)
    counts = counts[samples.index]
    table = samples.join(covs, how="left")
    extra = list(covs.columns)
    formula = analysis.formula + "".join(f" + {c}" for c in extra)
    design = model_matrix(formula, table, reference)
    contrast = contrast_vector(analysis.coef, design.columns)
    nf = calc_norm_factors(counts.to_numpy())
    engine = settings.engine
    block = analysis.block
    if engine != "limma" and (block or analysis.robust or analysis.quality_weights):
        raise InputError("block, robust and quality_weights are limma options; the deseq2 "
                         "engine has none of them", column="de.engine")
    v, correlation = voom_for(counts, design, nf, analysis, table)
    if engine == "limma":
        fit = limma.lm_fit(v["E"], design, v["weights"],
                           block=table[block].to_numpy() if block else None,
                           correlation=correlation)
        fit = limma.contrasts_fit(fit, contrast[:, None])
        tt = limma.top_table(limma.ebayes(fit, robust=analysis.robust), coef=0,
                             sort_by="none")
    else:
        level = analysis.coef[len(term):]
        ref = str(reference.get(term, sorted(table[term].astype(str).unique())[0]))
        qc = analysis.quantile_contrast
        if qc is not None and term == qc.name:
            ref = "high"
        tt = deseq2_wald(counts, table, formula, (term, level, ref), n_cpus=n_cpus)
        tt = tt.set_index("gene_id") if "gene_id" in tt.columns else tt
    tt = gene_table(tt, genes)
    up, down = deg_lists(tt, settings.fdr, settings.min_abs_logfc)
    log.info("%d genes tested, %d up, %d down", len(tt), len(up), len(down))
    residuals = technical_residuals(v["E"], design, settings.technical, extra,
                                    table, v["weights"])
    return DEResult(tt, up, down, v["E"], residuals)


def voom_for(counts: pd.DataFrame, design: pd.DataFrame, norm_factors, analysis: Analysis,
             samples: pd.DataFrame) -> tuple[dict, float | None]:
    """voom as the analysis asks: plain; with `block` (a sample-sheet column, e.g. the
    patient) the limma user's guide's two passes of voom and duplicateCorrelation; with
    `quality_weights` voomWithQualityWeights (sample weights times voom's, after the blocked
    passes when both are on). Returns (voom result, consensus correlation or None)."""
    block, correlation = analysis.block, None
    if block:
        missing = samples[block].isna()
        if missing.any():
            raise InputError(f"sample '{samples.index[missing][0]}' has no {block} (the "
                             "analysis's block)", column=block)
        v = limma_block.voom_block(counts, design, samples[block].astype(str).to_numpy(),
                                   norm_factors=norm_factors)
        correlation = float(v["correlation"])
        log.info("duplicateCorrelation within %s: consensus correlation %.4f (passes: %s)",
                 block, correlation, ", ".join(f"{c:.4f}" for c in v["correlations"]))
    if analysis.quality_weights:
        v = limma_quality.voom_with_quality_weights(
            counts, design, norm_factors=norm_factors,
            block=samples[block].astype(str).to_numpy() if block else None,
            correlation=correlation)
        log.info("sample quality weights: %s", ", ".join(
            f"{k} {w:.3g}" for k, w in v["sample_weights"].sort_values().items()))
    elif not block:
        v = limma.voom(counts, design, norm_factors=norm_factors)
    return v, correlation


def technical_residuals(expr: pd.DataFrame, design: pd.DataFrame, technical: list[str],
                        estimated: list[str], samples: pd.DataFrame,
                        weights: pd.DataFrame | None = None) -> pd.DataFrame:
    """Expression with the technical covariates' effects removed, biology protected.

    The design's columns that come from a `technical` variable (its factor columns too) or an
    estimated covariate are removed as limma::removeBatchEffect does, after centring them,
    so each gene keeps its mean; all other columns are protected.
    """
    def from_technical(column: str) -> bool:
        if column in estimated:
            return True
        for var in technical:
            if column == var:
                return True
            if column.startswith(var) and var in samples.columns and not \
                    pd.api.types.is_numeric_dtype(samples[var]):
                return True
        return False

    remove = [c for c in design.columns if from_technical(c)]
    if not remove:
        return expr.copy()
    keep = design.drop(columns=remove)
    rem = design[remove] - design[remove].mean(axis=0)
    return limma.remove_batch_effect(expr, keep.to_numpy(), rem.to_numpy(),
                                     None if weights is None else weights.to_numpy())
