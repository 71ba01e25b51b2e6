"""Rule subtypes_qpcr: qPCR subgroups over time (the PBMC study's IL1B/IL6 Ct rule) and their
agreement with the RNA-seq clusters."""

from bloodsig.core.cohort import load_annotation, read_samples
from bloodsig.core.errors import InputError
from bloodsig.core.io import read_counts, read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.de import qpcr
from bloodsig.plots import longitudinal as plots
from bloodsig.subtypes import immune as st
from bloodsig.subtypes import longitudinal as lg


def main(smk):
    cfg, sheet = lg.QpcrSettings.from_config(smk.params.settings), smk.params.sheet
    if not smk.input.ct:
        raise InputError("no qPCR time course is configured", column="subtypes.longitudinal.qpcr")
    path = smk.input.ct[0]
    ct = qpcr.read_ct_series(path, sheet["patient_column"], sheet["time_column"])
    calls = qpcr.subgroup_calls(ct, cfg.genes, cfg.max_ct, cfg.min_fraction, path)
    samples = read_samples(smk.input.samples, sheet)
    times = lg.sample_times(samples, sheet["patient_column"], sheet["time_column"],
                            smk.input.samples)
    clusters = read_tsv(smk.input.clusters, dtype={"sample_id": str}).set_index("sample_id")
    counts = read_counts(smk.input.counts)[clusters.index]
    found = st.find_genes(cfg.genes, load_annotation(smk.input.genes), counts.index)
    if found.empty:
        raise InputError("none of the qPCR subgroup genes is among the RNA-seq genes",
                         column="subtypes.longitudinal.qpcr.genes")
    inflammatory = lg.inflammatory_cluster(lg.log_cpm(counts).loc[found.index].T,
                                           clusters["cluster"])
    per_patient, agreement = lg.qpcr_agreement(
        calls, lg.patient_clusters(clusters["cluster"], times), inflammatory)
    treatments = (lg.read_treatments(smk.input.treatments[0], sheet["patient_column"])
                  if smk.input.treatments else lg.no_treatments())
    write_tsv(per_patient, smk.output.subgroups)
    write_tsv(agreement, smk.output.agreement)
    save_figure(plots.qpcr_timecourse(ct, calls, treatments, cfg.genes, cfg.max_ct,
                                      sheet["time_column"].replace("_", " ")),
                smk.output.figure)


run(main, snakemake)  # noqa: F821
