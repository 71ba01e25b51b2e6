# Stage demo: the embedded demo cohorts, simulated from the config's seed (bloodsig.simulate).
# A checkpoint, because the FASTQ cohort's units are only known once it has run.

STAGE_TARGETS["demo"] = lambda: ["results/demo/truth/params.yaml"]


checkpoint demo_data:
    output:
        [f"results/demo/{name}" for name in DEMO_FILES],
        directory("results/demo/external/fastq"),
    params:
        seed=config["seed"],
        scale=config["demo"]["scale"],
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
