"""Rule cells_pcs: correlation of every cell type with every RNA PC, table and heatmap."""

from bloodsig.cells import adjustment
from bloodsig.cells.settings import PCAssociationSettings
from bloodsig.core.cohort import read_cell_fractions
from bloodsig.core.io import read_counts, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots.cells import pc_association_heatmap


def main(smk):
    settings = PCAssociationSettings.from_config(smk.params.settings)
    pcs = adjustment.rna_pcs(read_counts(smk.input.counts), settings.n_pcs)
    table = adjustment.pc_association(read_cell_fractions(smk.input.fractions), pcs,
                                      settings.min_abs_r, settings.alpha)
    write_tsv(table, smk.output.table)
    save_figure(pc_association_heatmap(table, settings.min_abs_r), smk.output.heatmap)


run(main, snakemake)  # noqa: F821
