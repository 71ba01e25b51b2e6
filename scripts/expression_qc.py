"""Rule expression_qc: gene filters, sex check and PCA plots for one cohort."""

from bloodsig.core.cohort import load_annotation, read_samples
from bloodsig.core.io import read_counts, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots.qc import pca_panels, sex_check_scatter
from bloodsig.qc import expression as eqc
from bloodsig.stats.normalize import log2cpm_voom


def main(smk):
    cfg, sheet = smk.params.settings, smk.params.sheet
    counts = read_counts(smk.input.counts)
    genes = load_annotation(smk.input.genes)
    samples = read_samples(smk.input.samples, sheet)
    settings = eqc.stage_settings(cfg, sheet, smk.input.globins, smk.input.chry)
    filtered, gene_report, sample_report = eqc.run_expression_qc(counts, genes, samples, settings)
    kept = eqc.kept_samples(sample_report, cfg["drop_sex_mismatches"])
    top = cfg["pca_top_genes"]
    pcas = {"before QC": eqc.pca(log2cpm_voom(counts), top_genes=top),
            "after QC": eqc.pca(log2cpm_voom(filtered[kept]), top_genes=top)}
    colour = [sheet["group_column"], sheet["batch_column"], sheet["library_column"]]
    save_figure(pca_panels(pcas, samples, color_by=colour), smk.output.pca)
    save_figure(sex_check_scatter(sample_report), smk.output.sex_check)
    write_tsv(gene_report, smk.output.gene_report)
    write_tsv(sample_report, smk.output.sample_report)
    samples = eqc.fill_inferred_sex(samples, sample_report, settings.sex_column,
                                    (settings.female_value, settings.male_value))
    write_tsv(samples.loc[kept], smk.output.samples)
    write_tsv(filtered[kept].reset_index(), smk.output.counts)


run(main, snakemake)  # noqa: F821
