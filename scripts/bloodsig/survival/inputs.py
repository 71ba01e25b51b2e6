"""The cases of the survival analysis and their expression: cases with survival data (one sample
per patient), the input genes, the model expression and the clinical matrix; the stage's case
and expression tables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.io import read_tsv
from ..stats import survival as sv
from ..stats.design import model_matrix
from ..stats.limma import remove_batch_effect
from ..stats.normalize import calc_norm_factors, cpm, log2cpm_voom

log = logging.getLogger(__name__)


TIME, EVENT = "time", "event"


@dataclass(frozen=True)
class CaseSettings:
    """The survival data and clinical variables of the cases: the keys of config `survival`
    that every rule of the stage reads."""

    time_column: str  # sample-sheet column of the survival time
    event_column: str  # ... and of the event (1) or censoring (0)
    clinical: list[str]  # covariates of every model
    reference_levels: dict  # clinical factor -> reference level

    @classmethod
    def from_config(cls, survival: Mapping) -> CaseSettings:
        return cls(time_column=survival["time_column"], event_column=survival["event_column"],
                   clinical=list(survival["clinical"]),
                   reference_levels=dict(survival["reference_levels"]))


@dataclass(frozen=True)
class GeneFilters:
    """Which genes enter the survival models (config `survival.filters`)."""

    filter_by_expr: bool  # edgeR's filterByExpr
    min_mean_cpm: float  # mean CPM at least this ...
    min_cpm: float  # ... and CPM >= min_cpm ...
    min_fraction: float  # ... in at least this fraction of cases
    gene_types: list[str] | None  # gene types kept (None: all)

    @classmethod
    def from_config(cls, filters: Mapping) -> GeneFilters:
        types = filters["gene_types"]
        return cls(filter_by_expr=filters["filter_by_expr"],
                   min_mean_cpm=filters["min_mean_cpm"], min_cpm=filters["min_cpm"],
                   min_fraction=filters["min_fraction"],
                   gene_types=None if types is None else list(types))


@dataclass(frozen=True)
class InputSettings:
    """Rule survival_inputs: the cases (with the sample sheet's group, case value and
    patient column), the input gene filters and the technical covariates regressed out."""

    cases: CaseSettings
    technical: list[str]  # sample-sheet columns (config survival.technical)
    filters: GeneFilters
    group_column: str
    case: str
    patient_column: str  # one sample per patient

    @classmethod
    def from_config(cls, survival: Mapping, sheet: Mapping) -> InputSettings:
        """From the rule's params: config `survival` and `samples`."""
        return cls(cases=CaseSettings.from_config(survival),
                   technical=list(survival["technical"]),
                   filters=GeneFilters.from_config(survival["filters"]),
                   group_column=sheet["group_column"], case=sheet["case"],
                   patient_column=sheet["patient_column"])


def survival_cases(samples: pd.DataFrame, settings: InputSettings,
                   path=None) -> pd.DataFrame:
    """Cases with survival data and complete clinical variables, one sample per patient.

    One sample per patient (config `samples.patient_column`; without it every sample is its
    own patient): of a patient's cases with valid survival values, the first in the sample
    table's row order is kept and the others are left out; each such choice is logged
    (patient, kept sample, left-out samples). Returns a table indexed by sample id with
    `time`, `event` and the clinical columns. Bad survival values (negative times, events
    not 0/1, no event) raise InputError.
    """
    group, case, data = settings.group_column, settings.case, settings.cases
    if group not in samples.columns:
        raise InputError("sample table lacks the group column", path=path, column=group)
    cases = samples[samples[group].astype(str) == str(case)]
    if cases.empty:
        raise InputError(f"no sample has {group} = {case}", path=path, column=group)
    clinical = list(data.clinical)
    missing = [c for c in clinical if c not in cases.columns]
    if missing:
        raise InputError("clinical variable is not in the sample table", path=path,
                         column=missing[0])
    # Row numbers in messages refer to the whole file, so check before subsetting rows.
    checked = sv.check_survival(samples.where(samples[group].astype(str) == str(case)),
                                data.time_column, data.event_column, path)
    cases = cases.loc[cases.index.intersection(checked.index)]
    patient = settings.patient_column
    if patient in cases.columns:
        repeat = cases[patient].notna() & cases[patient].duplicated(keep=False)
        for pid, grp in cases[repeat].groupby(patient, sort=False):
            log.info("patient %s: survival uses sample %s (first in the sample table), not "
                     "%s", pid, grp.index[0], ", ".join(map(str, grp.index[1:])))
        cases = cases[~(cases[patient].notna() & cases[patient].duplicated())]
    complete = cases[clinical].notna().all(axis=1)
    if (~complete).any():
        log.info("%d cases lack a clinical variable and are left out", int((~complete).sum()))
    cases = cases[complete]
    out = pd.DataFrame({TIME: checked.loc[cases.index, data.time_column],
                        EVENT: checked.loc[cases.index, data.event_column]})
    out = out.join(cases[clinical])
    if out[EVENT].sum() == 0:
        raise InputError("no events among the cases with complete clinical data", path=path,
                         column=data.event_column)
    log.info("%d cases with survival data, %d events", len(out), int(out[EVENT].sum()))
    return out


def filter_by_expr(counts, min_count: float = 10, min_total_count: float = 15,
                   large_n: int = 10, min_prop: float = 0.7) -> np.ndarray:
    """edgeR 3.40 filterByExpr (no group or design: all samples one group).

    Keeps genes with CPM >= min_count / median(library size) * 1e6 in at least
    large_n + (n - large_n) * min_prop samples (n when n <= large_n) and a total count of at
    least min_total_count.
    """
    y = np.asarray(counts, dtype=float)
    lib = y.sum(axis=0)
    n_min = y.shape[1]
    if n_min > large_n:
        n_min = large_n + (n_min - large_n) * min_prop
    cutoff = min_count / np.median(lib) * 1e6
    tol = 1e-14
    keep_cpm = (cpm(y, lib_size=lib) >= cutoff).sum(axis=1) >= n_min - tol
    return keep_cpm & (y.sum(axis=1) >= min_total_count - tol)


def input_gene_report(counts: pd.DataFrame, genes: pd.DataFrame, external_genes,
                      filters: GeneFilters) -> pd.DataFrame:
    """One row per gene of `counts` (cases' columns) with each filter's verdict and `kept`.

    external_genes: gene ids of the external cohort, or None.
    """
    y = counts.to_numpy(dtype=float)
    c = cpm(y)
    report = pd.DataFrame({
        "gene_id": counts.index,
        "gene_name": genes["gene_name"].reindex(counts.index).to_numpy(),
        "gene_type": genes["gene_type"].reindex(counts.index).to_numpy(),
        "mean_cpm": c.mean(axis=1),
        "fraction_cpm": (c >= filters.min_cpm).mean(axis=1),
    })
    report["filter_by_expr"] = (filter_by_expr(y) if filters.filter_by_expr
                                else np.ones(len(y), bool))
    report["expressed"] = ((report["mean_cpm"] >= filters.min_mean_cpm)
                           & (report["fraction_cpm"] >= filters.min_fraction))
    types = filters.gene_types
    if types and report["gene_type"].isna().all():
        log.warning("no gene has a known gene_type (no annotation or GTF): the gene-type "
                    "filter %s is skipped", types)
        types = None
    report["gene_type_ok"] = report["gene_type"].isin(types) if types else True
    report["in_external"] = (report["gene_id"].isin(list(external_genes))
                             if external_genes is not None else True)
    report["kept"] = report[["filter_by_expr", "expressed", "gene_type_ok",
                             "in_external"]].all(axis=1)
    if not report["kept"].any():
        raise InputError("no gene passes the survival input filters (filterByExpr, mean CPM, "
                         "detection, gene type, presence in the external cohort); relax "
                         "config survival.filters")
    log.info("input genes: %d of %d kept", int(report["kept"].sum()), len(report))
    return report


def model_expression(counts: pd.DataFrame, cases: pd.DataFrame, genes,
                     settings: InputSettings) -> pd.DataFrame:
    """Standardised TMM log2-CPM (samples x genes) of `genes` with technical effects removed.

    TMM uses all genes of `counts`; technical columns (config survival.technical) that vary
    within the cohort are regressed out with the clinical variables protected, then each
    gene is centred and scaled to unit variance within the cohort.
    """
    y = counts[cases.index]
    expr = log2cpm_voom(y, norm_factors=calc_norm_factors(y.to_numpy())).loc[list(genes)]
    technical = [t for t in settings.technical
                 if t in cases.columns and cases[t].nunique(dropna=True) > 1]
    if technical:
        keep = model_matrix("~ " + " + ".join(settings.cases.clinical), cases,
                            settings.cases.reference_levels)
        rem = model_matrix("~ " + " + ".join(technical), cases).drop(columns="(Intercept)")
        expr = remove_batch_effect(expr, keep.to_numpy(), (rem - rem.mean()).to_numpy())
    x = expr.T
    sd = x.std(axis=0, ddof=1)
    flat = sd <= 1e-10
    if flat.any():
        raise InputError(f"gene '{x.columns[flat.to_numpy()][0]}' has the same expression in "
                         "every case of the cohort", column="gene_id")
    return (x - x.mean(axis=0)) / sd


def clinical_matrix(cases: pd.DataFrame, clinical: list[str], reference_levels: dict,
                    columns=None) -> pd.DataFrame:
    """Numeric clinical covariates (factors treatment-coded), optionally on given columns."""
    design = model_matrix("~ " + " + ".join(clinical), cases, reference_levels)
    design = design.drop(columns="(Intercept)")
    return design if columns is None else design.reindex(columns=columns, fill_value=0.0)


def expression_table(expr: pd.DataFrame) -> pd.DataFrame:
    """samples x genes -> the house layout: gene_id + one column per sample."""
    return expr.T.rename_axis("gene_id").reset_index()


def read_case_data(expression, cases, settings: CaseSettings
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The stage's expression (samples x genes), case table and clinical design matrix."""
    table = read_cases(cases, settings.clinical)
    clin = clinical_matrix(table, settings.clinical, settings.reference_levels)
    return read_expression(expression), table, clin


def read_expression(path) -> pd.DataFrame:
    """A stage expression table back as samples x genes."""
    df = read_tsv(path, required=["gene_id"], what="expression table", dtype={"gene_id": str})
    return df.set_index("gene_id").T


def cases_table(cases: pd.DataFrame) -> pd.DataFrame:
    return cases.rename_axis("sample_id").reset_index()


def read_cases(path, clinical: list[str]) -> pd.DataFrame:
    """A stage case table (sample_id, time, event, clinical columns) indexed by sample id."""
    df = read_tsv(path, required=["sample_id", TIME, EVENT, *clinical],
                  what="survival case table", dtype={"sample_id": str})
    return df.set_index("sample_id").rename_axis(None)


def name_genes(table: pd.DataFrame, genes: pd.DataFrame, column: str = "gene_id"):
    """Insert gene_name after the gene id column (ids of non-genes, e.g. clinical terms, stay
    without a name)."""
    out = table.copy()
    out.insert(out.columns.get_loc(column) + 1, "gene_name",
               genes["gene_name"].reindex(out[column]).to_numpy())
    return out
