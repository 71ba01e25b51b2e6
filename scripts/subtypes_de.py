"""Rule subtypes_de: pydeseq2 Wald test of cluster C1 against the rest, top-gene lists."""

from bloodsig.core.cohort import load_annotation, read_samples
from bloodsig.core.io import read_counts, read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots import de as plots
from bloodsig.subtypes import immune as st


def main(smk):
    cfg, sheet = st.SubgroupDESettings.from_config(smk.params.settings), smk.params.sheet
    clusters = read_tsv(smk.input.clusters, required=["sample_id", "cluster"],
                        dtype={"sample_id": str}).set_index("sample_id")["cluster"]
    table, up, down = st.subgroup_de(
        read_counts(smk.input.counts), read_samples(smk.input.samples, sheet), clusters,
        load_annotation(smk.input.genes), cfg, n_cpus=smk.threads)
    write_tsv(table, smk.output.toptable)
    write_tsv(up, smk.output.up)
    write_tsv(down, smk.output.down)
    save_figure(plots.volcano(table, cfg.fdr, cfg.min_abs_log2fc, title="C1 vs rest"),
                smk.output.volcano)


run(main, snakemake)  # noqa: F821
