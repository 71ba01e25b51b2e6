"""What a test needs from the machine. A missing reference (R, the shared data, a tool) fails
the test, naming what to install, so a missing install step never passes as a skip. A developer
who knowingly lacks it sets BLOODSIG_ALLOW_MISSING=1 to skip those tests instead; CI (CI set)
never skips."""

from __future__ import annotations

import os

import pytest


def unavailable(reason: str):
    if os.environ.get("BLOODSIG_ALLOW_MISSING") == "1" and not os.environ.get("CI"):
        pytest.skip(f"{reason} (BLOODSIG_ALLOW_MISSING=1)")
    pytest.fail(f"missing: {reason}")
