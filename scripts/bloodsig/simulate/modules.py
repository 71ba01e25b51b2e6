"""Co-expression modules: the shared structure that makes the demo as hard as a real cohort.

Most case-control differences of whole blood are not independent gene effects but a few
programmes that move many genes together, and that vary between patients within each
group. A module k has one factor per patient,

    f_ik = delta_k * case_i + c_k * P_i + sqrt(1 - c_k^2) * u_ik,   u_ik ~ N(0, 1),

and its genes follow it with loadings lambda_g (natural log per unit of f). `delta_k` is the
module's case shift (zero for a null module, which only adds gene-gene correlation), `P_i`
a patient's latent prognosis (hazard rises with it, `simulate.clinical`) and `c_k` how much
the module carries it (zero for most modules). A gene's planted case-control log2FC is
lambda_g * delta_k / ln 2. Because a module's genes share one factor, combining them does not
separate the groups better than the factors themselves: with the module shifts drawn here
the best possible AUC stays near 0.9, whatever the number of genes (the calibration of
issue 18, measured in results/<cohort>/report/calibration.tsv).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DISEASE_GENE_SHARE = 0.12  # of all genes, in modules that differ between cases and controls
DISEASE_MODULES = 8  # at every scale, so the groups are as separable in the demo as at full size
NULL_GENE_SHARE = 0.08  # in modules that do not differ
GENES_PER_NULL_MODULE = 100  # median size of a null module (log-normal, sd 0.5 on the log scale)
SHIFT = (0.32, 0.69)  # |delta_k| of the disease modules, evenly spread
UP_SHARE = 0.6  # of the disease modules (in a shuffled order, so exactly this share)
LOADING = (0.2, 0.5)  # |lambda_g| of a disease module's gene, uniform; natural log per unit
NULL_LOADING = (0.1, 0.25)  # of a null module's gene: weaker, as the RNA PCs would otherwise
                             # mix them with the disease modules (the study's PCs associated
                             # with group are dropped; a mixed one is kept and biases DE)
FLIPPED_SHARE = 0.1  # genes of a module that go against it (negative loading)
PROGNOSTIC_SHARE = 0.5  # of the disease and of the null modules: carry the latent prognosis ...
COUPLING = (0.5, 0.9)  # ... with c_k drawn uniform in this range


@dataclass(frozen=True)
class Modules:
    """The modules of a gene catalogue (arrays per gene, or per module)."""

    module: np.ndarray  # per gene: module index, -1 outside every module
    loading: np.ndarray  # per gene: lambda_g (0 outside modules)
    shift: np.ndarray  # per module: delta_k
    coupling: np.ndarray  # per module: c_k

    @property
    def n_modules(self) -> int:
        return len(self.shift)

    def expected_log2fc(self) -> np.ndarray:
        """Per gene: the case-control log2 fold change the modules plant."""
        inside = self.module >= 0
        out = np.zeros(len(self.module))
        out[inside] = self.loading[inside] * self.shift[self.module[inside]] / np.log(2.0)
        return out

    def factors(self, is_case: np.ndarray, prognosis: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
        """f_ik of the module docstring, (n_modules, n_patients)."""
        u = rng.normal(0.0, 1.0, (self.n_modules, len(is_case)))
        c = self.coupling[:, None]
        return (self.shift[:, None] * is_case[None, :] + c * prognosis[None, :]
                + np.sqrt(1.0 - c ** 2) * u)


def _sizes(n_genes: int, disease: bool, rng: np.random.Generator) -> list[int]:
    """Module sizes summing to n_genes: DISEASE_MODULES shares of it, or null modules of
    about GENES_PER_NULL_MODULE genes."""
    if disease:
        edges = np.round(np.cumsum(rng.dirichlet(np.full(DISEASE_MODULES, 4.0))) * n_genes)
        return np.diff(np.concatenate([[0], edges])).astype(int).tolist()
    sizes, total = [], 0
    while total < n_genes:
        size = int(np.clip(round(GENES_PER_NULL_MODULE * np.exp(rng.normal(0, 0.5))), 20, 300))
        size = min(size, n_genes - total)
        sizes.append(size)
        total += size
    return sizes


def _spread(lo: float, hi: float, k: int, rng: np.random.Generator) -> np.ndarray:
    """k values evenly spread over [lo, hi], in a random order: a draw whose spread does not
    depend on the seed, so a few modules never make one demo much easier than another."""
    return rng.permutation(np.linspace(lo, hi, k)) if k > 1 else np.full(k, (lo + hi) / 2)


def make_modules(n: int, disease_pool: np.ndarray, null_pool: np.ndarray,
                 rng: np.random.Generator) -> Modules:
    """Disease modules from the genes of `disease_pool` (taken in order) and null modules
    from `null_pool`, DISEASE_GENE_SHARE and NULL_GENE_SHARE of the `n` genes each."""
    module = np.full(n, -1)
    loading = np.zeros(n)
    shifts: list[np.ndarray] = []
    couplings: list[np.ndarray] = []
    for pool, share, disease in ((disease_pool, DISEASE_GENE_SHARE, True),
                                 (null_pool, NULL_GENE_SHARE, False)):
        bounds = LOADING if disease else NULL_LOADING
        sizes = _sizes(min(int(round(share * n)), len(pool)), disease, rng)
        ends = np.cumsum(sizes)
        for size, end in zip(sizes, ends, strict=True):
            rows = pool[end - size: end]
            module[rows] = sum(map(len, shifts)) + np.searchsorted(ends, end)
            flip = np.where(rng.random(size) < FLIPPED_SHARE, -1.0, 1.0)
            loading[rows] = rng.uniform(*bounds, size) * flip
        k = len(sizes)
        if disease:
            up = rng.permutation(np.arange(k) < round(UP_SHARE * k))
            shifts.append(np.where(up, 1.0, -1.0) * _spread(*SHIFT, k, rng))
        else:
            shifts.append(np.zeros(k))
        prognostic = rng.permutation(np.arange(k) < round(PROGNOSTIC_SHARE * k))
        coupling = np.zeros(k)
        coupling[prognostic] = _spread(*COUPLING, int(prognostic.sum()), rng)
        couplings.append(coupling)
    return Modules(module=module, loading=loading, shift=np.concatenate(shifts),
                   coupling=np.concatenate(couplings))
