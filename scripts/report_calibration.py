"""Rule report_calibration: the demo's statistics beside the reference study's bands, and the
recovery of its planted truth (results/<cohort>/report/calibration.tsv)."""

from bloodsig.core.io import read_tsv, write_tsv
from bloodsig.core.script import run
from bloodsig.report import calibration as cal


def main(smk):
    inp, par = smk.input, smk.params
    toptable = read_tsv(inp.toptable)
    values = cal.de_statistics(toptable, par.fdr, par.min_abs_logfc)
    panels = read_tsv(inp.panels) if "panels" in inp.keys() else None
    if panels is not None:
        values |= cal.classify_statistics(
            read_tsv(inp.auc), panels, read_tsv(inp.performance),
            read_tsv(inp.external) if "external" in inp.keys() else None)
    cases = risk = None
    if "splits" in inp.keys():
        cases = read_tsv(inp.cases, dtype={"sample_id": str}).set_index("sample_id")
        values |= cal.survival_statistics(read_tsv(inp.splits), read_tsv(inp.logrank), cases,
                                          par.time_unit)
        risk = read_tsv(inp.risk, dtype={"sample_id": str})
    values |= cal.truth_statistics(toptable, read_tsv(inp.planted), par.fdr, panels, risk, cases)
    write_tsv(cal.calibration_table(values, read_tsv(inp.bands), par.scale), smk.output[0])


run(main, snakemake)  # noqa: F821
