"""Rule connectivity_core_genes: one analysis' DEGs intersected with the disease-tissue DEGs."""

from bloodsig.connectivity import coregenes
from bloodsig.core.io import save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots.connectivity import upset


def main(smk):
    cfg = smk.params.settings
    blood = coregenes.read_deg_table(smk.input.toptable, smk.params.blood_columns)
    tissues = {name: coregenes.read_deg_table(path, cfg["tissues"][name])
               for name, path in zip(smk.params.tissues, smk.input.tissues, strict=True)}
    core, counts, sets = coregenes.core_genes(blood, tissues, cfg["fdr"], cfg["min_abs_logfc"])
    write_tsv(core, smk.output.core)
    write_tsv(counts, smk.output.counts)
    save_figure(upset(sets, f"DEG overlaps: {smk.wildcards.analysis}"), smk.output.figure)


run(main, snakemake)  # noqa: F821
