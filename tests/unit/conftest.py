"""Fixtures shared by the unit tests that drive the engine over its stand-ins (``engine_support``)."""

from __future__ import annotations

import pytest

from smt_engine.clock import SimulatedClock
from tests.unit.engine_support import T0


@pytest.fixture
def clock() -> SimulatedClock:
    """The engine's simulated clock at ``T0``; a module with a clock of its own overrides it."""
    return SimulatedClock(T0)
