"""bloodsig.core.parallel: forked workers give the sequential results, in input order."""

from __future__ import annotations

import os

import pytest

from bloodsig.core import parallel
from bloodsig.core.errors import InputError


def _scaled(factor, offset, item):
    if item < 0:
        raise InputError(f"item {item} is negative")
    return factor * item + offset, os.getpid()


def test_process_map_keeps_input_order_and_shared_arguments():
    items = list(range(25))
    one = parallel.process_map(_scaled, items, 1, shared=(3, 1))
    two = parallel.process_map(_scaled, items, 2, shared=(3, 1))
    assert [v for v, _ in one] == [v for v, _ in two] == [3 * i + 1 for i in items]
    assert {pid for _, pid in one} == {os.getpid()}
    if parallel.can_fork():
        assert os.getpid() not in {pid for _, pid in two}


def test_workers_serve_many_maps_and_pass_errors_on():
    with parallel.Workers(_scaled, (2, 0), n_jobs=2) as workers:
        assert [v for v, _ in workers.map([1, 2, 3])] == [2, 4, 6]
        assert [v for v, _ in workers.map(range(10))] == [2 * i for i in range(10)]
        with pytest.raises(InputError, match="item -1 is negative"):
            workers.map([0, -1, 2, 3])
    assert parallel.process_map(_scaled, [], 2, shared=(1, 0)) == []
