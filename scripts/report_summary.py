"""Rule report_summary: results/summary.html, the headline numbers linking to the tables."""

import os

from bloodsig.core.io import read_tsv, write_text
from bloodsig.core.script import run
from bloodsig.report import summary


def main(smk):
    files, page = smk.params.files, os.path.dirname(smk.output[0])

    def links(paths):
        return {os.path.relpath(p, page): os.path.relpath(p, page) for p in paths}

    sections = [summary.samples_section({c: read_tsv(p) for c, p in files["samples"].items()},
                                        links([*files["samples"].values(),
                                               files["cohort_table"]]))]
    if "degs" in files:
        degs = files["degs"]
        sections.append(summary.deg_section(
            {a: read_tsv(f["up"]) for a, f in degs.items()},
            {a: read_tsv(f["down"]) for a, f in degs.items()},
            links(os.path.join(os.path.dirname(f["up"]), "toptable.tsv") for f in degs.values())))
    if "classify" in files:
        cl = files["classify"]
        ext = {k: read_tsv(p) for k, p in cl.items() if k.startswith("external ")}
        sections.append(summary.classifier_section(
            read_tsv(cl["nested"]), read_tsv(cl["compare"]), read_tsv(cl["grouping"]),
            links(cl.values()), next(iter(ext.values()), None),
            next(iter(ext), "external").removeprefix("external ")))
    if "cindex" in files:
        sections.append(summary.cindex_section(read_tsv(files["cindex"]),
                                               links([files["cindex"]])))
    if "ora" in files:
        sections.append(summary.pathway_section({k: read_tsv(p) for k, p in files["ora"].items()},
                                                links(files["ora"].values())))
    if "candidates" in files:
        cands = files["candidates"]
        sections.append(summary.candidate_section({q: read_tsv(p) for q, p in cands.items()},
                                                  links(cands.values())))
    if "qpcr" in files:
        sections.append(summary.qpcr_section(read_tsv(files["qpcr"]), links([files["qpcr"]])))
    write_text(summary.summary_page(smk.params.title, sections), smk.output[0])


run(main, snakemake)  # noqa: F821
