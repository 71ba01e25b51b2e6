"""R's ``lowess`` (Cleveland 1979, JASA 74:829), a port of R's C routine ``clowess``.

statsmodels' lowess uses different neighbourhood and interpolation rules, so voom's trend
would not match R. The port keeps clowess's sequence of decisions (window moves, the
``delta`` skipping of close points, tie handling, biweight robustness steps) and vectorises
each local fit over its window with numpy.
"""

from __future__ import annotations

import numpy as np


def _lowest(x, y, n, xs, nleft, nright, rw, use_rw, x_range):
    """Local weighted linear fit at ``xs`` over x[nleft..] (0-based); None if all weights 0."""
    h = max(xs - x[nleft], x[nright] - xs)
    h9, h1 = 0.999 * h, 0.001 * h
    # clowess walks right from nleft and stops at the first point beyond h9 to the right of xs
    # (picking up ties past nright); points beyond xs + h always stop it.
    end = min(n, int(np.searchsorted(x, xs + h, side="right")) + 1)
    xj = x[nleft:end]
    r = np.abs(xj - xs)
    stop = np.flatnonzero((r > h9) & (xj > xs))
    nrt = nleft + (stop[0] if stop.size else xj.shape[0])
    xj, r = xj[: nrt - nleft], r[: nrt - nleft]
    if h > 0:
        u = r / h
        w = 1.0 - u * u * u  # fcube as in C: x*x*x (and far faster than ** 3)
        w = w * w * w
        w[r <= h1] = 1.0
    else:
        w = np.ones_like(r)
    w[r > h9] = 0.0
    if use_rw:
        w = w * rw[nleft:nrt]
    a = w.sum()
    if a <= 0.0:
        return None
    w = w / a
    # Sums of products, not np.dot: BLAS ddot wakes OpenBLAS's threads on every call, which
    # costs far more than these short sums (seconds per voom on a busy machine).
    if h > 0.0:
        a = (w * xj).sum()
        b = xs - a
        c = (w * (xj - a) * (xj - a)).sum()
        if np.sqrt(c) > 0.001 * x_range:
            w = w * (b / c * (xj - a) + 1.0)
    return float((w * y[nleft:nrt]).sum())


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
    ys = np.empty(n)
    if n < 2:
        return (x, y.copy(), np.ones(n, bool)) if return_knots else (x, y.copy())
    ns = max(2, min(n, int(f * n + 1e-7)))
    x_range = x[-1] - x[0]
    xl = x.tolist()
    rw = np.ones(n)
    for it in range(1, iters + 2):
        nleft, nright, last, i = 0, ns - 1, -1, 0
        knots = np.zeros(n, dtype=bool)
        while True:
            # Move the window right while that does not widen the radius around x[i].
            while nright < n - 1 and xl[i] - xl[nleft] > xl[nright + 1] - xl[i]:
                nleft += 1
                nright += 1
            fit = _lowest(x, y, n, xl[i], nleft, nright, rw, it > 1, x_range)
            ys[i] = y[i] if fit is None else fit
            knots[i] = True
            if last < i - 1:
                alpha = (x[last + 1:i] - x[last]) / (x[i] - x[last])
                ys[last + 1:i] = alpha * ys[i] + (1.0 - alpha) * ys[last]
            last = i
            # Ties of x[last] copy its fit; the next fitted point is the last one within delta.
            tie_end = int(np.searchsorted(x, xl[last], side="right")) - 1
            ys[last + 1:tie_end + 1] = ys[last]
            beyond = int(np.searchsorted(x, xl[last] + delta, side="right"))
            last = tie_end
            i = max(last + 1, beyond - 1)
            if last >= n - 1:
                break
        res = y - ys
        if it > iters:
            break
        sc = np.abs(res).mean()
        ares = np.abs(res)
        m1 = n // 2
        if n % 2 == 0:
            part = np.partition(ares, (n - m1 - 1, m1))
            cmad = 3.0 * (part[m1] + part[n - m1 - 1])
        else:
            cmad = 6.0 * np.partition(ares, m1)[m1]
        if cmad < 1e-7 * sc:
            break
        c9, c1 = 0.999 * cmad, 0.001 * cmad
        rw = np.where(ares <= c1, 1.0, np.where(ares <= c9, (1.0 - (ares / cmad) ** 2) ** 2, 0.0))
    return (x, ys, knots) if return_knots else (x, ys)
