"""Rule survival_models: final Cox models, C-indices and their tests, risk groups, KM plots."""

from bloodsig.core.cohort import load_annotation
from bloodsig.core.io import read_tsv, save_figure, write_tsv
from bloodsig.core.script import run
from bloodsig.plots.survival import km_plot
from bloodsig.survival import inputs, selection
from bloodsig.survival import models as prognosis


def main(smk):
    settings = prognosis.ModelSettings.from_config(smk.params.settings)
    names = smk.params.cohorts
    files = [(smk.input.expression, smk.input.cases)]
    if len(names) > 1:
        files.append((smk.input.ext_expression, smk.input.ext_cases))
    cohorts = {name: (inputs.read_expression(e), inputs.read_cases(c, settings.cases.clinical))
               for name, (e, c) in zip(names, files, strict=True)}
    selected = read_tsv(smk.input.selected, required=["model", "gene_id"],
                        dtype={"gene_id": str})
    res = prognosis.final_models(cohorts, selection.genes_by_model(selected), settings)
    genes = load_annotation(smk.input.genes)
    write_tsv(inputs.name_genes(res.coefficients, genes, "term"), smk.output.models)
    write_tsv(res.cindex, smk.output.cindex)
    write_tsv(res.tests, smk.output.cindex_tests)
    write_tsv(res.risk, smk.output.risk)
    write_tsv(res.group_summary, smk.output.group_summary)
    write_tsv(res.group_tests, smk.output.group_tests)
    for name, path in zip(names, [smk.output.km] + ([smk.output.km_external]
                                                    if len(names) > 1 else []), strict=True):
        risk = res.risk[res.risk["cohort"] == name]
        save_figure(km_plot(risk["time"], risk["event"], risk["group"],
                            title=f"{name}: risk groups ({settings.risk_model} model)",
                            unit=settings.time_unit), path)


run(main, snakemake)  # noqa: F821
