"""bloodsig: the library behind the bloodsig Snakemake pipeline.

Pure functions on numpy/pandas, one module per concept. Nothing here imports snakemake,
so every function serves the pipeline, the tests and a user's notebook alike.
"""

__version__ = "0.1.0"
