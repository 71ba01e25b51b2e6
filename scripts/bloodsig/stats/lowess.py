"""R's ``lowess`` (Cleveland 1979, JASA 74:829), a port of R's C routine ``clowess``.

statsmodels' lowess uses different neighbourhood and interpolation rules, so voom's trend
would not match R. The port keeps clowess's sequence of decisions (window moves, the
``delta`` skipping of close points, tie handling, biweight robustness steps) and its loops
(compiled by numba: in numpy, each local fit's few short sums cost ~0.15 s per voom).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _lowest(x, y, n, xs, nleft, nright, rw, use_rw, x_range, w):
    """clowess's ``lowest``: the local weighted linear fit at ``xs`` over x[nleft..] (0-based,
    sums in clowess's order) as (value, True); (0, False) if all weights are 0."""
    h = max(xs - x[nleft], x[nright] - xs)
    h9, h1 = 0.999 * h, 0.001 * h
    a = 0.0
    nrt = n - 1
    for j in range(nleft, n):  # clowess walks right from nleft; beyond h9 right of xs: stop
        w[j] = 0.0
        r = abs(x[j] - xs)
        if r <= h9:
            if r <= h1:
                w[j] = 1.0
            else:
                u = r / h
                u = 1.0 - u * u * u  # fcube as in C: x*x*x
                w[j] = u * u * u
            if use_rw:
                w[j] *= rw[j]
            a += w[j]
        elif x[j] > xs:
            nrt = j - 1
            break
    if a <= 0.0:
        return 0.0, False
    for j in range(nleft, nrt + 1):
        w[j] /= a
    if h > 0.0:
        a = 0.0
        for j in range(nleft, nrt + 1):
            a += w[j] * x[j]
        b = xs - a
        c = 0.0
        for j in range(nleft, nrt + 1):
            c += w[j] * (x[j] - a) * (x[j] - a)
        if np.sqrt(c) > 0.001 * x_range:
            b /= c
            for j in range(nleft, nrt + 1):
                w[j] *= b * (x[j] - a) + 1.0
    out = 0.0
    for j in range(nleft, nrt + 1):
        out += w[j] * y[j]
    return out, True


@numba.njit(cache=True)
def _clowess(x, y, f, iters, delta, ys, knots):
    """R's clowess on x sorted (y in the same order): the fitted values into ``ys`` and, into
    ``knots``, the points that the last pass fitted (the others it interpolated)."""
    n = x.shape[0]
    ns = max(2, min(n, int(f * n + 1e-7)))
    x_range = x[n - 1] - x[0]
    rw = np.ones(n)
    w = np.empty(n)
    res = np.empty(n)
    for it in range(1, iters + 2):
        nleft, nright, last, i = 0, ns - 1, -1, 0
        knots[:] = False
        while True:
            # Move the window right while that does not widen the radius around x[i].
            while nright < n - 1 and x[i] - x[nleft] > x[nright + 1] - x[i]:
                nleft += 1
                nright += 1
            fit, ok = _lowest(x, y, n, x[i], nleft, nright, rw, it > 1, x_range, w)
            ys[i] = fit if ok else y[i]
            knots[i] = True
            if last < i - 1:
                denom = x[i] - x[last]
                for j in range(last + 1, i):
                    alpha = (x[j] - x[last]) / denom
                    ys[j] = alpha * ys[i] + (1.0 - alpha) * ys[last]
            last = i
            # Ties of x[last] copy its fit; the next fitted point is the last one within delta.
            cut = x[last] + delta
            j = last + 1
            while j < n and x[j] == x[last]:
                ys[j] = ys[last]
                j += 1
            last = j - 1
            while j < n and x[j] <= cut:
                j += 1
            i = max(last + 1, j - 1)
            if last >= n - 1:
                break
        for j in range(n):
            res[j] = abs(y[j] - ys[j])
        if it > iters:
            break
        sc = res.mean()
        srt = np.sort(res)
        m1 = n // 2
        cmad = 3.0 * (srt[m1] + srt[n - m1 - 1]) if n % 2 == 0 else 6.0 * srt[m1]
        if cmad < 1e-7 * sc:
            break
        c9, c1 = 0.999 * cmad, 0.001 * cmad
        for j in range(n):
            r = res[j]
            if r <= c1:
                rw[j] = 1.0
            elif r <= c9:
                u = r / cmad
                u = 1.0 - u * u
                rw[j] = u * u
            else:
                rw[j] = 0.0


def lowess(x, y, f: float = 2 / 3, iters: int = 3, delta: float | None = None,
           return_knots: bool = False):
    """R ``stats::lowess(x, y, f, iter, delta)``: returns (x sorted, fitted y), as R does.

    ``delta`` defaults to 0.01 * diff(range(x)); points within delta of the last fitted
    point are linearly interpolated rather than fitted. With ``return_knots`` a third item
    marks the points that were fitted: the curve is linear between them, so interpolating
    through them alone gives the same line with far fewer knots.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if delta is None:
        delta = 0.01 * (x.max() - x.min())
    o = np.argsort(x, kind="stable")
    x, y = x[o], y[o]
    n = x.shape[0]
    if n < 2:
        return (x, y.copy(), np.ones(n, bool)) if return_knots else (x, y.copy())
    ys = np.empty(n)
    knots = np.zeros(n, dtype=np.bool_)
    _clowess(x, y, float(f), int(iters), float(delta), ys, knots)
    return (x, ys, knots) if return_knots else (x, ys)
