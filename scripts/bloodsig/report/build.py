"""Assemble the study report from the results of the stages that ran."""

from __future__ import annotations

import pandas as pd

from . import html as h
from .files import Results
from .sections import biology, expression, overview, prediction


def report_page(res: Results, cfg: dict, title: str, counts: pd.DataFrame | None = None,
                expression_genes: int = 150, table_rows: int = 5000) -> str:
    """The report's HTML. `cfg` has the config's `samples` section and the sections of the
    stages that are on; `counts` (the QC-filtered counts) gives the per-gene expression
    plots of the top `expression_genes` genes of each DE analysis."""
    parts = [
        overview.headline_section(res, cfg),
        overview.cohort_section(res, cfg),
        expression.de_section(res, cfg, counts, expression_genes, table_rows),
        expression.cells_section(res, cfg),
        prediction.classify_section(res, cfg),
        prediction.survival_section(res, cfg),
        biology.pathways_section(res, cfg),
        biology.candidates_section(res, cfg),
        biology.subtypes_section(res, cfg),
        biology.qpcr_section(res, cfg),
        overview.calibration_section(res, cfg),
        overview.runtime_section(res, cfg),
        overview.provenance_section(res, cfg),
    ]
    ran = [p for p in parts if p is not None]
    subtitle = (f"Cohort <b>{h.esc(res.cohort)}</b>. Sections of stages that did not run say "
                "so. Every table and figure is also a file under results/; its path is given.")
    return h.page(title, subtitle, ran)
