# Sample-sheet loading, config lookups and input functions. No rules here.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from bloodsig.sheets import load_schema  # noqa: E402

SAMPLES_SCHEMA = load_schema(Path(workflow.basedir) / "config/schemas/samples.schema.yaml")
PYENV = "../envs/python.yaml"

COHORTS = config["cohorts"]
COUNT_COHORTS = [c for c, d in COHORTS.items() if "counts" in d]
DISCOVERY = [c for c, d in COHORTS.items() if d["role"] == "discovery"]
ANALYSES = list(config["de"]["analyses"]) if "de" in config else []

if len(DISCOVERY) != 1:
    raise ValueError(
        f"config: cohorts: exactly one cohort must have role 'discovery' (found {len(DISCOVERY)})"
    )


wildcard_constraints:
    cohort="|".join(COHORTS),
    analysis="|".join(ANALYSES) or "none",


def stage_on(stage):
    return config["stages"].get(stage, False)


def cohort_file(key):
    """Input function: a path from the cohort's config entry (e.g. its counts)."""
    return lambda wc: COHORTS[wc.cohort][key]


def cell_fractions(wc):
    """Cell fractions merged into cell-adjusted analyses (until the cells stage exists)."""
    path = COHORTS[wc.cohort].get("cell_fractions")
    return [path] if path else []


def attempt_mem(base_mb):
    """Memory that grows on retry (a killed job gets twice as much the next time)."""
    return lambda wc, attempt: base_mb * attempt


# Each stage's .smk registers a lambda returning its final targets (functions with `def`
# belong here, not in rule files); rule all asks for the targets of the stages switched on.
STAGE_TARGETS = {}


def all_targets():
    targets = []
    for stage, targets_of in STAGE_TARGETS.items():
        if stage_on(stage):
            targets += targets_of()
    return targets


def _check_existing_sheets():
    """Validate sample sheets that exist before the run, so a bad one stops it at once.

    Sheets written by the run itself (the demo) are validated by the rule that reads them.
    """
    from bloodsig.sheets import load_samples

    for entry in COHORTS.values():
        if Path(entry["samples"]).exists():
            load_samples(entry["samples"], SAMPLES_SCHEMA, config["samples"])


_check_existing_sheets()
