"""The `connectivity` stage: core genes, the LINCS/CMap signature store and the CMap scores."""

import os

# OpenMP's threads sleep between the numba kernels' parallel regions instead of spinning: the
# spinning took the cores from the threads that read the store (on 2 cores, ~1 CPU s per
# full-size query). Read when numba first starts its OpenMP pool; a user's setting is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
