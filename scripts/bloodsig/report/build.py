"""Assemble the study report from the results of the stages that ran."""

from __future__ import annotations

import pandas as pd

from . import html as h
from . import sections as s
from .files import Results


def report_page(res: Results, cfg: dict, title: str, counts: pd.DataFrame | None = None,
                expression_genes: int = 150, table_rows: int = 5000) -> str:
    """The report's HTML. `cfg` has the config's `samples` section and the sections of the
    stages that are on; `counts` (the QC-filtered counts) gives the per-gene expression
    plots of the top `expression_genes` genes of each DE analysis."""
    parts = [
        s.headline_section(res, cfg),
        s.cohort_section(res, cfg),
        s.de_section(res, cfg, counts, expression_genes, table_rows),
        s.cells_section(res, cfg),
        s.classify_section(res, cfg),
        s.survival_section(res, cfg),
        s.pathways_section(res, cfg),
        s.candidates_section(res, cfg),
        s.subtypes_section(res, cfg),
        s.qpcr_section(res, cfg),
        s.provenance_section(res, cfg),
    ]
    ran = [p for p in parts if p is not None]
    subtitle = (f"Cohort <b>{h.esc(res.cohort)}</b>. Sections of stages that did not run say "
                "so. Every table and figure is also a file under results/; its path is given.")
    return h.page(title, subtitle, ran)
