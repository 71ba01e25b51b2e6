"""Worker processes for the library's embarrassingly parallel loops (survival splits, the
candidate models of a stepwise step, a tuning grid's folds).

Each item runs on one BLAS/OpenMP thread, in a worker or not, so its result does not depend
on how many workers there are or which one ran it: a loop gives the same numbers, in the
same order, with any `n_jobs`. The items' randomness must come from the items themselves
(their seeds), never from a generator shared across them.

Workers are forked: they inherit the shared data without a copy, and a rule script (which
Snakemake runs as a file whose top level calls `main`) is not run again in each of them, as
it would be under the spawn and forkserver start methods. Where fork is not offered (or not
safe: macOS), the loop runs in this process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

_TASK: tuple[Callable, tuple] | None = None  # a worker's function and shared arguments


def can_fork() -> bool:
    """Whether worker processes can be forked here (Linux)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


class Workers:
    """`fn(*shared, item)` over items, on up to `n_jobs` forked worker processes that live as
    long as the `with` block (so a loop of many small maps forks once); results in input
    order. With n_jobs <= 1, or where fork is not offered, the items run in this process.
    """

    def __init__(self, fn: Callable, shared: tuple = (), n_jobs: int = 1):
        self.fn, self.shared = fn, tuple(shared)
        self.n_jobs = max(int(n_jobs), 1)
        if self.n_jobs > 1 and not can_fork():
            log.info("no forked workers on %s: %d jobs run one after another", sys.platform,
                     self.n_jobs)
            self.n_jobs = 1
        self._pool: ProcessPoolExecutor | None = None
        self._limits = contextlib.ExitStack()

    def __enter__(self) -> Workers:
        # Items run here too (one at a time, or a single item): on one thread, as in a worker.
        self._limits.enter_context(threadpool_limits(limits=1))
        if self.n_jobs > 1:
            self._pool = ProcessPoolExecutor(
                max_workers=self.n_jobs, mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker, initargs=(self.fn, self.shared))
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=exc[0] is not None)
                self._pool = None
        finally:
            self._limits.close()

    def map(self, items: Iterable) -> list:
        """[fn(*shared, item) for item in items], inside the `with` block."""
        items = list(items)
        if self._pool is None or len(items) <= 1:
            return [self.fn(*self.shared, item) for item in items]
        # Contiguous chunks, about four a worker: few transfers, workers evenly loaded.
        chunk = max(1, len(items) // (4 * self.n_jobs))
        return list(self._pool.map(_run_item, items, chunksize=chunk))


def process_map(fn: Callable, items: Iterable, n_jobs: int = 1, shared: tuple = ()) -> list:
    """[fn(*shared, item) for item in items] on up to n_jobs forked workers (see Workers)."""
    items = list(items)
    with Workers(fn, shared, min(n_jobs, len(items))) as workers:
        return workers.map(items)


def _start_worker(fn: Callable, shared: tuple) -> None:
    global _TASK
    _TASK = (fn, shared)
    threadpool_limits(limits=1)  # for the worker's life: its items run on one thread


def _run_item(item):
    fn, shared = _TASK
    return fn(*shared, item)
