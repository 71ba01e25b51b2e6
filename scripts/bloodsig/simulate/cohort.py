"""Cohort biology and counts: the planted effects and the negative-binomial count model.

`make_biology` draws what every cohort of the demo shares (per-gene abundance, dispersion,
library-preparation effects, co-expression modules, planted case-control, subgroup and survival
effects). `simulate_cohort` draws patients and samples from it and returns their counts.

Log-mean of gene g in sample j (natural log, before scaling to the library size):

    log mu_gj = base_g + log(sum_k p_jk S_gk) + lambda_g * f_m(g),i(j) + ln2 * sub_g,s(j)
                + prep_g,l(j) + batch_g,b(j) + sex_g,j + age_g * (age_j - 60)
                + sd_surv * z_g,i(j) + e_g,i(j) + globin_j + ln2 * prog_g * a_i(j) + o_gj

with i(j) the patient of sample j (repeat samples share e, z and the module factors f). The
case-control differences come from composition (p) and from co-expression modules
(`simulate.modules`: f has a case shift in disease modules), as in real blood, where they
are programmes of many genes rather than independent gene effects. a_i is minus the
standardised ALSFRS-R of case i (0 for controls) and prog_g is non-zero for the progression
genes only; o_gj is the extra noise of the few outlier samples. Counts are gamma-Poisson
(negative binomial) with dispersion phi_g = (bcv_g / 2)^2 about mu, and a few dropouts (zeros)
among weakly expressed genes; e_g,i ~ N(0, 0.85 bcv_g) carries most of the biological
variation outside modules, so the total biological CV is about bcv_g, which falls from about
0.5 for rare transcripts to 0.2 for abundant ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import cells
from .clinical import CLINICAL_COLUMNS, simulate_clinical
from .modules import DISEASE_GENE_SHARE, Modules, make_modules

LN2 = np.log(2.0)
LIBRARY_TYPES = ("polyA", "rRNA_depletion")
SUBGROUPS = ("inflammatory", "non_inflammatory")
SUBGROUP_UP_LOG2FC = 1.0  # a subgroup's own module, relative to controls
INFLAMMATORY_FRACTION = 0.45  # of cases
SURVIVAL_SD = 0.5  # sd (natural log) of a survival gene's patient-level expression
PROGRESSION_LOG2FC_PER_SD = 0.10  # progression genes: log2 change per sd of lower ALSFRS-R
PROGNOSIS_LOG_HR = 0.9  # log hazard ratio per sd of the latent prognosis (`simulate.modules`)
OUTLIER_SHARE = 0.01  # samples with extra noise on every gene (e.g. degraded RNA) ...
OUTLIER_SD = 0.4  # ... of this sd (natural log)
NEUTROPHIL_UP_SHARE = 0.6  # of the composition-mediated genes: neutrophil-enriched (higher in
                           # cases); the others lymphocyte-enriched
DROPOUT_MAX = 0.05  # chance of a zero count, falling as 1 / (1 + (mu / 2)^2) with the mean mu
SAMPLE_COLUMNS = ("sample_id", "patient_id", "group", "sex", "age", "gPC1", "gPC2", "gPC3",
                  "gPC4", "batch", "library_type", *CLINICAL_COLUMNS)


@dataclass(frozen=True)
class Biology:
    """Per-gene parameters shared by all cohorts (arrays aligned with `genes`)."""

    genes: pd.DataFrame
    log2_base: np.ndarray  # log2 abundance (about log2 CPM) at the control-mean composition
    bcv: np.ndarray  # biological coefficient of variation
    prep_effect: np.ndarray  # (n_genes, 2): natural-log effect of each library type
    profile: np.ndarray  # (n_genes, 6): relative expression per cell type
    direct_log2fc: np.ndarray  # case vs control through the modules (0 elsewhere)
    planted_log2fc: np.ndarray  # direct effect, or the expected composition effect
    mechanism: np.ndarray  # "direct", "cell_mediated" or ""
    subgroup_module: np.ndarray  # index into SUBGROUPS of the module a gene is in, else -1
    survival_rows: np.ndarray  # row indices of the survival genes
    survival_log_hr: np.ndarray  # log hazard ratio per sd of each survival gene's expression
    age_effect: np.ndarray  # natural log per year of age
    modules: Modules  # co-expression modules (disease, null; some carry the prognosis)
    # Genes whose expression among cases follows ALSFRS-R (a pathway for preranked GSEA):
    # PROGRESSION_LOG2FC_PER_SD per sd of ALSFRS-R below the cases' mean. Set by write_demo.
    progression_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    @property
    def de_rows(self) -> np.ndarray:
        return np.flatnonzero(self.mechanism != "")


def _base_abundance(genes: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """log2 abundance by role: globins dominate, a quarter of genes are barely expressed."""
    n = len(genes)
    role = genes["role"].to_numpy()
    expressed = rng.random(n) < 0.75
    base = np.where(expressed, rng.normal(2.5, 2.3, n), rng.normal(-4.0, 1.5, n))
    base[genes["gene_type"].to_numpy() == "miRNA"] = rng.normal(-1.0, 2.0, (genes[
        "gene_type"] == "miRNA").sum())
    globin_level = {"HBB": 17.5, "HBA2": 17.0, "HBA1": 16.5, "HBD": 12.0, "HBM": 10.0,
                    "HBG1": 9.0, "HBG2": 9.5, "HBQ1": 9.0, "HBAP1": 8.0, "HBBP1": 6.0,
                    "HBZ": 5.0, "HBE1": 4.0, "HBZP1": 4.0}
    is_globin = role == "globin"
    base[is_globin] = genes.loc[is_globin, "gene_name"].map(globin_level).to_numpy()
    base[role == "xist"] = 7.0
    base[role == "chrY"] = rng.uniform(3.5, 7.0, (role == "chrY").sum())
    base[role == "mt"] = rng.uniform(11.0, 13.0, (role == "mt").sum())
    is_marker = np.char.startswith(role.astype(str), "marker:")
    base[is_marker] = rng.uniform(5.0, 10.0, is_marker.sum())
    for group in SUBGROUPS:
        base[role == group] = rng.uniform(1.5, 6.0, (role == group).sum())
    return base


def make_biology(genes: pd.DataFrame, rng: np.random.Generator,
                 cell_mediated_share: float = 0.0125, n_survival_genes: int = 10) -> Biology:
    """Draw the shared per-gene parameters and plant the effects."""
    n = len(genes)
    role = genes["role"].to_numpy()
    gtype = genes["gene_type"].to_numpy()
    base = _base_abundance(genes, rng)
    bcv = (0.18 + 0.32 / (1 + np.exp((base - 2.0) / 1.5))) * np.exp(rng.normal(0, 0.15, n))

    # Library preparation: broad gene-specific differences, non-polyadenylated transcripts
    # (miRNA precursors, some lncRNAs) nearly absent from polyA libraries, a few coding genes
    # nearly absent after rRNA depletion, and globin depletion in the rRNA protocol.
    background = role == "background"
    prep = np.zeros((n, 2))
    prep[:, 1] = rng.normal(0, 0.5, n) * np.where(background, 1.0, 0.3)
    no_polya = background & ((gtype == "miRNA") | ((gtype == "lncRNA") & (rng.random(n) < 0.15)))
    no_rrna = background & (gtype == "protein_coding") & (rng.random(n) < 0.01)
    prep[no_polya, 0] = -4.5
    prep[no_rrna, 1] = -4.5
    prep[role == "globin", 1] = -1.5

    # Planted case-control genes, drawn from expressed background genes of both preps:
    # composition-mediated genes, then the genes of disease and null co-expression modules.
    candidates = np.flatnonzero(background & ~no_polya & ~no_rrna & (base > 0))
    pick = rng.permutation(candidates)
    n_cell = int(round(cell_mediated_share * n))
    cell_rows, pool = pick[:n_cell], pick[n_cell:]
    n_disease = int(round(DISEASE_GENE_SHARE * n))
    modules = make_modules(n, pool[:n_disease], pool[n_disease:], rng)
    rest = pool[np.flatnonzero(modules.module[pool] < 0)]
    # Survival genes are well expressed, so a per-gene screen can find them.
    survival_rows = np.sort(rest[base[rest] > 4][:n_survival_genes])
    age_rows = np.setdiff1d(rest, survival_rows)[: n // 50]

    direct = modules.expected_log2fc()
    mechanism = np.full(n, "", dtype=object)
    mechanism[direct != 0] = "direct"
    mechanism[cell_rows] = "cell_mediated"

    profile = cells.marker_profiles(role, rng)
    half = int(round(NEUTROPHIL_UP_SHARE * len(cell_rows)))
    profile[cell_rows[:half]] = cells.composition_profiles(half, up=True, rng=rng)
    profile[cell_rows[half:]] = cells.composition_profiles(len(cell_rows) - half, up=False,
                                                           rng=rng)
    # Markers, too, differ between groups through composition: they are cell-mediated DEGs.
    is_marker = np.char.startswith(role.astype(str), "marker:")
    mechanism[is_marker] = "cell_mediated"
    mediated = mechanism == "cell_mediated"
    planted = direct.copy()
    planted[mediated] = cells.expected_log2fc(profile[mediated])

    module = np.full(n, -1)
    for k, group in enumerate(SUBGROUPS):
        module[role == group] = k

    log_hr = rng.uniform(0.2, 0.35, len(survival_rows)) * np.resize([1, -1], len(survival_rows))
    age_effect = np.zeros(n)
    age_effect[age_rows] = rng.choice([-0.008, 0.008], len(age_rows))
    return Biology(genes=genes, log2_base=base, bcv=bcv, prep_effect=prep, profile=profile,
                   direct_log2fc=direct, planted_log2fc=planted, mechanism=mechanism,
                   subgroup_module=module, survival_rows=survival_rows,
                   survival_log_hr=log_hr, age_effect=age_effect, modules=modules)


@dataclass(frozen=True)
class CohortDesign:
    """How many samples of which kind a cohort has, and how they were sequenced."""

    n_samples: int
    case_fraction: float
    batches: tuple[str, ...]
    batch_library: tuple[str, ...]  # main library type of each batch
    # Share of a batch prepared with the other library type: batches that are not nested in
    # preparations keep `~ batch + library_type` designs of full rank, as in the study.
    other_prep_fraction: float = 0.15
    sample_prefix: str = "S"
    patient_prefix: str = "P"
    id_width: int = 4
    with_repeats: bool = True  # 2-4 patients sequenced 2-3 times
    n_sex_mislabels: int = 6
    median_library_size: float = 20e6


@dataclass(frozen=True)
class Cohort:
    """A simulated cohort: sample sheet, truth and a gene x sample count matrix."""

    samples: pd.DataFrame  # SAMPLE_COLUMNS, sex as recorded
    true_sex: np.ndarray  # "female"/"male" per sample
    subgroup: np.ndarray  # per sample: a SUBGROUPS value for cases, "" for controls
    proportions: np.ndarray  # (n_samples, 6) true cell proportions
    counts: np.ndarray  # (n_genes or len(gene_rows), n_samples) int64
    patients: Patients | None = None  # patient-level draws (for follow-up samples)


@dataclass(frozen=True)
class Patients:
    """The patient-level draws of a cohort, so that more samples of its patients can be drawn
    later (follow-up visits, `simulate.longitudinal`)."""

    is_case: np.ndarray  # per patient
    male: np.ndarray
    age: np.ndarray
    proportions: np.ndarray  # (n_patients, 6) true cell proportions
    subgroup: np.ndarray  # index into SUBGROUPS, -1 for controls
    survival_z: np.ndarray  # (n_survival_genes, n_patients)
    noise: np.ndarray  # (n_genes, n_patients) natural-log patient effect e_g,i
    progression_z: np.ndarray  # per patient: minus the standardised ALSFRS-R (0: controls)
    batch_effect: np.ndarray  # (n_genes, n_batches) natural log
    own_fraction: np.ndarray  # share of the case samples in each subgroup
    clinical: pd.DataFrame  # CLINICAL_COLUMNS per patient
    gpc: np.ndarray  # (n_patients, 4)
    module_factor: np.ndarray  # (n_modules, n_patients): f_ik of `simulate.modules`
    prognosis: np.ndarray  # per patient: the latent prognosis P_i (sd 1)
    log_hazard: np.ndarray  # per patient: the true linear predictor of the survival model


def _subgroup_log2fc(module: np.ndarray, subgroup: np.ndarray,
                     own_fraction: np.ndarray | None = None) -> np.ndarray:
    """Subgroup effects, (n_genes, n_samples): a module is up by SUBGROUP_UP_LOG2FC in its own
    subgroup and down in the other, by as much as keeps the cases' mean equal to the controls'
    (so the modules separate the subgroups but are not case-control DEGs). `own_fraction`: the
    share of case samples in each subgroup (default: among `subgroup` itself)."""
    effect = np.zeros((len(module), len(subgroup)))
    cases = subgroup >= 0
    for k in range(len(SUBGROUPS)):
        own = np.mean(subgroup[cases] == k) if own_fraction is None else own_fraction[k]
        other = -SUBGROUP_UP_LOG2FC * own / (1 - own) if own < 1 else 0.0
        effect[np.ix_(module == k, cases)] = np.where(subgroup[cases] == k,
                                                      SUBGROUP_UP_LOG2FC, other)
    return effect


def _patients_of_samples(design: CohortDesign, rng: np.random.Generator) -> np.ndarray:
    """Patient index of each sample, in sample order; repeats scattered through the order."""
    extra: list[int] = []
    if design.with_repeats:
        n_repeat_patients = int(rng.integers(2, 5))
        extra = [i for i in range(n_repeat_patients) for _ in range(int(rng.integers(1, 3)))]
    n_patients = design.n_samples - len(extra)
    return rng.permutation(np.concatenate([np.arange(n_patients), extra]).astype(np.int64))


def simulate_cohort(bio: Biology, design: CohortDesign, rng: np.random.Generator,
                    gene_rows: np.ndarray | None = None) -> Cohort:
    """Draw patients, samples and counts. `gene_rows` restricts the counts to those genes
    (library sizes then refer to the restricted gene set, as for a targeted read simulation).
    """
    pidx = _patients_of_samples(design, rng)
    n_patients, n = int(pidx.max()) + 1, len(pidx)
    is_case_p = rng.permutation(np.arange(n_patients) < round(design.case_fraction * n_patients))
    male_p = rng.random(n_patients) < np.where(is_case_p, 0.6, 0.5)
    age_p = np.clip(np.round(np.where(is_case_p, rng.normal(62, 10, n_patients),
                                      rng.normal(59, 12, n_patients))), 25, 90)
    gpc_p = np.round(rng.normal(0, 0.02, (n_patients, 4)), 5)
    props_p = cells.sample_proportions(is_case_p, rng)
    sub_p = np.where(is_case_p, np.where(rng.random(n_patients) < INFLAMMATORY_FRACTION, 0, 1),
                     -1)
    z_p = rng.normal(0, 1, (len(bio.survival_rows), n_patients))
    prognosis_p = rng.normal(0, 1, n_patients)
    factor_p = bio.modules.factors(is_case_p, prognosis_p, rng)
    clinical, log_hazard_p = simulate_clinical(is_case_p, male_p, age_p, bio.survival_log_hr
                                               @ z_p + PROGNOSIS_LOG_HR * prognosis_p, rng)

    # Per sample: repeats of a patient differ slightly in composition and in sequencing.
    is_case, male, age = is_case_p[pidx], male_p[pidx], age_p[pidx]
    props = cells.measure(props_p[pidx], 0.05, rng)
    weights = np.where(is_case[:, None], 1.0, 1.0 + 0.25 * np.linspace(-1, 1, len(design.batches)))
    weights /= weights.sum(axis=1, keepdims=True)
    batch_idx = (rng.random(n)[:, None] > np.cumsum(weights, axis=1)).sum(axis=1)
    lib_idx = np.array([LIBRARY_TYPES.index(design.batch_library[b]) for b in batch_idx])
    if len(set(design.batch_library)) > 1:
        flip = rng.random(n) < design.other_prep_fraction
        lib_idx = np.where(flip, 1 - lib_idx, lib_idx)
    lib_size = design.median_library_size * np.exp(rng.normal(0, 0.3, n))

    genes = bio.genes
    rows = np.arange(len(genes)) if gene_rows is None else np.asarray(gene_rows)
    batch_effect = rng.normal(0, 0.12, (len(genes), len(design.batches)))
    strong = rng.random(len(genes)) < 0.05
    batch_effect[strong] *= 4
    noise_p = rng.normal(0, 1, (len(genes), n_patients)) * (0.85 * bio.bcv)[:, None]
    globin_factor = rng.normal(0, 0.35, n)

    subgroup_s = np.where(is_case, sub_p[pidx], -1)
    cases = subgroup_s >= 0
    own = np.array([np.mean(subgroup_s[cases] == k) for k in range(len(SUBGROUPS))])
    alsfrs = clinical["alsfrs_r"].to_numpy(dtype=float, na_value=np.nan)
    prog_z = (np.nan_to_num(-(alsfrs - np.nanmean(alsfrs)) / np.nanstd(alsfrs))
              if is_case_p.sum() > 1 else np.zeros(n_patients))
    patients = Patients(is_case_p, male_p, age_p, props_p, sub_p, z_p, noise_p, prog_z,
                        batch_effect, own, clinical, gpc_p, factor_p, prognosis_p,
                        log_hazard_p)
    log_mu = sample_log_mean(bio, rows, patients, pidx, props, subgroup_s, lib_idx, batch_idx,
                             globin_factor)
    outliers = np.flatnonzero(rng.random(n) < OUTLIER_SHARE)
    log_mu[:, outliers] += rng.normal(0, OUTLIER_SD, (len(rows), len(outliers)))
    counts = draw_counts(bio, rows, log_mu, lib_size, rng)

    width = design.id_width
    true_sex = np.where(male, "male", "female")
    recorded = true_sex.copy()
    singles = np.flatnonzero(np.bincount(pidx)[pidx] == 1)
    flips = rng.choice(singles, size=design.n_sex_mislabels, replace=False)
    recorded[flips] = np.where(male[flips], "female", "male")
    samples = pd.DataFrame({
        "sample_id": [f"{design.sample_prefix}{i + 1:0{width}d}" for i in range(n)],
        "patient_id": [f"{design.patient_prefix}{i + 1:0{width}d}" for i in pidx],
        "group": np.where(is_case, "ALS", "control"),
        "sex": recorded,
        "age": age.astype(np.int64),
        **{f"gPC{k + 1}": gpc_p[pidx, k] for k in range(4)},
        "batch": np.array(design.batches)[batch_idx],
        "library_type": np.array(LIBRARY_TYPES)[lib_idx],
    })
    samples = pd.concat([samples, clinical.iloc[pidx].reset_index(drop=True)], axis=1)
    subgroup = np.where(is_case, np.array([*SUBGROUPS, ""])[np.where(is_case, sub_p[pidx], 2)],
                        "")
    return Cohort(samples=samples[list(SAMPLE_COLUMNS)], true_sex=true_sex, subgroup=subgroup,
                  proportions=props, counts=counts, patients=patients)


def sample_log_mean(bio: Biology, rows: np.ndarray, patients: Patients, pidx: np.ndarray,
                    props: np.ndarray, subgroup: np.ndarray, lib_idx: np.ndarray,
                    batch_idx: np.ndarray, globin_factor: np.ndarray) -> np.ndarray:
    """log mu_gj of the module docstring (before scaling to the library size), genes `rows` x
    samples; pidx: each sample's patient, subgroup: each sample's SUBGROUPS index (-1 for
    controls; a follow-up sample may differ from its patient's first)."""
    male, age = patients.male[pidx], patients.age[pidx]
    role = bio.genes["role"].to_numpy()
    g_role = role[rows]
    log_mu = LN2 * bio.log2_base[rows, None] + np.log(bio.profile[rows] @ props.T)
    module = bio.modules.module[rows]
    inside = np.flatnonzero(module >= 0)
    log_mu[inside] += (bio.modules.loading[rows[inside], None]
                       * patients.module_factor[module[inside]][:, pidx])
    log_mu += LN2 * _subgroup_log2fc(bio.subgroup_module[rows], subgroup, patients.own_fraction)
    log_mu += bio.prep_effect[rows][:, lib_idx] + patients.batch_effect[rows][:, batch_idx]
    log_mu += bio.age_effect[rows, None] * (age - 60)[None, :]
    log_mu += patients.noise[rows][:, pidx]
    # Progression genes rise as ALSFRS-R falls among cases (centred on the cases' mean, so
    # they are no case-control DEGs).
    prog_pos = np.flatnonzero(np.isin(rows, bio.progression_rows))
    if len(prog_pos) and patients.is_case.sum() > 1:
        log_mu[prog_pos] += LN2 * PROGRESSION_LOG2FC_PER_SD * patients.progression_z[pidx][
            None, :]
    log_mu[g_role == "xist"] -= LN2 * 9 * male
    log_mu[g_role == "chrY"] -= LN2 * 12 * ~male
    log_mu[g_role == "globin"] += globin_factor
    surv_pos = np.flatnonzero(np.isin(rows, bio.survival_rows))
    surv_z = np.searchsorted(bio.survival_rows, rows[surv_pos])
    log_mu[surv_pos] += SURVIVAL_SD * patients.survival_z[surv_z][:, pidx]
    return log_mu


def draw_counts(bio: Biology, rows: np.ndarray, log_mu: np.ndarray, lib_size: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Gamma-Poisson counts about exp(log_mu) scaled to `lib_size`, with dropouts of weakly
    expressed genes (log_mu is overwritten)."""
    log_mu -= log_mu.max(axis=0, keepdims=True)
    mu = np.exp(log_mu, out=log_mu)
    mu *= lib_size / mu.sum(axis=0)
    phi = (bio.bcv[rows] / 2)[:, None] ** 2
    counts = rng.poisson(rng.gamma(1.0 / phi, mu * phi))
    counts[rng.random(mu.shape) < DROPOUT_MAX / (1.0 + (mu / 2.0) ** 2)] = 0
    return counts


def counts_table(genes: pd.DataFrame, cohort: Cohort, gene_rows=None) -> pd.DataFrame:
    """gene_id + one integer column per sample."""
    ids = genes["gene_id"].to_numpy() if gene_rows is None else genes["gene_id"].to_numpy()[
        gene_rows]
    df = pd.DataFrame(cohort.counts, columns=cohort.samples["sample_id"].to_list())
    df.insert(0, "gene_id", ids)
    return df
