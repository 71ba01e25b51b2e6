"""Rule subtypes_transcriptome: sample correlation, nearest neighbours of repeat samples."""

from bloodsig.core.cohort import read_samples
from bloodsig.core.io import read_counts, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots import subtypes as plots
from bloodsig.subtypes import immune as st


def main(smk):
    cfg, sheet = st.TranscriptomeSettings.from_config(smk.params.settings), smk.params.sheet
    samples = st.select_samples(read_samples(smk.input.samples, sheet), cfg.subset)
    samples = samples.assign(**{sheet["patient_column"]: st.patients_of(
        samples, sheet["patient_column"])})
    expr = st.log10_normalised(read_counts(smk.input.counts)[samples.index])
    nb = st.transcriptome_neighbours(expr, samples, sheet["patient_column"], cfg.top_genes,
                                     cfg.remove)
    write_tsv(nb.table, smk.output.neighbours)
    table = nb.table.set_index("sample_id")
    save_figure(plots.correlation_heatmap(nb.correlation, nb.linkage, table["patient_id"],
                                          table["repeat"]), smk.output.heatmap)


run(main, snakemake)  # noqa: F821
