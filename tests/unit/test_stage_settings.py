"""The subtypes and enrich stages' settings objects: every field is a key of its config block
as the schema fills it (the demo's config), so `from_config` needs no default of its own."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from bloodsig.core.configcheck import validate_config
from bloodsig.core.sheets import load_schema
from bloodsig.enrich.enrichmap import MapSettings
from bloodsig.enrich.gsea import GseaSettings
from bloodsig.enrich.ora import OraSettings
from bloodsig.enrich.overlap import PublishedList
from bloodsig.subtypes.immune import ClusterSettings, SubgroupDESettings, TranscriptomeSettings
from bloodsig.subtypes.longitudinal import LongitudinalSettings, QpcrSettings

ROOT = Path(__file__).resolve().parents[2]

# settings class, its config block, fields that come from elsewhere
CASES = [
    (ClusterSettings, "subtypes", {}),
    (TranscriptomeSettings, "subtypes.transcriptome", {}),
    (SubgroupDESettings, "subtypes.de", {}),
    (LongitudinalSettings, "subtypes.longitudinal", {"reference_genes": ["GAPDH"]}),
    (QpcrSettings, "subtypes.longitudinal.qpcr", {}),
    (OraSettings, "enrich", {}),
    (GseaSettings, "enrich.gsea", {}),
    (MapSettings, "enrich.enrichment_map", {}),
    (PublishedList, "enrich.overlap.published.*", {}),
]


@pytest.fixture(scope="module")
def config():
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    validate_config(config, load_schema(ROOT / "config/schemas/config.schema.yaml"),
                    [("config/config.yaml", config)])
    return config


def block(config: dict, dotted: str) -> dict:
    node = config
    for key in dotted.split("."):
        node = next(iter(node.values())) if key == "*" else node[key]
    return node


@pytest.mark.parametrize("cls, where, extra", CASES, ids=[c[0].__name__ for c in CASES])
def test_settings_come_from_their_config_block(config, cls, where, extra):
    section = block(config, where)
    settings = cls.from_config(section, **extra)
    for f in fields(cls):
        assert getattr(settings, f.name) == extra.get(f.name, section.get(f.name))
    name = next(f.name for f in fields(cls) if f.name not in extra)
    with pytest.raises(KeyError, match=name):  # no default outside the schema
        cls.from_config({k: v for k, v in section.items() if k != name}, **extra)
