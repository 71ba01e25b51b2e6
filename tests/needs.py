"""What a test needs from the machine. Missing on a developer machine, the test skips with the
reason; under CI (CI set) it fails, so a missing install step never passes as a skip."""

from __future__ import annotations

import os

import pytest


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"missing in CI: {reason}")
    pytest.skip(reason)
