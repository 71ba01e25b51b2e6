"""Expression QC of a count matrix: gene filters, globin removal, RNA-based sex check, PCA.

Inputs are plain pandas objects: counts are genes x samples raw integer counts indexed by
gene_id; the annotation is indexed by gene_id with columns gene_name, gene_type, chromosome;
the sample sheet is indexed by sample_id. Nothing here reads config or knows about files,
except `read_gene_list` for the gene lists under resources/.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..stats.normalize import log2cpm_voom

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class QCSettings:
    """`run_expression_qc`'s settings; `stage_settings` makes them from the config as the
    schema fills it (the defaults live there only)."""
    min_count: int  # the low-expression filter: >= min_count counts ...
    max_fraction_below: float  # ... in all but this fraction of samples
    prep_column: str | None  # sheet column of the library preparation (None: filter off)
    prep_min_count: int
    prep_min_fraction: float
    globin_symbols: list[str]  # symbols to drop; empty turns globin removal off
    chry_symbols: list[str]  # male chrY symbols of the sex check
    xist_symbol: str
    sex_column: str  # sheet column with the recorded sex (absent column: no comparison)
    female_value: str  # its codes
    male_value: str


_SEX_CODES = {"m": "male", "male": "male", "f": "female", "female": "female"}


def read_gene_list(path, role: str | None = None) -> list[str]:
    """Read a resources/ gene list: one symbol per line (optionally ``symbol<TAB>role``).

    Lines starting with '#' and blank lines are skipped. With `role`, only the symbols whose
    second column equals it are returned (e.g. ``role="male"`` in chrY_genes.txt).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("gene list not found", path=path)
    symbols = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if role is not None:
            if len(fields) < 2:
                raise InputError("expected 'symbol<TAB>role'", path=path, row=lineno)
            if fields[1].strip() != role:
                continue
        symbols.append(fields[0].strip())
    return symbols


def low_expression_mask(counts: pd.DataFrame, min_count: int = 5,
                        max_fraction_below: float = 0.5) -> pd.Series:
    """Genes to keep: True unless the gene has < `min_count` counts in > `max_fraction_below`
    of the samples (the reference study: fewer than 5 counts in more than 50% of samples)."""
    below = (counts.to_numpy() < min_count).mean(axis=1)
    return pd.Series(below <= max_fraction_below, index=counts.index, name="keep")


def single_prep_genes(counts: pd.DataFrame, library_type: pd.Series, min_count: int = 5,
                      min_fraction: float = 0.5) -> pd.Index:
    """Genes detected in exactly one library preparation (e.g. polyA but not rRNA depletion).

    Rule: a gene is *detected* in a preparation when it has >= `min_count` counts in at least
    `min_fraction` of that preparation's samples. Genes detected in exactly one of two or more
    preparations measure the protocol rather than biology, so they are returned for dropping.
    With a single preparation nothing is returned.
    """
    prep = library_type.reindex(counts.columns)
    if prep.isna().any():
        missing = prep.index[prep.isna()][0]
        raise InputError(f"no library preparation for sample '{missing}'",
                         column=library_type.name)
    values = counts.to_numpy() >= min_count
    detected = np.column_stack([
        values[:, (prep == level).to_numpy()].mean(axis=1) >= min_fraction
        for level in pd.unique(prep)
    ])
    if detected.shape[1] < 2:
        return counts.index[:0]
    return counts.index[detected.sum(axis=1) == 1]


def _ids_for_symbols(annotation: pd.DataFrame, symbols: Iterable[str]) -> pd.Index:
    return annotation.index[annotation["gene_name"].isin(list(symbols)).to_numpy()]


def globin_genes(annotation: pd.DataFrame, globin_symbols: Iterable[str]) -> pd.Index:
    """Gene ids whose gene_name is one of `globin_symbols` (see resources/globin_genes.txt)."""
    return _ids_for_symbols(annotation, globin_symbols)


def normalise_sex(values: pd.Series, female: str = "female", male: str = "male") -> pd.Series:
    """Map recorded sex to 'male'/'female': the sheet's own codes `female`/`male` and M/F/
    male/female, any case; other values (unknown, missing) become NaN."""
    codes = {**_SEX_CODES, str(female).strip().lower(): "female",
             str(male).strip().lower(): "male"}
    return values.astype("string").str.strip().str.lower().map(codes).astype(object)


def two_means_threshold(x: np.ndarray) -> tuple[float, float]:
    """Exact 1-D 2-means: the split of sorted `x` with the least within-cluster sum of squares.

    Returns (threshold, separation): the midpoint and the distance between the two cluster
    means. Exhaustive over the n-1 splits, so there is no random start and no local optimum.
    """
    s = np.sort(np.asarray(x, dtype=float))
    n = s.size
    if n < 2:
        return np.nan, 0.0
    k = np.arange(1, n)
    csum, csq = np.cumsum(s), np.cumsum(s**2)
    left_sse = csq[:-1] - csum[:-1] ** 2 / k
    right_sum, right_sq = csum[-1] - csum[:-1], csq[-1] - csq[:-1]
    right_sse = right_sq - right_sum**2 / (n - k)
    best = int(np.argmin(left_sse + right_sse))
    low, high = csum[best] / k[best], right_sum[best] / (n - k[best])
    return (low + high) / 2.0, high - low


def sex_check(logcpm: pd.DataFrame, annotation: pd.DataFrame, recorded_sex: pd.Series | None,
              chry_symbols: Iterable[str], xist_symbol: str = "XIST",
              min_separation: float = 2.0,
              sex_codes: tuple[str, str] = ("female", "male")) -> pd.DataFrame:
    """Predict each sample's sex from expression and compare it with the recorded sex.

    chry = mean log-CPM of the chrY genes present; xist = log-CPM of XIST; score = chry - xist
    (a missing side counts as 0, so the check works with only chrY genes or only XIST).
    The threshold is the midpoint between the two cluster means of an exact 2-means split of
    the scores (`two_means_threshold`); when those means are less than `min_separation`
    log2 units apart (e.g. a single-sex cohort) the split is noise and the fixed threshold 0
    is used instead (males score about +5..+12, females about -5..-12 in blood).
    `sex_codes` are the sample sheet's (female, male) values (see `normalise_sex`).

    Returns one row per sample: sample_id, xist, chry, score, predicted_sex, recorded_sex
    (normalised to male/female, NaN when unknown), mismatch (False when recorded is unknown),
    threshold (the one used, the same in every row: a column, so the sample report's TSV and
    the figure drawn from it keep it). When none of the genes is in `logcpm`, predicted_sex
    is NaN (unknown) and a warning is logged.
    """
    present = annotation.reindex(logcpm.index)
    chry_ids = _ids_for_symbols(present, chry_symbols)
    xist_ids = _ids_for_symbols(present, [xist_symbol])
    if len(chry_ids) == 0 and len(xist_ids) == 0:
        log.warning("sex check impossible: none of the chrY genes nor %s is in the count "
                    "matrix (no gene names? give an annotation or a GTF); predicted sex is "
                    "unknown", xist_symbol)
    chry = logcpm.loc[chry_ids].mean(axis=0).reindex(logcpm.columns)  # all NaN when no genes
    xist = logcpm.loc[xist_ids].mean(axis=0).reindex(logcpm.columns)
    score = chry.fillna(0.0) - xist.fillna(0.0)
    threshold, separation = two_means_threshold(score.to_numpy())
    if not separation >= min_separation:
        threshold = 0.0
    predicted = np.where(score.to_numpy() > threshold, "male", "female").astype(object)
    if len(chry_ids) == 0 and len(xist_ids) == 0:
        predicted[:] = np.nan
    recorded = (normalise_sex(recorded_sex.reindex(logcpm.columns), *sex_codes)
                if recorded_sex is not None
                else pd.Series(np.nan, index=logcpm.columns, dtype=object))
    table = pd.DataFrame({
        "sample_id": logcpm.columns,
        "xist": xist.to_numpy(),
        "chry": chry.to_numpy(),
        "score": score.to_numpy(),
        "predicted_sex": predicted,
        "recorded_sex": recorded.to_numpy(),
    })
    table["mismatch"] = table["recorded_sex"].notna() & (
        table["recorded_sex"] != table["predicted_sex"])
    table["threshold"] = float(threshold)
    table.attrs["n_chry_genes"] = len(chry_ids)
    return table


def pca(logexpr: pd.DataFrame, n: int = 10,
        top_genes: int | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """PCA of samples on gene-centred log expression (genes x samples), by SVD.

    `top_genes` keeps the genes with the largest variance first (ties by order). Returns
    (scores: samples x PC1..PCk, explained: fraction of the total variance of the genes used
    per PC), k = min(n, samples, genes). Each component's sign is fixed so that its largest
    absolute gene loading is positive, so results are deterministic.
    """
    x = logexpr.to_numpy(dtype=float)
    if top_genes is not None and top_genes < x.shape[0]:
        order = np.argsort(-x.var(axis=1, ddof=1), kind="stable")[:top_genes]
        x = x[np.sort(order)]
    x = (x - x.mean(axis=1, keepdims=True)).T  # samples x genes
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    k = min(n, s.size)
    sign = np.sign(vt[np.arange(k), np.argmax(np.abs(vt[:k]), axis=1)])
    sign[sign == 0] = 1.0
    names = [f"PC{i + 1}" for i in range(k)]
    scores = pd.DataFrame(u[:, :k] * s[:k] * sign, index=logexpr.columns, columns=names)
    total = np.sum(s**2)
    explained = pd.Series(s[:k] ** 2 / total if total > 0 else np.zeros(k), index=names,
                          name="explained_variance")
    return scores, explained


def _check_inputs(counts: pd.DataFrame, annotation: pd.DataFrame,
                  samples: pd.DataFrame) -> pd.DataFrame:
    if "gene_name" not in annotation.columns:
        raise InputError("gene annotation lacks column 'gene_name'", column="gene_name")
    if "sample_id" in samples.columns:
        samples = samples.set_index("sample_id")
    missing = counts.columns.difference(samples.index)
    if len(missing):
        raise InputError(f"count matrix sample '{missing[0]}' is not in the sample sheet",
                         column=missing[0])
    extra = samples.index.difference(counts.columns)
    if len(extra):
        raise InputError(f"sample sheet sample '{extra[0]}' has no column in the count matrix",
                         row=extra[0])
    return samples.loc[counts.columns]


def run_expression_qc(counts: pd.DataFrame, annotation: pd.DataFrame, samples: pd.DataFrame,
                      settings: QCSettings) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Filter genes and check samples; the expression_qc stage in one call.

    Genes are dropped for three reasons, each judged on the unfiltered counts: "globin"
    (`globin_genes`), "low_expression" (`low_expression_mask`) and "single_prep"
    (`single_prep_genes`, only when the sample sheet has the preparation column and more than
    one preparation). The sex check runs on log-CPM of the unfiltered counts, so chrY genes
    that the low-expression filter drops (in a mostly female cohort) still count.

    Returns (filtered_counts, gene_report [gene_id, gene_name, kept, reason ('' when kept,
    else the reasons joined by ';')], sample_report [sample_id, library_size, n_detected
    (genes with >= min_count counts), then `sex_check`'s columns]).
    """
    cfg = settings
    samples = _check_inputs(counts, annotation, samples)

    drop = {
        "globin": counts.index.isin(globin_genes(annotation, cfg.globin_symbols)),
        "low_expression": ~low_expression_mask(counts, cfg.min_count,
                                               cfg.max_fraction_below).to_numpy(),
        "single_prep": np.zeros(len(counts), dtype=bool),
    }
    prep_column = cfg.prep_column
    if prep_column is not None and prep_column in samples.columns:
        drop["single_prep"] = counts.index.isin(single_prep_genes(
            counts, samples[prep_column], cfg.prep_min_count, cfg.prep_min_fraction))
    reason = pd.Series("", index=counts.index, dtype=object)
    for name, mask in drop.items():
        reason = reason + np.where(mask, name + ";", "")
    kept = (reason == "").to_numpy()
    gene_report = pd.DataFrame({
        "gene_id": counts.index,
        "gene_name": annotation["gene_name"].reindex(counts.index).to_numpy(),
        "kept": kept,
        "reason": reason.str.rstrip(";").to_numpy(),
    })

    sex_column = cfg.sex_column
    recorded = samples[sex_column] if sex_column in samples.columns else None
    sex = sex_check(log2cpm_voom(counts), annotation, recorded, cfg.chry_symbols,
                    cfg.xist_symbol, sex_codes=(cfg.female_value, cfg.male_value))
    sample_report = pd.concat([
        pd.DataFrame({
            "sample_id": counts.columns,
            "library_size": counts.sum(axis=0).to_numpy(),
            "n_detected": (counts >= cfg.min_count).sum(axis=0).to_numpy(),
        }),
        sex.drop(columns="sample_id"),
    ], axis=1)
    sample_report.attrs = dict(sex.attrs)
    return counts.loc[kept], gene_report, sample_report


def stage_settings(cfg: dict, sheet: dict, globin_path, chry_path) -> QCSettings:
    """`run_expression_qc`'s settings from config's `expression_qc` and `samples` blocks (as
    the schema fills them) and the two gene lists (resources/globin_genes.txt,
    resources/chrY_genes.txt)."""
    prep = cfg["single_prep"]
    xist = read_gene_list(chry_path, role="female")
    if len(xist) != 1:
        raise InputError("expected exactly one gene with role 'female' (XIST)", path=chry_path)
    return QCSettings(
        min_count=cfg["min_count"],
        max_fraction_below=cfg["max_fraction_below"],
        prep_column=sheet["library_column"],
        prep_min_count=prep["min_count"],
        prep_min_fraction=prep["min_fraction"],
        globin_symbols=read_gene_list(globin_path) if cfg["remove_globin"] else [],
        chry_symbols=read_gene_list(chry_path, role="male"),
        xist_symbol=xist[0],
        sex_column=sheet["sex_column"],
        female_value=sheet["female"],
        male_value=sheet["male"],
    )


def fill_inferred_sex(samples: pd.DataFrame, sample_report: pd.DataFrame, sex_column: str,
                      sex_codes: tuple[str, str] = ("female", "male")) -> pd.DataFrame:
    """The sample sheet with unknown sex (column absent or cell empty) filled in from the
    expression-predicted sex, in the sheet's own codes, and a boolean column
    `<sex_column>_inferred` saying which values were inferred. Samples whose sex cannot be
    predicted either stay unknown."""
    out = samples.copy()
    if sex_column not in out.columns:
        out[sex_column] = np.nan
    predicted = sample_report.set_index("sample_id")["predicted_sex"].reindex(out.index)
    codes = {"female": sex_codes[0], "male": sex_codes[1]}
    unknown = out[sex_column].isna() & predicted.notna()
    out[sex_column] = out[sex_column].astype(object)
    out.loc[unknown, sex_column] = predicted[unknown].map(codes)
    out[f"{sex_column}_inferred"] = unknown
    if unknown.any():
        log.warning("sex inferred from XIST/chrY expression for %d of %d samples (the sheet "
                    "had none); column %s_inferred marks them", int(unknown.sum()), len(out),
                    sex_column)
    still = out[sex_column].isna()
    if still.any():
        log.warning("sex unknown for %d samples (first: %s)", int(still.sum()),
                    out.index[still][0])
    return out


def kept_samples(sample_report: pd.DataFrame, drop_sex_mismatches: bool = True) -> pd.Index:
    """Sample ids that go on to later stages: all, or all but the sex-check mismatches."""
    ids = pd.Index(sample_report["sample_id"])
    if not drop_sex_mismatches:
        return ids
    return ids[~sample_report["mismatch"].to_numpy(dtype=bool)]
