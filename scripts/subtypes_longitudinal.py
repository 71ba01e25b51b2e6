"""Rule subtypes_longitudinal: per-patient trajectories over time, subgroup stability and the
markers' change under therapy."""

from bloodsig.core.cohort import load_annotation, read_samples
from bloodsig.core.io import read_counts, read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.de import qpcr
from bloodsig.plots import longitudinal as plots
from bloodsig.subtypes import immune as st
from bloodsig.subtypes import longitudinal as lg


def main(smk):
    cfg = lg.LongitudinalSettings.from_config(smk.params.settings,
                                              reference_genes=smk.params.reference_genes)
    sheet = smk.params.sheet
    samples = read_samples(smk.input.samples, sheet)
    times = lg.sample_times(samples, sheet["patient_column"], sheet["time_column"],
                            smk.input.samples)
    patients = lg.series_patients(times, cfg.min_samples)
    treatments = (lg.read_treatments(smk.input.treatments[0], sheet["patient_column"])
                  if smk.input.treatments else lg.no_treatments())
    clusters = read_tsv(smk.input.clusters, dtype={"sample_id": str}).set_index("sample_id")
    described = read_tsv(smk.input.signatures)
    zscores = read_tsv(smk.input.zscores, dtype={"sample_id": str}).set_index("sample_id")
    counts = read_counts(smk.input.counts)
    markers = st.find_genes(cfg.markers, load_annotation(smk.input.genes), counts.index)
    values = lg.log_cpm(counts).loc[markers.index].T.rename(columns=markers)
    treatment = lg.treatments_at(times["patient_id"], times["time"], treatments)
    traj = lg.trajectories(times, patients, treatment, clusters["cluster"], {
        "signature": lg.signature_trajectories(zscores, described), "marker": values})
    stability = lg.stability(times, clusters["cluster"],
                             described.set_index("cluster")["label"], cfg.min_samples)
    rel = (qpcr.relative_series(qpcr.read_ct_series(smk.input.ct[0], sheet["patient_column"],
                                                    sheet["time_column"]),
                                cfg.reference_genes, smk.input.ct[0])
           if smk.input.ct else None)
    write_tsv(traj, smk.output.trajectories)
    write_tsv(stability, smk.output.stability)
    write_tsv(lg.treatment_effects(values, times, treatments, clusters["cluster"]),
              smk.output.effects)
    rel = rel[rel["patient_id"].isin(patients)] if rel is not None else traj.iloc[:0]
    save_figure(plots.trajectories(traj, rel, treatments, stability,
                                   sheet["time_column"].replace("_", " ")), smk.output.figure)


run(main, snakemake)  # noqa: F821
