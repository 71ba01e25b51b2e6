"""Multiple-testing adjustment, one implementation for every stage."""

from __future__ import annotations

import numpy as np


def p_adjust_bh(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values, as R ``p.adjust(method="BH")``."""
    p = np.asarray(p, dtype=np.float64)
    n = p.shape[0]
    o = np.argsort(-p, kind="stable")
    adj = np.minimum.accumulate(n / np.arange(n, 0, -1) * p[o])
    out = np.empty(n)
    out[o] = np.minimum(adj, 1.0)
    return out
