"""Embedded demo cohorts, generated from a seed in seconds and never committed.

`write_demo(outdir, seed)` writes a discovery cohort (count level), an external validation
cohort (read level), gene sets, disease-tissue DEG lists, a drug-signature database and the
truth behind all of them (planted effects), so every stage of the pipeline has data whose
right answer is known. Each part draws from its own random stream spawned from the seed, so
the same seed gives byte-identical files and one part's draws never shift another's.

Layout under outdir (TSV with a header unless noted):

    discovery/  counts.tsv (gene_id + one integer column per sample), genes.tsv, samples.tsv,
                cells_dnam.tsv, cells_flow.tsv (a subset), cell_signature.tsv (markers, linear),
                qpcr_ct.tsv (sample_id, gene, Ct: GAPDH, ACTB and planted DE genes; 40 samples),
                treatments.tsv (patient_id, drug, start, end), qpcr_followup.tsv (patient_id,
                days_from_onset, gene, Ct: a qPCR time course of IL1B and IL6); samples.tsv has
                days_from_onset and ends with the follow-up visits (`simulate.longitudinal`)
    external/   samples.tsv, units.tsv, true_counts.tsv, genome.fa, genes.gtf,
                fastq/{sample_id}_R1.fastq.gz, fastq/{sample_id}_R2.fastq.gz
                (units.tsv names the FASTQ files as outdir/external/fastq/..., i.e. relative
                to the working directory when outdir is relative): the reads stage's cohort
    validation/ counts.tsv, genes.tsv, samples.tsv: the count-matrix validation cohort of the
                classifiers and survival models (most of the discovery's genes)
    genesets/   pathways.gmt, go_bp.gmt, immune_signatures.gmt
    disease_tissue/  tdp43_neurons.tsv (DESeq2 columns), spinal_cord.tsv (logFC, FDR)
    cmap/       signatures.gctx, siginfo.tsv, geneinfo.tsv, compoundinfo.tsv
    truth/      de_genes.tsv, modules.tsv (co-expression modules), survival_risk.tsv (each
                case's true log hazard), sex_mislabels.tsv, survival_genes.tsv, subgroups.tsv,
                subgroup_genes.tsv, cell_proportions.tsv, repeats.tsv, pathways.tsv,
                compounds.tsv, longitudinal.tsv (per sample of a repeated case),
                longitudinal_patients.tsv (follow-up patients: unstable, treated),
                qpcr_subgroups.tsv (qPCR patients' subgroup at most time points), params.yaml

The genes of one case-control decoy of pathways.gmt (PROGRESSION_PATHWAY) rise as ALSFRS-R falls
among cases (truth/params.yaml `progression`): the planted signal of the ALSFRS-R quartile GSEA.

Command line: `python -m bloodsig.simulate OUTDIR [--seed N] [--scale demo|paper] [--no-reads]`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..core.io import atomic_path, write_text, write_tsv
from . import cells, clinical, cohort, external, longitudinal, modules, qpcr
from .cmapdb import make_cmap, write_gctx
from .genes import CELL_TYPES, make_genes
from .genesets import make_genesets
from .tissue import make_tissue_tables

SCALES = {
    "demo": {"n_samples": 400, "n_genes": 12_000},  # + the follow-up visits
    # The reference study's 694 samples: the follow-up visits are among them.
    "paper": {"n_samples": 694, "n_genes": 22_332, "followup_included": True},
}
CASE_FRACTION = 0.6
N_FLOW_SAMPLES = 60
DNAM_LOG_SD = 0.1  # relative error of the methylation-based estimate of each share
FLOW_LOG_SD = 0.03  # flow cytometry is closer to the truth
BATCHES = tuple(f"B{i}" for i in range(1, 7))
BATCH_LIBRARY = ("polyA",) * 3 + ("rRNA_depletion",) * 3
PROGRESSION_PATHWAY = "HALLMARK_INTERFERON_ALPHA_RESPONSE"  # a case-control decoy
QPCR_STREAM = 7  # entropy of the qPCR generator, next to the seed
LONGITUDINAL_STREAM = 8  # entropy of the follow-up generator, next to the seed
_STREAMS = ("genes", "biology", "discovery", "cells", "external", "reads", "genesets",
            "tissue", "cmap", "validation")


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per part of the demo, all spawned from `seed`."""
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(_STREAMS, children, strict=True)}


def write_demo(outdir, seed: int, scale: str = "demo", reads: bool = True) -> None:
    """Write the demo cohorts under `outdir` (layout in the module docstring).

    scale: "demo" (400 samples + 20 follow-up visits x 12,000 genes) or "paper" (694 x 22,332,
    the reference study, follow-up visits included).
    reads: also simulate the external cohort's genome and FASTQ files (the slow part).
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, not '{scale}'")
    outdir = Path(outdir)
    rng = _streams(seed)
    genes = make_genes(SCALES[scale]["n_genes"], rng["genes"])
    bio = cohort.make_biology(genes, rng["biology"])
    # Gene sets come first (their own stream): the members of one decoy pathway follow ALSFRS-R
    # among cases, a planted signal for preranked GSEA of the ALSFRS-R quartile contrast.
    gmts, set_truth = make_genesets(bio, rng["genesets"])
    members = _gmt_members(gmts["pathways.gmt"])[PROGRESSION_PATHWAY]
    bio = dataclasses.replace(bio, progression_rows=np.flatnonzero(
        genes["gene_name"].isin(members).to_numpy()))
    n_samples = SCALES[scale]["n_samples"]
    if SCALES[scale].get("followup_included"):
        n_samples -= longitudinal.N_FOLLOWUP * longitudinal.FOLLOWUP_VISITS
    design = cohort.CohortDesign(n_samples=n_samples,
                                 case_fraction=CASE_FRACTION, batches=BATCHES,
                                 batch_library=BATCH_LIBRARY)
    disc = cohort.simulate_cohort(bio, design, rng["discovery"])
    # Follow-up visits, therapy and the qPCR time course draw from a generator of their own
    # and are appended after the cohort's samples, so every earlier draw is unchanged.
    fu_rng = np.random.default_rng(np.random.SeedSequence([seed, LONGITUDINAL_STREAM]))
    followup = longitudinal.simulate_followup(bio, design, disc, fu_rng)
    full = _with_followup(disc, followup)
    _write_discovery(outdir / "discovery", bio, disc, rng["cells"], full, followup, fu_rng)

    ext, ext_rows = external.simulate_external(bio, rng["external"])
    external.write_external_tables(outdir, bio, ext, ext_rows)
    if reads:
        external.write_external_reads(outdir, bio, ext, ext_rows, rng["reads"])
    val, val_rows = external.simulate_validation(bio, rng["validation"])
    external.write_validation(outdir, bio, val, val_rows)

    for name, text in gmts.items():
        write_text(text, outdir / "genesets" / name)
    for name, table in make_tissue_tables(bio, rng["tissue"]).items():
        write_tsv(table, outdir / "disease_tissue" / name)
    cmap = make_cmap(bio, rng["cmap"])
    _write_cmap(outdir / "cmap", cmap)
    _write_truth(outdir / "truth", seed, scale, bio, full, ext, set_truth, cmap["truth"])
    _write_survival_truth(outdir / "truth", bio, {"discovery": (full, design.patient_prefix),
                                                  "validation": (val, "VP")})
    _write_longitudinal_truth(outdir / "truth", followup)
    # qPCR draws from a generator of its own (not one of _STREAMS), so adding it left every
    # other file's draws unchanged.
    qpcr_rng = np.random.default_rng(np.random.SeedSequence([seed, QPCR_STREAM]))
    de = bio.de_rows
    de_genes = pd.DataFrame({"gene_name": bio.genes["gene_name"].to_numpy()[de],
                             "logFC": bio.planted_log2fc[de], "mechanism": bio.mechanism[de]})
    write_tsv(qpcr.simulate_qpcr(disc.samples, de_genes, qpcr_rng),
              outdir / "discovery" / "qpcr_ct.tsv")


def _gmt_members(text: str) -> dict[str, list[str]]:
    return {f[0]: f[2:] for f in (line.split("\t") for line in text.splitlines())}


def _with_followup(disc: cohort.Cohort, followup: longitudinal.FollowUp) -> cohort.Cohort:
    """The cohort with its follow-up samples appended (and their times in the sheet)."""
    samples = disc.samples.assign(**{longitudinal.TIME_COLUMN: pd.array(
        followup.days, dtype="Float64").astype("Int64")})
    new = followup.samples.astype({longitudinal.TIME_COLUMN: "Int64"})
    return dataclasses.replace(
        disc, samples=pd.concat([samples, new], ignore_index=True),
        true_sex=np.concatenate([disc.true_sex, new["sex"].to_numpy()]),
        subgroup=np.concatenate([disc.subgroup, followup.subgroup]),
        proportions=np.vstack([disc.proportions, followup.proportions]),
        counts=np.hstack([disc.counts, followup.counts]))


def _write_discovery(path: Path, bio: cohort.Biology, disc: cohort.Cohort,
                     rng: np.random.Generator, full: cohort.Cohort,
                     followup: longitudinal.FollowUp, fu_rng: np.random.Generator) -> None:
    genes = bio.genes
    write_tsv(cohort.counts_table(genes, full), path / "counts.tsv")
    write_tsv(genes[["gene_id", "gene_name", "gene_type", "chromosome", "length"]],
              path / "genes.tsv")
    write_tsv(full.samples, path / "samples.tsv")
    ids = disc.samples["sample_id"]
    dnam = cells.measure(disc.proportions, DNAM_LOG_SD, rng)
    dnam_new = cells.measure(followup.proportions, DNAM_LOG_SD, fu_rng)
    write_tsv(cells.proportions_table(full.samples["sample_id"], np.vstack([dnam, dnam_new])),
              path / "cells_dnam.tsv")
    write_tsv(followup.treatments, path / "treatments.tsv")
    write_tsv(followup.qpcr, path / "qpcr_followup.tsv")
    flow = np.sort(rng.choice(len(ids), N_FLOW_SAMPLES, replace=False))
    write_tsv(cells.proportions_table(ids.iloc[flow], cells.measure(
        disc.proportions[flow], FLOW_LOG_SD, rng)), path / "cells_flow.tsv")
    # Deconvolution reference: each marker's expression (CPM-like) in each pure cell type.
    markers = np.flatnonzero(genes["role"].str.startswith("marker:").to_numpy())
    signature = pd.DataFrame(np.round(2.0 ** bio.log2_base[markers, None]
                                      * bio.profile[markers], 3), columns=list(CELL_TYPES))
    signature.insert(0, "gene_name", genes["gene_name"].to_numpy()[markers])
    signature.insert(0, "gene_id", genes["gene_id"].to_numpy()[markers])
    write_tsv(signature, path / "cell_signature.tsv")


def _write_cmap(path: Path, cmap: dict) -> None:
    siginfo, geneinfo = cmap["siginfo"], cmap["geneinfo"]
    write_gctx(path / "signatures.gctx", cmap["matrix"], geneinfo["gene_id"], siginfo["sig_id"],
               col_meta=siginfo.drop(columns="sig_id"),
               row_meta=geneinfo[["gene_symbol"]].rename(columns={"gene_symbol": "pr_gene_symbol"}))
    write_tsv(siginfo, path / "siginfo.tsv")
    write_tsv(geneinfo, path / "geneinfo.tsv")
    write_tsv(cmap["compoundinfo"], path / "compoundinfo.tsv")


def _write_truth(path: Path, seed: int, scale: str, bio: cohort.Biology, disc: cohort.Cohort,
                 ext: cohort.Cohort, set_truth: pd.DataFrame, compounds: pd.DataFrame) -> None:
    genes = bio.genes
    de = bio.de_rows
    write_tsv(pd.DataFrame({"gene_id": genes["gene_id"].to_numpy()[de],
                            "gene_name": genes["gene_name"].to_numpy()[de],
                            "logFC": np.round(bio.planted_log2fc[de], 6),
                            "mechanism": bio.mechanism[de]}), path / "de_genes.tsv")
    samples = disc.samples
    wrong = samples["sex"].to_numpy() != disc.true_sex
    write_tsv(pd.DataFrame({"sample_id": samples["sample_id"][wrong],
                            "recorded_sex": samples["sex"][wrong],
                            "true_sex": disc.true_sex[wrong]}), path / "sex_mislabels.tsv")
    surv = bio.survival_rows
    # Hazard per log2 unit of expression: the planted effect is per sd of natural-log latent.
    write_tsv(pd.DataFrame({"gene_id": genes["gene_id"].to_numpy()[surv],
                            "gene_name": genes["gene_name"].to_numpy()[surv],
                            "log_hazard_ratio": np.round(bio.survival_log_hr * cohort.LN2
                                                         / cohort.SURVIVAL_SD, 6)}),
              path / "survival_genes.tsv")
    subgroups = pd.concat([
        pd.DataFrame({"cohort": name, "sample_id": c.samples["sample_id"],
                      "subgroup": c.subgroup})[c.subgroup != ""]
        for name, c in (("discovery", disc), ("external", ext))])
    write_tsv(subgroups, path / "subgroups.tsv")
    role = genes["role"].to_numpy()
    sub_rows = np.flatnonzero(np.isin(role, cohort.SUBGROUPS))
    write_tsv(pd.DataFrame({"gene_id": genes["gene_id"].to_numpy()[sub_rows],
                            "gene_name": genes["gene_name"].to_numpy()[sub_rows],
                            "subgroup": role[sub_rows]}), path / "subgroup_genes.tsv")
    repeated = samples["patient_id"].duplicated(keep=False)
    write_tsv(samples.loc[repeated, ["sample_id", "patient_id"]], path / "repeats.tsv")
    write_tsv(cells.proportions_table(samples["sample_id"], disc.proportions),
              path / "cell_proportions.tsv")
    write_tsv(set_truth, path / "pathways.tsv")
    write_tsv(compounds, path / "compounds.tsv")
    params = {
        "seed": int(seed), "scale": scale,
        "n_samples": len(samples), "n_genes": len(genes),
        "case_fraction": CASE_FRACTION,
        "de_genes": {"direct": int((bio.mechanism == "direct").sum()),
                     "cell_mediated": int((bio.mechanism == "cell_mediated").sum()),
                     "note": "direct = genes of the disease co-expression modules (their "
                             "logFC is loading x case shift / ln 2); cell_mediated = through "
                             "composition"},
        "modules": {"disease_modules": modules.DISEASE_MODULES,
                    "disease_gene_share": modules.DISEASE_GENE_SHARE,
                    "null_gene_share": modules.NULL_GENE_SHARE,
                    "case_shift_range": list(modules.SHIFT),
                    "loading_range": list(modules.LOADING),
                    "null_loading_range": list(modules.NULL_LOADING),
                    "prognostic_share": modules.PROGNOSTIC_SHARE,
                    "prognosis_coupling_range": list(modules.COUPLING),
                    "prognosis_log_hr_per_sd": cohort.PROGNOSIS_LOG_HR,
                    "outlier_share": cohort.OUTLIER_SHARE, "outlier_sd": cohort.OUTLIER_SD,
                    "dropout_max": cohort.DROPOUT_MAX},
        "cell_proportions": {"cell_types": list(CELL_TYPES),
                             "control_mean": cells.CONTROL_MEAN.tolist(),
                             "case_mean": cells.CASE_MEAN.tolist(),
                             "dirichlet_concentration": cells.CONCENTRATION,
                             "dnam_log_sd": DNAM_LOG_SD, "flow_log_sd": FLOW_LOG_SD,
                             "n_flow_samples": N_FLOW_SAMPLES},
        "survival": {"log_hr_bulbar": clinical.LOG_HR_BULBAR,
                     "log_hr_onset_age_per_10y": clinical.LOG_HR_ONSET_AGE_PER_10Y,
                     "log_hr_male": clinical.LOG_HR_MALE,
                     "alsfrs_decline_bulbar": clinical.DECLINE_BULBAR,
                     "alsfrs_decline_onset_age_per_10y": clinical.DECLINE_ONSET_AGE_PER_10Y,
                     "alsfrs_log_decline_per_unit": clinical.DECLINE_SPREAD,
                     "median_months": clinical.MEDIAN_SURVIVAL_MONTHS,
                     "weibull_shape": clinical.WEIBULL_SHAPE,
                     "censored_fraction": clinical.CENSORED_FRACTION,
                     "gene_log_hr_unit": "per log2 unit of expression"},
        "subgroups": {"inflammatory_fraction": cohort.INFLAMMATORY_FRACTION,
                      "log2fc_own_module": cohort.SUBGROUP_UP_LOG2FC,
                      "log2fc_other_module": "negative, so that the cases' mean equals the "
                                             "controls'"},
        "progression": {"pathway": PROGRESSION_PATHWAY, "collection": "pathways",
                        "n_genes": len(bio.progression_rows),
                        "log2fc_per_sd_lower_alsfrs_r": cohort.PROGRESSION_LOG2FC_PER_SD,
                        "note": "cases only, centred on the cases' mean ALSFRS-R; expression "
                                "rises as ALSFRS-R falls (positive NES for low vs high)"},
        "longitudinal": {
            "time_column": longitudinal.TIME_COLUMN,
            "followup_patients": longitudinal.N_FOLLOWUP,
            "visits_per_patient": longitudinal.FOLLOWUP_VISITS + 1,
            "visit_days": list(longitudinal.VISIT_DAYS),
            "visit_sd_fraction": longitudinal.VISIT_SD_FRACTION,
            "unstable_patients": 2,
            "drug": longitudinal.DRUG,
            "treated_patients": dict(longitudinal.TREATED),
            "treatment_genes": list(longitudinal.TREATMENT_GENES),
            "treatment_log2fc_inflammatory": longitudinal.TREATMENT_LOG2FC,
            "qpcr_genes": list(qpcr.SERIES_GENES),
            "qpcr_threshold_ct": qpcr.SERIES_MIDPOINT_CT,
            "qpcr_only_patients": longitudinal.N_QPCR_ONLY,
            "note": "follow-up samples follow the cohort's own in samples.tsv; truth in "
                    "longitudinal.tsv, longitudinal_patients.tsv, qpcr_subgroups.tsv"},
        "sex_mislabels": int(wrong.sum()),
        "batches": dict(zip(BATCHES, BATCH_LIBRARY, strict=True)),
        "external": {"n_samples": len(ext.samples), "n_genes": int(ext.counts.shape[0]),
                     "fragments_per_sample_median": external.FRAGMENTS_PER_SAMPLE},
        "validation": {"n_samples": external.VALIDATION_SAMPLES,
                       "gene_share": external.VALIDATION_GENE_SHARE},
    }
    with atomic_path(path / "params.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(params, sort_keys=False))


def _write_survival_truth(path: Path, bio: cohort.Biology, cohorts: dict) -> None:
    """modules.tsv (each module gene's module, loading, the module's case shift and its share
    of the latent prognosis) and survival_risk.tsv (cohort, sample_id, log_hazard: the true
    linear predictor of each case's survival, for the C-index of the true risk)."""
    genes, mods = bio.genes, bio.modules
    inside = np.flatnonzero(mods.module >= 0)
    write_tsv(pd.DataFrame({
        "gene_id": genes["gene_id"].to_numpy()[inside],
        "module": [f"M{k + 1}" for k in mods.module[inside]],
        "loading": np.round(mods.loading[inside], 6),
        "case_shift": np.round(mods.shift[mods.module[inside]], 6),
        "prognosis_coupling": np.round(mods.coupling[mods.module[inside]], 6)}),
        path / "modules.tsv")
    rows = []
    for name, (c, prefix) in cohorts.items():
        cases = c.samples[c.samples["group"] == "ALS"]
        pidx = cases["patient_id"].str[len(prefix):].astype(int).to_numpy() - 1
        rows.append(pd.DataFrame({"cohort": name, "sample_id": cases["sample_id"].to_numpy(),
                                  "log_hazard": np.round(c.patients.log_hazard[pidx], 6)}))
    write_tsv(pd.concat(rows, ignore_index=True), path / "survival_risk.tsv")


def _write_longitudinal_truth(path: Path, followup: longitudinal.FollowUp) -> None:
    write_tsv(followup.visits, path / "longitudinal.tsv")
    write_tsv(followup.patients, path / "longitudinal_patients.tsv")
    write_tsv(followup.qpcr_truth, path / "qpcr_subgroups.tsv")
