# bloodsig: blood transcriptome study pipeline. See README.md and ../config/README.md.
import sys

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, f"{workflow.basedir}/scripts")

from bloodsig.core.configcheck import config_layers, stop_on_input_error, validate_config  # noqa: E402
from bloodsig.core.sheets import load_schema  # noqa: E402


configfile: "config/config.yaml"


# A bad value stops the run here with one line naming the file that set it and the key.
CONFIG_LAYERS = config_layers(
    workflow.configfiles,
    workflow.config_settings.configfiles,
    workflow.config_settings.config,
    workflow.config_settings.replace_workflow_config,
)
CONFIG_SCHEMA = load_schema(f"{workflow.basedir}/config/schemas/config.schema.yaml")
with stop_on_input_error():
    validate_config(config, CONFIG_SCHEMA, CONFIG_LAYERS)


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


check_configured_files()


rule all:
    input:
        all_targets(),
        BENCHMARK_TARGETS,
    default_target: True
