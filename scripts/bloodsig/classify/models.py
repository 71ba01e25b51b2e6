"""Saved panel models and the scoring of a cohort with them: the features of a new cohort
prepared as the discovery cohort's, panel and ensemble scores, validation metrics and ROC
tables; the training data and model files of the `classify` stage."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from ..core.errors import InputError
from ..core.io import atomic_path, read_tsv, write_text
from ..stats import delong
from ..stats.limma import remove_batch_effect
from ..stats.normalize import calc_norm_factors, log2cpm_voom
from .algorithms import CompareSettings, XGBoostSettings, _gain, xgb_classifier
from .features import (
    CaseControl,
    DEGFilter,
    _groups,
    gene_sets,
    labels,
    patients,
    reliability,
    standardise,
)
from .panel_selection import ENSEMBLE, UNION, Panels, RFESettings, _panel_size

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExternalSettings:
    """How a new cohort is prepared and scored by the saved models (config
    `classify.external`)."""

    min_count: int  # genes with more than min_count counts ...
    min_samples: int  # ... in more than min_samples samples are kept
    technical: list[str]  # sample-sheet covariates removed within the cohort
    missing_genes: str  # refit or missing (see `score_cohort`)
    threshold: float  # a sample is called a case at this probability

    @classmethod
    def from_config(cls, external: Mapping) -> ExternalSettings:
        return cls(min_count=external["min_count"], min_samples=external["min_samples"],
                   technical=list(external["technical"]),
                   missing_genes=external["missing_genes"], threshold=external["threshold"])


@dataclass(frozen=True)
class ClassifySettings:
    """The classify rules' settings (config `classify`, as the schema fills it). A rule's
    params carry the blocks it reads; the blocks it does not read are None."""

    filters: dict[str, DEGFilter]  # DEG filter name -> filter
    xgboost: XGBoostSettings
    compare: CompareSettings | None
    rfe: RFESettings | None
    outer_folds: int | None  # nested CV (config classify.nested)
    external: ExternalSettings | None

    @classmethod
    def from_config(cls, classify: Mapping) -> ClassifySettings:
        """From a classify rule's params (config `classify`'s blocks that it reads)."""
        def block(key, make):
            return make(classify[key]) if key in classify else None

        return cls(filters={k: DEGFilter.from_config(v) for k, v in classify["filters"].items()},
                   xgboost=XGBoostSettings.from_config(classify["xgboost"]),
                   compare=block("compare", CompareSettings.from_config),
                   rfe=block("rfe", RFESettings.from_config),
                   outer_folds=block("nested", lambda nested: nested["outer_folds"]),
                   external=block("external", ExternalSettings.from_config))


@dataclass(frozen=True)
class Preprocessing:
    """What scoring a new cohort needs besides the models (saved as preprocessing.json):
    the external settings, the normalisation, the ensemble's members, XGBoost's parameters
    (to refit a model without missing genes) and the seed."""

    min_count: int
    min_samples: int
    technical: list[str]
    normalisation: str
    missing_genes: str
    threshold: float
    ensemble: list[str]
    xgboost: XGBoostSettings
    seed: int

    @classmethod
    def from_json(cls, text: str) -> Preprocessing:
        prep = json.loads(text)
        return cls(**{**prep, "xgboost": XGBoostSettings.from_config(prep["xgboost"])})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"


def cohort_features(counts: pd.DataFrame, samples: pd.DataFrame, prep: Preprocessing,
                    path=None) -> pd.DataFrame:
    """A cohort's standardised expression (samples x genes) as the saved models expect.

    prep (saved with the models): keep genes with more than min_count counts in more than
    min_samples samples; TMM (edgeR) log2-CPM (voom); remove the cohort's own `technical`
    sample-sheet covariates (limma removeBatchEffect, centred, without the case/control
    labels, which new samples do not have; a covariate with one value is skipped); z-score
    per gene within the cohort.
    """
    missing = samples.index.difference(counts.columns)
    if len(missing):
        raise InputError(f"sample '{missing[0]}' of the sample table has no counts", path=path)
    counts = counts[samples.index]
    keep = (counts > prep.min_count).sum(axis=1) > prep.min_samples
    counts = counts[keep]
    if counts.shape[0] < 2:
        raise InputError(f"only {counts.shape[0]} gene(s) have more than {prep.min_count} "
                         f"counts in more than {prep.min_samples} samples", path=path)
    expr = log2cpm_voom(counts, norm_factors=calc_norm_factors(counts.to_numpy()))
    blocks = []
    for var in prep.technical:
        if var not in samples.columns:
            raise InputError("technical covariate is not a sample-table column", path=path,
                             column=var)
        s = samples[var]
        if s.isna().any():
            raise InputError(f"missing value of technical covariate for sample "
                             f"'{s.index[s.isna()][0]}'", path=path, column=var)
        if s.nunique() < 2:
            log.info("technical covariate %s has one value; skipped", var)
            continue
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        block = (s.to_frame().astype(float) if numeric else
                 pd.get_dummies(s.astype(str), drop_first=True, dtype=float))
        blocks.append(block - block.mean())
    if blocks:
        rem = pd.concat(blocks, axis=1).to_numpy()
        expr = remove_batch_effect(expr, np.ones((len(samples), 1)), rem)
    log.info("cohort features: %d genes x %d samples, technical %s", expr.shape[0],
             expr.shape[1], prep.technical)
    return standardise(expr)


def align_panels(target: pd.DataFrame, panels: dict[str, list]) -> tuple[dict, pd.DataFrame]:
    """Each panel's genes present in the target cohort, and the table of missing ones."""
    present = {name: [g for g in genes if g in target.columns] for name, genes in panels.items()}
    missing = pd.DataFrame([(name, g) for name, genes in panels.items() for g in genes
                            if g not in target.columns], columns=["model", "gene_id"])
    return present, missing


def score_cohort(target: pd.DataFrame, models: dict, panels: dict[str, list], policy: str,
                 train_X: pd.DataFrame | None, train_y: pd.Series | None,
                 xgb_params: XGBoostSettings, seed: int, n_jobs: int = 1, path=None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Case probabilities of the target's samples for every saved model and the ensemble.

    Panel genes missing from the target (not measured, or removed by its expression filter)
    are handled by `policy`: "refit" retrains that model on the discovery samples with the
    genes the target has (same settings and seed); "missing" keeps the saved model and passes
    the genes as missing values, which XGBoost sends down each split's learned default branch.
    A model none of whose genes are present scores NaN; a cohort (`path`, its counts) with no
    panel gene at all is refused, as its gene ids cannot be those of the discovery cohort.
    """
    present, missing = align_panels(target, panels)
    if not any(present.values()):
        example = next(g for genes in panels.values() for g in genes)
        raise InputError(f"the cohort has none of the {missing['gene_id'].nunique()} panel genes "
                         f"(e.g. '{example}') after its expression filter; do its gene ids "
                         "match the discovery cohort's?", path=path, column="gene_id")
    out = {}
    for name, genes in panels.items():
        if not present[name]:
            log.warning("model %s: none of its %d genes in the target; not scored", name,
                        len(genes))
            out[name] = np.full(len(target), np.nan)
        elif policy == "missing" or len(present[name]) == len(genes):
            x = target.reindex(columns=genes).to_numpy()
            out[name] = models[name].predict_proba(x)[:, 1]
        elif policy == "refit":
            log.info("model %s: refit without %d missing gene(s)", name,
                     len(genes) - len(present[name]))
            model = xgb_classifier(xgb_params, seed).fit(
                train_X[present[name]].to_numpy(), train_y.to_numpy())
            out[name] = model.predict_proba(target[present[name]].to_numpy())[:, 1]
        else:
            raise InputError(f"unknown missing-gene policy '{policy}' (refit or missing)",
                             column="classify.external.missing_genes")
    pred = pd.DataFrame(out, index=target.index)
    members = [n for n in panels if n != UNION]
    pred[ENSEMBLE] = pred[members].mean(axis=1)
    return pred, missing


def validation_metrics(pred: pd.DataFrame, y: pd.Series, threshold: float,
                       panels: dict[str, list] | None = None,
                       groups: pd.Series | None = None) -> pd.DataFrame:
    """AUC (DeLong 95% CI), sensitivity, specificity and accuracy at `threshold` per model,
    over y's samples, with n, patients and a reliability note (fewer than MIN_TEST_N samples;
    panels, when given, of at most MAX_SMALL_PANEL genes)."""
    rows = []
    yy = y.to_numpy()
    pred = pred.loc[y.index]
    n_patients = _groups(y, groups).nunique()
    for model in pred.columns:
        p = pred[model].to_numpy()
        if np.isnan(p).any():
            rows.append({"model": model, "reliability": "not scored"})
            continue
        ci = delong.auc_ci(yy, p)
        call = p >= threshold
        size = _panel_size(panels, model) if panels else None
        rows.append({"model": model, "auc": ci.auc, "ci_low": ci.ci_low, "ci_high": ci.ci_high,
                     "n": len(yy), "n_cases": int(yy.sum()), "n_controls": int((1 - yy).sum()),
                     "n_patients": n_patients,
                     "sensitivity": call[yy == 1].mean(), "specificity": (~call[yy == 0]).mean(),
                     "accuracy": (call == (yy == 1)).mean(),
                     "reliability": reliability(len(yy), size)})
    return pd.DataFrame(rows, columns=["model", "auc", "ci_low", "ci_high", "n", "n_cases",
                                       "n_controls", "n_patients", "sensitivity",
                                       "specificity", "accuracy", "reliability"])


def unseen_patients(target: pd.DataFrame, training: pd.DataFrame, patient_column: str,
                    path=None) -> pd.Index:
    """The target cohort's samples whose patient has no sample among the training samples.

    External scoring keeps a patient on one side too: a target sample whose patient id
    (config `samples.patient_column`, both tables) is also a training patient's is left out
    of the metrics (warned). Without that column in either table nothing can be matched and
    all samples count. If every target sample is left out the cohort is refused: its patient
    ids are those of the training cohort (or number patients the same way).
    """
    col = patient_column
    if col not in target.columns or col not in training.columns:
        return target.index
    seen = set(training[col].dropna().astype(str))
    shared = target[col].notna() & target[col].astype(str).isin(seen)
    if shared.all():
        raise InputError(f"every sample's patient id is also a training patient's (e.g. "
                         f"'{target[col].iloc[0]}'); an external cohort must hold other "
                         "patients, or ids that do not collide", path=path, column=col)
    if shared.any():
        log.warning("%d sample(s) of %d patient(s) (e.g. '%s') are of training patients and "
                    "are left out of the external metrics", int(shared.sum()),
                    target.loc[shared, col].nunique(), target.loc[shared, col].iloc[0])
    return target.index[~shared]


def roc_table(pred: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
    """fpr/tpr per model (models that scored every sample), over y's samples."""
    yy, pred = y.to_numpy(), pred.loc[y.index]
    parts = []
    for model in pred.columns:
        if pred[model].notna().all():
            fpr, tpr, _ = roc_curve(yy, pred[model].to_numpy())
            parts.append(pd.DataFrame({"model": model, "fpr": fpr, "tpr": tpr}))
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class TrainingData:
    X: pd.DataFrame          # standardised residual expression, samples x genes
    y: pd.Series             # 1 case, 0 control
    groups: pd.Series        # patient of every sample (repeat samples share it)
    sets: dict[str, list]    # DEG filter -> its genes


def training_data(toptable: pd.DataFrame, residuals: pd.DataFrame, samples: pd.DataFrame,
                  coding: CaseControl, filters: Mapping[str, DEGFilter],
                  samples_path=None) -> TrainingData:
    """Standardised residual expression (samples x genes) of the case and control samples,
    labels, patients and DEG-filter gene sets (samples of other groups left out)."""
    missing = residuals.columns.difference(samples.index)
    if len(missing):
        raise InputError(f"sample '{missing[0]}' of the residual expression is not in the "
                         "sample table", path=samples_path)
    y = labels(samples.loc[residuals.columns], coding, samples_path)
    X = standardise(residuals[y.index])
    return TrainingData(X, y, patients(samples.loc[y.index], coding.patient_column),
                        gene_sets(toptable, filters, X.columns))


def read_training_data(toptable, residuals, samples: pd.DataFrame, coding: CaseControl,
                       filters: Mapping[str, DEGFilter], samples_path=None) -> TrainingData:
    """`training_data` from the DE stage's files: top table and residual expression (genes x
    samples), with the QC'd sample table (read from `samples_path`)."""
    return training_data(
        read_tsv(toptable, required=["gene_id", "adj.P.Val", "logFC", "AveExpr"]),
        read_tsv(residuals, index_col=0, dtype={"gene_id": str}),
        samples, coding, filters, samples_path)


def save_model(model, path) -> None:
    """An XGBoost model as its JSON file (written atomically)."""
    with atomic_path(path, suffix=".json") as tmp:
        model.save_model(str(tmp))


def load_model(path):
    from xgboost import XGBClassifier

    model = XGBClassifier()
    model.load_model(str(path))
    return model


def panel_tables(panels: Panels, models: dict, names: pd.Series
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """RFE curves (filter, n_genes, mean_auc, sd_auc, knee), the elimination ranking (filter,
    gene_id, gene_name, rank) and the panels (panel, gene_id, gene_name, rank, importance =
    normalised gain in the panel's final model)."""
    curves = pd.concat([r.curve.assign(knee=r.curve["n_genes"] == panels.knees[f])
                        .assign(filter=f) for f, r in panels.curves.items()], ignore_index=True)
    curves = curves[["filter", "n_genes", "mean_auc", "sd_auc", "knee"]]
    ranking = pd.concat([pd.DataFrame({"filter": f, "gene_id": r.rank.index,
                                       "gene_name": names.reindex(r.rank.index).to_numpy(),
                                       "rank": r.rank.to_numpy()}).sort_values("rank")
                         for f, r in panels.curves.items()], ignore_index=True)
    rows = []
    for name, genes in panels.genes.items():
        gain = _gain(models[name], len(genes))
        rows.append(pd.DataFrame({"panel": name, "gene_id": genes,
                                  "gene_name": names.reindex(genes).to_numpy(),
                                  "rank": np.arange(1, len(genes) + 1), "importance": gain}))
    return curves, ranking, pd.concat(rows, ignore_index=True)


def preprocessing(external: ExternalSettings, xgb_params: XGBoostSettings, seed: int,
                  filters: list[str]) -> Preprocessing:
    """What scoring a new cohort needs besides the models."""
    return Preprocessing(
        min_count=external.min_count, min_samples=external.min_samples,
        technical=list(external.technical),
        normalisation="TMM (edgeR) log2-CPM (voom), technical covariates removed "
                      "(removeBatchEffect), z-score per gene within the cohort",
        missing_genes=external.missing_genes, threshold=external.threshold,
        ensemble=list(filters), xgboost=xgb_params, seed=seed)


def read_preprocessing(path) -> Preprocessing:
    """A saved preprocessing.json."""
    with open(path) as fh:
        return Preprocessing.from_json(fh.read())


def write_preprocessing(prep: Preprocessing, path) -> None:
    """preprocessing.json (keys sorted, written atomically)."""
    write_text(prep.to_json(), path)
