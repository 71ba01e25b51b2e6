"""Rule subtypes_summary: the stage's numbers (k, silhouette, ARI, repeat-sample checks,
subgroup stability over time, qPCR agreement)."""

from bloodsig.core.io import read_tsv, write_tsv
from bloodsig.core.script import run
from bloodsig.subtypes import immune as st


def main(smk):
    clusters = read_tsv(smk.input.clusters, dtype={"sample_id": str}).set_index("sample_id")
    known = (st.read_known_subgroups(smk.input.known[0], smk.wildcards.cohort)
             if smk.input.known else None)
    summary = st.summarise(clusters["cluster"], read_tsv(smk.input.silhouette),
                           read_tsv(smk.input.signatures), read_tsv(smk.input.neighbours),
                           read_tsv(smk.input.repeats), len(read_tsv(smk.input.up)),
                           len(read_tsv(smk.input.down)), known,
                           read_tsv(smk.input.stability, dtype={"patient_id": str}),
                           read_tsv(smk.input.qpcr[0], dtype=str) if smk.input.qpcr else None)
    write_tsv(summary, smk.output.summary)


run(main, snakemake)  # noqa: F821
