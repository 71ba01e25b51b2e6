"""Rule de_fit: limma-voom (or pydeseq2) for one analysis, DEG lists, figures, residuals."""

from bloodsig.core.cohort import load_annotation, read_cell_fractions, read_samples
from bloodsig.core.io import read_counts, read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.de import analysis as de
from bloodsig.de.settings import Analysis, FitSettings
from bloodsig.plots import de as plots


def main(smk):
    sheet = smk.params.sheet
    settings = FitSettings.from_config(smk.params.de, sheet)
    cells = read_cell_fractions(smk.input.cells[0]) if smk.input.cells else None
    analysis = de.with_cell_terms(Analysis.from_config(smk.params.analysis), cells)
    samples = de.analysis_samples(read_samples(smk.input.samples, sheet), analysis, cells,
                                  smk.input.cells[0] if cells is not None else None)
    covs = read_tsv(smk.input.covariates, required=["sample_id"], dtype={"sample_id": str})
    genes = load_annotation(smk.input.genes)
    res = de.fit_analysis(read_counts(smk.input.counts), samples,
                          covs.set_index("sample_id").rename_axis(None), genes, analysis,
                          settings, n_cpus=smk.threads)
    fdr, lfc, name = settings.fdr, settings.min_abs_logfc, smk.wildcards.analysis
    write_tsv(res.table, smk.output.toptable)
    write_tsv(res.up, smk.output.up)
    write_tsv(res.down, smk.output.down)
    write_tsv(res.residuals.rename_axis("gene_id").reset_index(), smk.output.residuals)
    save_figure(plots.volcano(res.table, fdr, lfc, title=name), smk.output.volcano)
    save_figure(plots.ma_plot(res.table, fdr, lfc, title=name), smk.output.ma)
    save_figure(plots.pvalue_histogram(res.table, title=name), smk.output.pvalue_hist)
    term = de.tested_term(analysis, samples, settings.reference_levels)
    n = settings.heatmap_genes
    save_figure(plots.top_deg_heatmap(res.expression, res.table, samples[term], n, n, fdr, lfc),
                smk.output.heatmap)


run(main, snakemake)  # noqa: F821
