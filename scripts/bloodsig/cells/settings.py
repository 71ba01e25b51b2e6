"""The `cells` stage's settings, made from the rules' params (config `cells` as the schema
fills it: the defaults live there only)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CollinearitySettings:
    """`drop_collinear`'s settings (config `cells.collinearity`)."""

    covariates: list[str]  # sample-sheet columns of the adjusted model
    max_vif: float  # drop the worst cell type while its VIF exceeds this ...
    drop: str  # ... ("auto"), or drop this cell type

    @classmethod
    def from_config(cls, collinearity: Mapping) -> CollinearitySettings:
        return cls(covariates=list(collinearity["covariates"]),
                   max_vif=collinearity["max_vif"], drop=collinearity["drop"])


@dataclass(frozen=True)
class PCAssociationSettings:
    """Rule cells_pcs (config `cells.pc_association`)."""

    n_pcs: int  # RNA PCs correlated with the cell types
    min_abs_r: float  # a pair is flagged with |r| above this ...
    alpha: float  # ... and a Bonferroni-adjusted p below this

    @classmethod
    def from_config(cls, pc_association: Mapping) -> PCAssociationSettings:
        return cls(n_pcs=pc_association["n_pcs"], min_abs_r=pc_association["min_abs_r"],
                   alpha=pc_association["alpha"])


@dataclass(frozen=True)
class CellsSettings:
    """Rules cells_for_de and cells_summary: which estimate the model uses and how the
    fraction tables are checked (config `cells`); `collinearity` is None for a rule whose
    params do not carry it."""

    estimate: str  # supplied, rna or auto
    sum_tolerance: float  # fractions must sum to 1 +/- this
    groups: dict[str, list[str]]  # group name -> its cell types, validated like a type
    collinearity: CollinearitySettings | None

    @classmethod
    def from_config(cls, cells: Mapping) -> CellsSettings:
        return cls(estimate=cells["estimate"], sum_tolerance=cells["sum_tolerance"],
                   groups={k: list(v) for k, v in cells["groups"].items()},
                   collinearity=(CollinearitySettings.from_config(cells["collinearity"])
                                 if "collinearity" in cells else None))
