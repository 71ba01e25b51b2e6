"""Rule report_provenance: resolved config, software versions, input checksums."""

import pandas as pd

from bloodsig.core import provenance
from bloodsig.core.io import read_tsv, write_text, write_tsv
from bloodsig.core.script import run


def main(smk):
    write_text(provenance.config_yaml(dict(smk.params.config)), smk.output.config)
    versions = pd.concat([provenance.package_versions(), provenance.tool_versions()])
    write_tsv(versions, smk.output.versions)
    fastq = [p for units in smk.params.units
             for p in provenance.units_files(read_tsv(units, required=["fq1"], what="units"))]
    write_tsv(provenance.checksums([*smk.input, *fastq]), smk.output.checksums)


run(main, snakemake)  # noqa: F821
