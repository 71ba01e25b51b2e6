"""qPCR validation of RNA-seq DEGs by the comparative Ct method (Livak & Schmittgen 2001).

For each sample, delta-Ct of a target = Ct(target) - mean Ct(reference genes) (the mean of
Cts is the log2 of the references' geometric mean expression, Vandesompele et al. 2002).
delta-delta-Ct = mean delta-Ct(cases) - mean delta-Ct(controls); the fold change is
2^-ddCt, i.e. log2FC = -ddCt, comparable with RNA-seq's logFC. The test is Welch's two-sample
t-test of the delta-Ct values (two-sided). Wells without a Ct (undetermined) are left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..core.errors import InputError

COLUMNS = ["gene", "n_case", "n_control", "dct_case", "dct_control", "ddct", "log2FC",
           "fold_change", "ci_low", "ci_high", "t", "P.Value"]


def _parse_ct(df: pd.DataFrame, path) -> pd.Series:
    """The Ct column as numbers (NaN = not detected: empty, 'Undetermined', NA)."""
    raw = df["Ct"].str.strip()
    missing = raw.isna() | raw.str.lower().isin(["", "undetermined", "na", "nan"])
    ct = pd.to_numeric(raw.where(~missing), errors="coerce")
    bad = ct.isna() & ~missing | (ct <= 0) | (ct > 50)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"Ct '{df['Ct'].iloc[i]}' is not a number in (0, 50]", path=path,
                         row=i + 2, column="Ct")
    return ct


def read_ct(path) -> pd.DataFrame:
    """A Ct table (sample_id, gene, Ct); empty or 'Undetermined' Ct means not detected."""
    from ..core.io import read_tsv

    df = read_tsv(path, required=["sample_id", "gene", "Ct"], what="Ct table",
                  dtype={"sample_id": str, "gene": str, "Ct": str})
    ct = _parse_ct(df, path)
    dup = df.duplicated(["sample_id", "gene"])
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        raise InputError(f"sample '{df['sample_id'].iloc[i]}' has gene '{df['gene'].iloc[i]}' "
                         "twice (average technical replicates first)", path=path, row=i + 2)
    return df.assign(Ct=ct)


def read_ct_series(path, patient_column: str = "patient_id",
                   time_column: str = "days_from_onset") -> pd.DataFrame:
    """A qPCR time course (patient_column, time_column, gene, Ct; one row per gene and time
    point of a patient), returned with the columns patient_id, time, gene, Ct."""
    from ..core.io import read_tsv

    df = read_tsv(path, required=[patient_column, time_column, "gene", "Ct"],
                  what="qPCR time course", dtype={patient_column: str, "gene": str, "Ct": str})
    ct = _parse_ct(df, path)
    time = pd.to_numeric(df[time_column], errors="coerce")
    if time.isna().any():
        i = int(time.isna().to_numpy().nonzero()[0][0])
        raise InputError(f"time '{df[time_column].iloc[i]}' is not a number", path=path,
                         row=i + 2, column=time_column)
    out = pd.DataFrame({"patient_id": df[patient_column].to_numpy(), "time": time.to_numpy(),
                        "gene": df["gene"].to_numpy(), "Ct": ct.to_numpy()})
    dup = out.duplicated(["patient_id", "time", "gene"])
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        raise InputError(f"patient '{out['patient_id'].iloc[i]}' has gene "
                         f"'{out['gene'].iloc[i]}' twice at time {out['time'].iloc[i]:g} "
                         "(average technical replicates first)", path=path, row=i + 2)
    return out


def relative_series(ct: pd.DataFrame, reference_genes: list[str], path=None) -> pd.DataFrame:
    """Relative expression over time by the comparative Ct method: per time point,
    delta-Ct = Ct(gene) - mean Ct(reference genes); the calibrator is the gene's mean delta-Ct
    over the whole table, so log2_relative = -(delta-Ct - mean delta-Ct) (2^-ddCt on the log2
    scale: 0 = the table's average level, +1 = twice it). Long table: patient_id, time, gene,
    Ct, delta_ct, log2_relative (targets only; undetermined wells left out)."""
    wide = ct.pivot(index=["patient_id", "time"], columns="gene", values="Ct")
    absent = [g for g in reference_genes if g not in wide.columns]
    if absent:
        raise InputError(f"reference gene '{absent[0]}' has no Ct", path=path, column="gene")
    dct = wide.drop(columns=reference_genes).sub(wide[reference_genes].mean(axis=1), axis=0)
    rel = -(dct - dct.mean())
    out = (wide.drop(columns=reference_genes).stack().rename("Ct").to_frame()
           .join(dct.stack().rename("delta_ct")).join(rel.stack().rename("log2_relative")))
    return out.reset_index().sort_values(["patient_id", "time", "gene"], kind="stable",
                                         ignore_index=True)


def subgroup_calls(ct: pd.DataFrame, genes: list[str], max_ct: float = 24.0,
                   min_fraction: float = 0.5, path=None) -> pd.DataFrame:
    """qPCR subgroups as the PBMC sALS study assigned them: a time point is "high" when every
    one of `genes` has Ct < max_ct (undetermined = not high); a patient is "inflammatory" when
    more than `min_fraction` of its time points are high, else "non_inflammatory". Time points
    without a well of every gene are left out. One row per patient: patient_id,
    n_timepoints, n_high, fraction_high, qpcr_subgroup."""
    absent = [g for g in genes if g not in set(ct["gene"])]
    if absent:
        raise InputError(f"subgroup gene '{absent[0]}' has no Ct in the qPCR time course",
                         path=path, column="gene")
    wide = ct[ct["gene"].isin(genes)].pivot(index=["patient_id", "time"], columns="gene",
                                            values="Ct")
    measured = wide.index[ct[ct["gene"].isin(genes)].groupby(["patient_id", "time"])["gene"]
                          .nunique().reindex(wide.index).to_numpy() == len(genes)]
    wide = wide.loc[measured]
    high = (wide[genes] < max_ct).all(axis=1)  # NaN (undetermined) compares False
    per = high.groupby(level="patient_id").agg(n_timepoints="size", n_high="sum")
    per["fraction_high"] = per["n_high"] / per["n_timepoints"]
    per["qpcr_subgroup"] = np.where(per["fraction_high"] > min_fraction, "inflammatory",
                                    "non_inflammatory")
    return per.reset_index()


def delta_delta_ct(ct: pd.DataFrame, groups: pd.Series, case: str, control: str,
                   reference_genes: list[str], path=None) -> pd.DataFrame:
    """Fold changes of cases vs controls per target gene (COLUMNS; 95% CI of log2FC by Welch).

    ct: long table (sample_id, gene, Ct); groups: group label indexed by sample id.
    """
    wide = ct.pivot(index="sample_id", columns="gene", values="Ct")
    absent = [g for g in reference_genes if g not in wide.columns]
    if absent:
        raise InputError(f"reference gene '{absent[0]}' has no Ct", path=path, column="gene")
    unknown = wide.index.difference(groups.index)
    if len(unknown):
        raise InputError(f"sample '{unknown[0]}' is not in the sample sheet", path=path,
                         column="sample_id")
    dct = wide.drop(columns=reference_genes).sub(wide[reference_genes].mean(axis=1), axis=0)
    group = groups.reindex(dct.index)
    a, b = dct[group.eq(case).to_numpy()], dct[group.eq(control).to_numpy()]
    if len(a) < 2 or len(b) < 2:
        raise InputError("the Ct table needs at least two cases and two controls", path=path)
    res = stats.ttest_ind(a, b, equal_var=False, nan_policy="omit", axis=0)
    na, nb = a.notna().sum(), b.notna().sum()
    va, vb = a.var(ddof=1) / na, b.var(ddof=1) / nb
    dof = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
    ddct = a.mean() - b.mean()
    half = stats.t.ppf(0.975, dof) * np.sqrt(va + vb)
    out = pd.DataFrame({"gene": dct.columns, "n_case": na.to_numpy(), "n_control": nb.to_numpy(),
                        "dct_case": a.mean().to_numpy(), "dct_control": b.mean().to_numpy(),
                        "ddct": ddct.to_numpy(), "log2FC": -ddct.to_numpy(),
                        "fold_change": 2.0 ** -ddct.to_numpy(),
                        "ci_low": (-ddct - half).to_numpy(), "ci_high": (-ddct + half).to_numpy(),
                        "t": -np.asarray(res.statistic), "P.Value": np.asarray(res.pvalue)})
    return out[COLUMNS].reset_index(drop=True)


def with_rnaseq(qpcr: pd.DataFrame, toptable: pd.DataFrame) -> pd.DataFrame:
    """qPCR fold changes beside the RNA-seq logFC and adj.P.Val of the same gene (by name)."""
    rna = (toptable[["gene_name", "gene_id", "logFC", "adj.P.Val"]]
           .drop_duplicates("gene_name")
           .rename(columns={"gene_name": "gene", "logFC": "rnaseq_logFC",
                            "adj.P.Val": "rnaseq_adj.P.Val"}))
    return qpcr.merge(rna, on="gene", how="left")
