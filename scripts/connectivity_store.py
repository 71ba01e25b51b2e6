"""Rule connectivity_store: a LINCS level-5 GCTX into a gene-major memory-mapped store, and
the reference-query background used for tau."""

from pathlib import Path

from bloodsig import cmapstore, connectivity
from bloodsig.script import run


def main(smk):
    connectivity.set_threads(smk.threads)
    db, cfg = smk.params.database, smk.params.settings
    outdir = Path(smk.output.background).parent
    cols = db["columns"]
    cmapstore.build_store(
        smk.input.gctx, cmapstore.read_siginfo(smk.input.siginfo, cols["siginfo"]),
        cmapstore.read_geneinfo(smk.input.geneinfo, cols["geneinfo"]),
        cmapstore.read_compoundinfo(smk.input.compoundinfo, cols["compoundinfo"]),
        outdir, cfg["gene_space"], cfg["chunk_signatures"])
    store = cmapstore.open_store(outdir)
    bg = cfg["background"]
    queries = connectivity.reference_queries(store, bg["queries"], bg["genes"], smk.params.seed)
    cmapstore.save_background(smk.output.background, connectivity.reference_background(
        store, queries, cfg["weighted"], cfg["ncs_floor"]))


run(main, snakemake)  # noqa: F821
