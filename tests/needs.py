"""What a test needs from the machine. A missing reference (R, the shared data, a tool) fails
the test, naming what to install, so a missing install step never passes as a skip. A developer
without them runs the fast tier (`pytest -m "not slow"`), which needs only BLOODSIG_REFDATA."""

from __future__ import annotations

import pytest


def unavailable(reason: str):
    pytest.fail(f"missing: {reason}")
