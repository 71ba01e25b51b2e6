"""Labels, patients and gene sets for the classifiers, and the splits they are trained on.

Patients, not samples, are the unit of every split (see bloodsig.classify.models); the
small-cohort limits (`MIN_PER_CLASS`, `MIN_TEST_N`, `MAX_SMALL_PANEL`) live here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from ..core.errors import InputError

log = logging.getLogger(__name__)


# Fewest patients of a class for any stratified split. With 2, a 2-fold split trains every
# model on a single case (or control) and scores a single one: each fold's AUC then rests on
# one sample, and a nested CV's inner folds cannot be split at all. With 3 or more, k = min(
# folds, n) gives every test fold a case and a control and every training part at least one
# of each (at k = n, n - 1 >= 2).
MIN_PER_CLASS = 3


MIN_TEST_N = 20       # held-out sets smaller than this are marked unreliable


MAX_SMALL_PANEL = 2   # panels of at most this many genes are marked unreliable


@dataclass(frozen=True)
class CaseControl:
    """The sample sheet's case-control coding and its patients (config `samples`)."""

    group_column: str
    case: str
    control: str
    other_groups: list[str]  # groups that are neither side of a classifier (left out)
    patient_column: str  # repeat samples of one patient share its value

    @classmethod
    def from_config(cls, sheet: Mapping) -> CaseControl:
        """From config `samples` as the schema fills it (the rules' `sheet` param)."""
        return cls(group_column=sheet["group_column"], case=sheet["case"],
                   control=sheet["control"], other_groups=list(sheet["other_groups"]),
                   patient_column=sheet["patient_column"])


def labels(samples: pd.DataFrame, coding: CaseControl, path=None) -> pd.Series:
    """1 for cases, 0 for controls, for the case and control samples only.

    Samples of a group listed in `other_groups` belong to neither side of a case-control
    classifier: they are left out (logged). Any other value is refused.
    """
    col = coding.group_column
    if col not in samples.columns:
        raise InputError("sample table has no group column", path=path, column=col)
    group = samples[col].astype(str)
    known = [str(coding.case), str(coding.control)]
    other = ~group.isin(known) & group.isin([str(g) for g in coding.other_groups])
    bad = ~group.isin(known) & ~other
    if bad.any():
        raise InputError(f"group '{group[bad].iloc[0]}' of sample '{group.index[bad][0]}' is "
                         f"neither '{coding.case}' nor '{coding.control}' (nor one of "
                         "samples.other_groups)", path=path, column=col)
    if other.any():
        counts = group[other].value_counts().sort_index()
        log.info("classify uses the %s and %s samples only: %d sample(s) of other groups left "
                 "out (%s)", coding.case, coding.control, int(other.sum()),
                 ", ".join(f"{g} {n}" for g, n in counts.items()))
    return (group[~other] == coding.case).astype(int)


def patients(samples: pd.DataFrame, patient_column: str) -> pd.Series:
    """The patient of every sample (config `samples.patient_column`): repeat samples of one
    patient share it. Without that column every sample is its own patient; a sample with a
    missing patient id is its own patient ("sample <id>")."""
    own = pd.Series("sample " + samples.index.astype(str), index=samples.index)
    col = patient_column
    if col not in samples.columns:
        log.info("no patient column '%s': every sample is its own patient", col)
        return own.rename("patient")
    ids = samples[col].astype(str).where(samples[col].notna(), own)
    size = ids.map(ids.value_counts())
    log.info("%d samples of %d patients; %d patient(s) with repeat samples (%d samples)",
             len(ids), ids.nunique(), ids[size > 1].nunique(), int((size > 1).sum()))
    return ids.rename("patient")


def _groups(y: pd.Series, groups: pd.Series | None) -> pd.Series:
    """Patients of y's samples, in y's order (None: every sample its own patient)."""
    if groups is None:
        return pd.Series(y.index.astype(str), index=y.index, name="patient")
    return groups.loc[y.index]


def patient_labels(y: pd.Series, groups: pd.Series | None = None) -> pd.Series:
    """One label per patient, in order of first appearance: a case if any of its samples is
    one (a patient with both labels is warned about: check the sample sheet)."""
    g = _groups(y, groups)
    lab = y.groupby(g.to_numpy(), sort=False).agg(["min", "max"])
    mixed = lab.index[lab["min"] != lab["max"]]
    if len(mixed):
        log.warning("%d patient(s) have both case and control samples (e.g. '%s'); counted "
                    "as cases", len(mixed), mixed[0])
    return lab["max"]


def _class_counts(y: pd.Series, groups: pd.Series | None) -> tuple[int, int]:
    """(case patients, control patients)."""
    pl = patient_labels(y, groups)
    return int((pl == 1).sum()), int((pl == 0).sum())


def _too_few(stage: str, y: pd.Series, groups: pd.Series | None, need: str) -> InputError:
    cases, controls = _class_counts(y, groups)
    return InputError(f"classify {stage}: {cases} case and {controls} control patient(s) "
                      f"({int(y.sum())} case and {int((y == 0).sum())} control samples); "
                      f"{need}")


def grouped_folds(y: pd.Series, groups: pd.Series | None, folds: int, seed: int,
                  stage: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold splits (train, test positions) that keep each patient's samples in
    one fold: scikit-learn's StratifiedGroupKFold, groups shuffled with `seed` (the same seed
    gives the same folds).

    k = min(folds, patients of the smallest class), logged when lowered; fewer than
    MIN_PER_CLASS patients of a class is refused. StratifiedGroupKFold balances the classes
    greedily, and patients with several samples can leave a test fold without a case or a
    control (no AUC): k is then lowered by one until every fold has both (logged).
    """
    yy = y.to_numpy()
    g = _groups(y, groups).to_numpy()
    cases, controls = _class_counts(y, groups)
    smallest = min(cases, controls)
    if smallest < MIN_PER_CLASS:
        raise _too_few(stage, y, groups,
                       f"stratified cross-validation needs at least {MIN_PER_CLASS} patients "
                       "of each class (2 or more folds, a case and a control in every test "
                       "fold and in every training part)")
    k = min(folds, smallest)
    if k < folds:
        log.warning("classify %s: %d folds instead of %d (the smallest class has %d "
                    "patients)", stage, k, folds, smallest)
    while k >= 2:
        splits = list(StratifiedGroupKFold(k, shuffle=True, random_state=seed)
                      .split(np.zeros(len(yy)), yy, g))
        if all(len(np.unique(yy[te])) == 2 and len(np.unique(yy[tr])) == 2
               for tr, te in splits):
            return splits
        log.warning("classify %s: a %d-fold split by patient leaves a fold without a case "
                    "or a control; trying %d folds", stage, k, k - 1)
        k -= 1
    raise _too_few(stage, y, groups, "no split by patient into 2 or more folds puts a case "
                   "and a control in every fold")


def grouped_split(y: pd.Series, groups: pd.Series | None, test_fraction: float, seed: int,
                  stage: str = "compare") -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test split (positions) with each patient's samples on one side.

    scikit-learn's train_test_split on the patients (one row each, stratified by the
    patient's label, `seed`), then every sample goes where its patient went. With one sample
    per patient this is exactly the stratified sample split. Chosen over the first fold of
    StratifiedGroupKFold, whose test share can only be 1/k (0.33 for 0.3), and over
    GroupShuffleSplit, which does not stratify. The test part must hold a case and a control
    and the training part at least MIN_PER_CLASS patients of each (its tuning CV); else
    refused.
    """
    pl = patient_labels(y, groups)
    try:
        _, test_patients = train_test_split(pl.index.to_numpy(), test_size=test_fraction,
                                            stratify=pl.to_numpy(), random_state=seed)
    except ValueError as e:
        raise _too_few(stage, y, groups, f"they cannot be split into a stratified "
                       f"{test_fraction:g} test part ({e})") from None
    test = _groups(y, groups).isin(set(test_patients)).to_numpy()
    yy = y.to_numpy()
    if len(np.unique(yy[test])) < 2:
        raise _too_few(stage, y, groups, f"the held-out test part ({test_fraction:g} of the "
                       f"patients, {int(test.sum())} samples) has no "
                       f"{'case' if yy[test].min() == 0 else 'control'}; an AUC needs both")
    return np.flatnonzero(~test), np.flatnonzero(test)


def reliability(n_test: int | None = None, n_genes: float | None = None) -> str:
    """'ok', or 'unreliable: ...' naming a held-out set of fewer than MIN_TEST_N samples
    and a panel of at most MAX_SMALL_PANEL genes."""
    why = []
    if n_test is not None and n_test < MIN_TEST_N:
        why.append(f"test n = {n_test} < {MIN_TEST_N}")
    if n_genes is not None and n_genes <= MAX_SMALL_PANEL:
        why.append(f"{round(n_genes, 1):g}-gene panel")
    return "unreliable: " + ", ".join(why) if why else "ok"


def standardise(expr: pd.DataFrame) -> pd.DataFrame:
    """Genes x samples -> samples x genes z-scores per gene (sd with n - 1; constant -> 0)."""
    values = expr.to_numpy(dtype=float)
    mean = values.mean(axis=1, keepdims=True)
    sd = values.std(axis=1, ddof=1, keepdims=True)
    z = np.divide(values - mean, sd, out=np.zeros_like(values), where=sd > 0)
    return pd.DataFrame(z.T, index=expr.columns, columns=expr.index)


@dataclass(frozen=True)
class DEGFilter:
    """A DEG filter (config `classify.filters.<name>`): adj.P.Val < fdr, |logFC| >
    min_abs_logfc and AveExpr > min_ave_expr; None leaves that test out."""

    fdr: float | None
    min_abs_logfc: float | None
    min_ave_expr: float | None

    @classmethod
    def from_config(cls, spec: Mapping) -> DEGFilter:
        """From the filter's keys, each optional (an absent one is not tested)."""
        return cls(fdr=spec.get("fdr"), min_abs_logfc=spec.get("min_abs_logfc"),
                   min_ave_expr=spec.get("min_ave_expr"))

    def __str__(self) -> str:
        return ", ".join(f"{k} {v:g}" for k, v in vars(self).items() if v is not None)


def deg_filter(toptable: pd.DataFrame, spec: DEGFilter) -> list[str]:
    """Gene ids passing a DEG filter, in the top table's order."""
    keep = np.ones(len(toptable), dtype=bool)
    if spec.fdr is not None:
        keep &= (toptable["adj.P.Val"] < spec.fdr).to_numpy()
    if spec.min_abs_logfc is not None:
        keep &= (toptable["logFC"].abs() > spec.min_abs_logfc).to_numpy()
    if spec.min_ave_expr is not None:
        keep &= (toptable["AveExpr"] > spec.min_ave_expr).to_numpy()
    return toptable["gene_id"].astype(str)[keep].tolist()


def gene_sets(toptable: pd.DataFrame, filters: Mapping[str, DEGFilter],
              available: pd.Index) -> dict[str, list]:
    """The genes of every DEG filter that are in the residual expression; empty is refused."""
    sets = {}
    for name, spec in filters.items():
        genes = [g for g in deg_filter(toptable, spec) if g in available]
        if len(genes) < 2:
            raise InputError(f"DEG filter '{name}' ({spec}) keeps {len(genes)} gene(s) of the "
                             "residual expression; a panel needs at least 2",
                             column="classify.filters")
        sets[name] = genes
        log.info("filter %s: %d genes", name, len(genes))
    return sets
