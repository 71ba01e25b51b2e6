# bloodsig: blood transcriptome study pipeline. See README.md and ../config/README.md.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schemas/config.schema.yaml")


report: "resources/report/workflow.rst"


include: "rules/common.smk"
include: "rules/demo.smk"
include: "rules/counts.smk"
include: "rules/expression_qc.smk"
include: "rules/de.smk"
include: "rules/cells.smk"
include: "rules/reads.smk"
include: "rules/connectivity.smk"
include: "rules/subtypes.smk"
include: "rules/enrich.smk"
include: "rules/survival.smk"
include: "rules/classify.smk"
include: "rules/report.smk"


rule all:
    input:
        all_targets(),
    default_target: True
