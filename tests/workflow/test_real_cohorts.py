"""Real cohorts as users bring them, run through Snakemake with a minimal config.

GSE127530 (../shared/data/real_blood/, 45 whole-blood samples of 5 subjects, symbol-only
counts with an unnamed id column) is run as a user would: a sheet made from the published
phenotype table, a config of a few lines, no annotation, no sex column. The same counts,
written in every accepted count-matrix form, must give the same DE table.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
GSE = "real_blood/GSE127530"

MINIMAL = """\
samples:
  group_column: Time
  case: 6hr
  control: Fast
  other_groups: [3hr]
cohorts:
  gse127530:
    role: discovery
    samples: samples.tsv
    counts: {counts}
de:
  analyses:
    fed:
      subset: {{Time: [Fast, 6hr]}}
      formula: "~ Time + Subject"
      coef: Time6hr
    fed_within:
      subset: {{Time: [Fast, 6hr]}}
      formula: "~ Time"
      coef: Time6hr
      block: Subject
      robust: true
stages: {{enrich: true}}
enrich:
  collections:
    hallmark: {{gmt: {gmt}}}
"""


def snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work),
         "--cores", "2", "--configfile", str(work / "config.yaml"),
         "--replace-workflow-config", *args], capture_output=True, text=True, timeout=900)


def phenotypes(refdata: Path) -> pd.DataFrame:
    return pd.read_csv(refdata / GSE / "phenoData_unblinded.txt", sep="\t")


def test_gse127530_minimal_config(refdata, tmp_path):
    """Fast vs 6hr within subjects, as a user would run it: the published Label ids first
    (R spelled them with '.'), then the count matrix's own spelling."""
    pheno = phenotypes(refdata)
    gmt = refdata / "gene_sets/h.all.v7.0.symbols.gmt"
    (tmp_path / "config.yaml").write_text(MINIMAL.format(
        counts=refdata / GSE / "fixed_combinedCounts.txt.gz", gmt=gmt))
    assert len((tmp_path / "config.yaml").read_text().splitlines()) <= 26
    pheno.rename(columns={"Label": "sample_id"}).to_csv(tmp_path / "samples.tsv", sep="\t",
                                                        index=False)
    first = snakemake(tmp_path)
    assert first.returncode != 0
    error = [line for line in first.stderr.splitlines() if "bloodsig: error:" in line]
    assert len(error) == 1 and "make.names" in error[0] and "S17.D1.3hr_S6" in error[0], error

    pheno.insert(0, "sample_id", pheno["Label"].str.replace(".", "-", regex=False))
    pheno.drop(columns="Label").to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    res = snakemake(tmp_path)
    assert res.returncode == 0, res.stderr[-4000:]
    out = tmp_path / "results/gse127530"
    log = (tmp_path / "logs/gse127530/counts/counts_from_matrix.log").read_text()
    assert "format plain" in log and "gene ids: symbol" in log

    # sex was not recorded: inferred from XIST/chrY, and the same for every sample of a subject
    samples = pd.read_csv(out / "expression_qc/samples.tsv", sep="\t")
    assert samples["sex_inferred"].all()
    per_subject = samples.groupby("Subject")["sex"].nunique()
    assert (per_subject == 1).all() and samples["sex"].nunique() == 2

    # globins found by symbol without an annotation; 25,342 genes filtered to the expressed
    genes = pd.read_csv(out / "expression_qc/gene_report.tsv", sep="\t")
    assert len(genes) == 25342
    assert set(genes.loc[genes["reason"].str.contains("globin", na=False), "gene_name"]) >= {
        "HBB", "HBA1", "HBA2"}

    table = pd.read_csv(out / "de/fed/toptable.tsv", sep="\t")
    assert len(table) == genes["kept"].sum()
    up = pd.read_csv(out / "de/fed/degs_up.tsv", sep="\t")
    down = pd.read_csv(out / "de/fed/degs_down.tsv", sep="\t")
    assert len(up) + len(down) > 20
    # the fasting morning draw has more glucocorticoid-induced TSC22D3 (cortisol peaks early)
    assert table.loc[table["gene_name"] == "TSC22D3", "logFC"].iloc[0] < 0
    confounding = pd.read_csv(out / "de/fed/confounding.tsv", sep="\t")
    assert confounding.set_index("column").loc["Subject", "value"] == pytest.approx(0)
    assert (out / "enrich/fed/ora_hallmark.tsv").exists()

    # the same contrast with Subject as a block (duplicateCorrelation, robust eBayes)
    fit_log = (tmp_path / "logs/gse127530/de/fed_within/de_fit.log").read_text()
    consensus = float(fit_log.split("consensus correlation ")[1].split()[0])
    assert 0.3 < consensus < 0.99  # samples of one subject are alike (0.92 measured)
    within = pd.read_csv(out / "de/fed_within/toptable.tsv", sep="\t").set_index("gene_name")
    fixed = table.set_index("gene_name").loc[within.index]
    degs = pd.concat([up, down])["gene_name"]
    agree = np.sign(within.loc[degs, "logFC"]) == np.sign(fixed.loc[degs, "logFC"])
    assert agree.mean() > 0.9  # (their covariates differ: RNA PCs are chosen per analysis)
    assert within.loc["TSC22D3", "logFC"] < 0 and within.loc["TSC22D3", "P.Value"] < 0.01


def _subset(refdata: Path, n_genes: int = 3000):
    counts = pd.read_csv(refdata / GSE / "fixed_combinedCounts.txt.gz", sep="\t", index_col=0)
    pheno = phenotypes(refdata)
    pheno["sample_id"] = pheno["Label"].str.replace(".", "-", regex=False)
    pheno = pheno[pheno["Time"].isin(["Fast", "6hr"])]
    counts = counts[pheno["sample_id"]]
    keep = counts.index[(counts >= 10).all(axis=1)][:n_genes]
    keep = keep.union(pd.Index(["XIST", "RPS4Y1", "DDX3Y", "HBB"])).intersection(counts.index)
    return counts.loc[keep], pheno


def _write_forms(counts: pd.DataFrame, folder: Path) -> dict[str, dict]:
    """The same counts in every accepted form: {name: cohort entry}."""
    folder.mkdir()
    n = len(counts)
    ensembl = [f"ENSG{i:011d}" for i in range(1, n + 1)]
    entrez = [str(100000 + i) for i in range(n)]
    symbols = list(counts.index)
    values = counts.to_numpy()
    samples = list(counts.columns)
    forms = {}

    counts.rename_axis("").to_csv(folder / "plain.tsv", sep="\t")  # empty header cell
    forms["plain"] = {"counts": "forms/plain.tsv"}

    versioned = pd.DataFrame(values, index=[f"{e}.{i % 7 + 1}" for i, e in enumerate(ensembl)],
                             columns=samples)
    versioned.rename_axis("Geneid").to_csv(folder / "ensembl.tsv", sep="\t")
    pd.DataFrame({"gene_id": ensembl, "gene_name": symbols}).to_csv(
        folder / "annotation.tsv", sep="\t", index=False)
    forms["ensembl_annotation"] = {"counts": "forms/ensembl.tsv",
                                   "annotation": "forms/annotation.tsv"}

    # salmon estimates: within 0.3 of the counts, so rounding gives them back
    jitter = np.random.default_rng(1).uniform(-0.3, 0.3, values.shape)
    salmon = pd.DataFrame(np.where(values > 0, values + jitter, 0.0), columns=samples)
    salmon.insert(0, "gene_name", symbols)
    salmon.insert(0, "gene_id", versioned.index)
    salmon.to_csv(folder / "salmon.merged.gene_counts_length_scaled.tsv", sep="\t",
                  index=False, float_format="%.3f")
    forms["nfcore"] = {"counts": "forms/salmon.merged.gene_counts_length_scaled.tsv"}

    fc = pd.DataFrame({"Geneid": versioned.index, "Chr": "chr1", "Start": 1, "End": 1000,
                       "Strand": "+", "Length": 1000})
    bams = [f"/data/star/{s}.Aligned.sortedByCoord.out.bam" for s in samples]
    fc = pd.concat([fc, pd.DataFrame(values, columns=bams)], axis=1)
    with open(folder / "counts.txt", "w") as fh:
        fh.write('# Program:featureCounts v2.0.3; Command:"featureCounts" "-o" "counts.txt"\n')
        fc.to_csv(fh, sep="\t", index=False)
    forms["featurecounts"] = {"counts": "forms/counts.txt", "annotation": "forms/annotation.tsv"}

    gsm = [f"GSM{7000000 + i}" for i in range(len(samples))]
    geo = pd.DataFrame(values, index=pd.Index(entrez, name="GeneID"), columns=gsm)
    geo.to_csv(folder / "GSE1_raw_counts_GRCh38.p13_NCBI.tsv", sep="\t")
    annot = pd.DataFrame({"GeneID": entrez, "Symbol": symbols, "Description": "",
                          "Synonyms": "", "GeneType": "protein-coding", "EnsemblGeneID": ensembl,
                          "Status": "active", "ChrAcc": "NC_000001.11", "ChrStart": 1,
                          "ChrStop": 1000, "Orientation": "plus", "Length": 1000})
    annot.to_csv(folder / "Human.GRCh38.p13.annot.tsv", sep="\t", index=False)
    forms["geo"] = {"counts": "forms/GSE1_raw_counts_GRCh38.p13_NCBI.tsv",
                    "geo_annotation": "forms/Human.GRCh38.p13.annot.tsv", "ids": gsm}
    return forms


def test_every_count_form_gives_the_same_de_table(refdata, tmp_path):
    counts, pheno = _subset(refdata)
    forms = _write_forms(counts, tmp_path / "forms")
    tables = {}
    for name, entry in forms.items():
        ids = entry.pop("ids", list(counts.columns))
        sheet = pheno.assign(sample_id=pheno["sample_id"].map(dict(zip(counts.columns, ids,
                                                                       strict=True))))
        sheet[["sample_id", "Subject", "Time"]].to_csv(tmp_path / "samples.tsv", sep="\t",
                                                       index=False)
        files = "\n".join(f"    {k}: {v}" for k, v in entry.items())
        (tmp_path / "config.yaml").write_text(
            "samples: {group_column: Time, case: 6hr, control: Fast}\n"
            f"cohorts:\n  c:\n    role: discovery\n    samples: samples.tsv\n{files}\n"
            "de:\n  analyses:\n    fed: {formula: '~ Time + Subject', coef: Time6hr}\n")
        res = snakemake(tmp_path, "results/c/de/fed/toptable.tsv", "--forceall")
        assert res.returncode == 0, (name, res.stderr[-3000:])
        log = (tmp_path / "logs/c/counts/counts_from_matrix.log").read_text()
        expected = {"ensembl_annotation": "plain"}.get(name, name)
        assert f"format {expected}" in log, (name, log)
        tables[name] = pd.read_csv(tmp_path / "results/c/de/fed/toptable.tsv", sep="\t"
                                   ).set_index("gene_name")
    reference = tables.pop("plain")
    assert len(reference) > 2000
    for name, table in tables.items():
        assert set(table.index) == set(reference.index), name
        table = table.loc[reference.index]
        for column in ("logFC", "AveExpr", "t", "P.Value", "adj.P.Val", "B"):
            np.testing.assert_allclose(table[column], reference[column], rtol=1e-9,
                                       err_msg=f"{name}: {column}")


def test_minimal_sheet_with_batch_tracking_group_is_reported(refdata, tmp_path):
    """Symbol-only counts, a sheet of id + group + batch, no annotation, no sex: DE runs, sex
    is inferred, and the batch that tracks the group is reported as confounded; with the batch
    in the formula and separating the groups perfectly, the run stops and says what to do."""
    counts, pheno = _subset(refdata)
    counts.to_csv(tmp_path / "counts.tsv", sep="\t")
    batch = np.where(pheno["Time"] == "Fast", "run1", "run2")
    batch[np.flatnonzero(pheno["Time"] == "Fast")[0]] = "run2"  # 14/15 fasting samples on
    # run 1, 15/15 fed ones on run 2
    pd.DataFrame({"sample_id": pheno["sample_id"], "group": pheno["Time"],
                  "batch": batch}).to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    config = ("samples: {case: 6hr, control: Fast}\n"
              "cohorts:\n  c: {role: discovery, samples: samples.tsv, counts: counts.tsv}\n"
              "de:\n  analyses:\n    fed: {formula: '~ group', coef: group6hr}\n")
    (tmp_path / "config.yaml").write_text(config)
    res = snakemake(tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    warned = [line for line in res.stderr.splitlines() if "confounded" in line]
    assert warned and "'batch'" in warned[0], res.stderr[-3000:]
    table = pd.read_csv(tmp_path / "results/c/de/fed/confounding.tsv", sep="\t")
    row = table.set_index("column").loc["batch"]
    assert row["confounded"] and not row["separates"] and row["value"] > 0.9
    assert pd.read_csv(tmp_path / "results/c/expression_qc/samples.tsv", sep="\t"
                       )["sex_inferred"].all()

    pd.DataFrame({"sample_id": pheno["sample_id"], "group": pheno["Time"],
                  "batch": np.where(pheno["Time"] == "Fast", "run1", "run2")}).to_csv(
        tmp_path / "samples.tsv", sep="\t", index=False)
    (tmp_path / "config.yaml").write_text(config.replace("'~ group'", "'~ group + batch'"))
    res = snakemake(tmp_path)
    assert res.returncode != 0
    error = [line for line in res.stderr.splitlines() if "bloodsig: error:" in line]
    assert len(error) == 1 and "separates the levels of 'group' perfectly" in error[0], res.stderr
    assert "Remove 'batch' from the formula" in error[0]
    assert not (tmp_path / "results/c/de/fed/confounding.tsv").exists()


@pytest.mark.parametrize("edit, fragments", [
    (lambda c: c.replace("'~ group'", "'~ group + age'"),
     ["stage de needs column 'age'", "de.analyses.fed.formula", "samples.tsv"]),
    (lambda c: c.replace("counts: counts.tsv", "annotation: genes.tsv"),
     ["config.yaml", "cohorts.c", "needs `counts`"]),
    (lambda c: c.replace("{case: 6hr, control: Fast}", "{case: 6hr}"),
     ["config.yaml", "samples", "'control' is a required property"]),
    (lambda c: c + "  covariates: {n_pcs: many}\n",
     ["config.yaml", "de.covariates.n_pcs", "'many' is none of the accepted forms"]),
])
def test_minimal_config_mistakes_are_named(tmp_path, edit, fragments):
    """A stage that is on names the sheet column it lacks; a bad cohort or key is named."""
    pd.DataFrame({"sample_id": ["A", "B"], "group": ["6hr", "Fast"]}).to_csv(
        tmp_path / "samples.tsv", sep="\t", index=False)
    (tmp_path / "counts.tsv").write_text("\tA\tB\nG1\t1\t2\n")
    (tmp_path / "genes.tsv").write_text("gene_id\nG1\n")
    config = ("samples: {case: 6hr, control: Fast}\n"
              "cohorts:\n  c: {role: discovery, samples: samples.tsv, counts: counts.tsv}\n"
              "de:\n  analyses:\n    fed: {formula: '~ group', coef: group6hr}\n")
    (tmp_path / "config.yaml").write_text(edit(config))
    res = snakemake(tmp_path, "-n")
    assert res.returncode != 0
    error = [line for line in res.stderr.splitlines() if "bloodsig: error:" in line]
    assert len(error) == 1 and all(f in error[0] for f in fragments), res.stderr[-2000:]
    assert "Traceback" not in res.stderr
