# Stage demo: the embedded demo cohorts, simulated from the config's seed (bloodsig.simulate).
# A checkpoint, because the FASTQ cohort's units are only known once it has run.

DEMO_FILES = [
    "discovery/counts.tsv",
    "discovery/genes.tsv",
    "discovery/samples.tsv",
    "discovery/cells_dnam.tsv",
    "discovery/cells_flow.tsv",
    "discovery/cell_signature.tsv",
    "discovery/qpcr_ct.tsv",
    "discovery/treatments.tsv",
    "discovery/qpcr_followup.tsv",
    "external/samples.tsv",
    "external/units.tsv",
    "external/genome.fa",
    "external/genes.gtf",
    "external/true_counts.tsv",
    "genesets/pathways.gmt",
    "genesets/go_bp.gmt",
    "genesets/immune_signatures.gmt",
    "disease_tissue/tdp43_neurons.tsv",
    "disease_tissue/spinal_cord.tsv",
    "cmap/signatures.gctx",
    "cmap/siginfo.tsv",
    "cmap/geneinfo.tsv",
    "cmap/compoundinfo.tsv",
    "truth/de_genes.tsv",
    "truth/sex_mislabels.tsv",
    "truth/survival_genes.tsv",
    "truth/subgroups.tsv",
    "truth/pathways.tsv",
    "truth/compounds.tsv",
    "truth/repeats.tsv",
    "truth/cell_proportions.tsv",
    "truth/longitudinal.tsv",
    "truth/longitudinal_patients.tsv",
    "truth/qpcr_subgroups.tsv",
    "truth/params.yaml",
]


STAGE_TARGETS["demo"] = lambda: ["results/demo/truth/params.yaml"]


checkpoint demo_data:
    output:
        [f"results/demo/{name}" for name in DEMO_FILES],
        directory("results/demo/external/fastq"),
    params:
        seed=config["seed"],
        scale=config.get("demo", {}).get("scale", "demo"),
    log:
        "logs/demo/demo_data.log",
    benchmark:
        "logs/demo/demo_data.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=attempt_mem(4000),
        runtime=20,
    conda:
        PYENV
    script:
        "../scripts/demo_data.py"
