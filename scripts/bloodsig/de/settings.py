"""The `de` stage's settings: an analysis (config `de.analyses.<name>`) and what the rules
de_covariates and de_fit read from config `de`, each made from the config as the schema
fills it (the defaults live there only; a key the schema leaves optional is None when
absent)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class QuantileContrast:
    """A factor `name` made from a numeric sheet column: 'low' at or below its `quantile`,
    'high' at or above 1 - `quantile`, the samples between left out."""

    column: str
    name: str
    quantile: float


@dataclass(frozen=True)
class Analysis:
    """One analysis: config `de.analyses.<name>`."""

    formula: str  # R-style, e.g. "~ group + age + batch"
    coef: str  # the design column tested, e.g. groupALS
    subset: dict[str, list] | None  # sheet column -> the values kept (None: all samples)
    cells: bool  # add the cells stage's fractions to the formula
    block: str | None  # sheet column of repeated measures (duplicateCorrelation)
    robust: bool  # robust eBayes
    quality_weights: bool  # voomWithQualityWeights
    biological: list[str] | None  # variables the RNA PCs must not absorb (None: the tested one)
    quantile_contrast: QuantileContrast | None

    @classmethod
    def from_config(cls, analysis: Mapping) -> Analysis:
        qc = analysis.get("quantile_contrast")
        biological = analysis.get("biological")
        return cls(
            formula=analysis["formula"],
            coef=analysis["coef"],
            subset=analysis.get("subset"),
            cells=analysis["cells"],
            block=analysis.get("block"),
            robust=analysis["robust"],
            quality_weights=analysis["quality_weights"],
            biological=None if biological is None else list(biological),
            quantile_contrast=None if qc is None else QuantileContrast(
                qc["column"], qc["name"], qc["quantile"]),
        )


def reference_levels(de: Mapping, sheet: Mapping) -> dict:
    """Config `de.reference_levels` with the group column's reference level defaulting to
    the control value (`samples.control`), so `coef: group<case>` works without an entry."""
    return {sheet["group_column"]: sheet["control"], **de["reference_levels"]}


@dataclass(frozen=True)
class CovariateSettings:
    """Rule de_covariates: how `technical_covariates` estimates the technical covariates
    (config `de.covariates`) and what `analysis_confounding` checks the tested variable
    against (`de.technical`, the sheet's batch and library columns)."""

    method: str  # rna_pcs, sva or none
    n_pcs: int | None  # RNA PCs kept (None: "auto", the kneedle knee)
    max_pcs: int
    alpha: float  # a PC associated with the tested variable at this level is dropped
    sva_permutations: int  # num.sv's permutations (method sva)
    reference_levels: dict  # factor -> reference level (see `reference_levels`)
    technical: list[str]
    batch_column: str
    library_column: str

    @classmethod
    def from_config(cls, de: Mapping, sheet: Mapping) -> CovariateSettings:
        """From the rule's params: config `de` (reference_levels, technical, covariates) and
        `samples`."""
        cov = de["covariates"]
        return cls(
            method=cov["method"],
            n_pcs=None if cov["n_pcs"] == "auto" else int(cov["n_pcs"]),
            max_pcs=int(cov["max_pcs"]),
            alpha=float(cov["alpha"]),
            sva_permutations=int(cov["sva_permutations"]),
            reference_levels=reference_levels(de, sheet),
            technical=list(de["technical"]),
            batch_column=sheet["batch_column"],
            library_column=sheet["library_column"],
        )


@dataclass(frozen=True)
class FitSettings:
    """Rule de_fit: the model and the DEG lists (config `de`)."""

    engine: str  # limma or deseq2
    fdr: float  # a DEG has adj.P.Val < fdr ...
    min_abs_logfc: float  # ... and |logFC| > min_abs_logfc
    heatmap_genes: int  # top up and down DEGs in the heatmap
    reference_levels: dict  # factor -> reference level (see `reference_levels`)
    technical: list[str]  # removed from the residual expression with the estimated covariates

    @classmethod
    def from_config(cls, de: Mapping, sheet: Mapping) -> FitSettings:
        """From the rule's params: config `de` (reference_levels, technical, engine, fdr,
        min_abs_logfc, heatmap_genes) and `samples`."""
        return cls(
            engine=de["engine"],
            fdr=de["fdr"],
            min_abs_logfc=de["min_abs_logfc"],
            heatmap_genes=de["heatmap_genes"],
            reference_levels=reference_levels(de, sheet),
            technical=list(de["technical"]),
        )
