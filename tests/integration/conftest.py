"""The engine rig (real engine, fake WEEX and Gemini over HTTP, simulated clock) for integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from smt_engine.clock import SimulatedClock
from tests.fakes.gemini_server import FakeGeminiServer
from tests.fakes.weex_server import FakeWeex
from tests.integration.rig import ETH_PRICE, T0, Rig


@pytest.fixture
def gemini() -> Iterator[FakeGeminiServer]:
    """The fake Gemini server alone, for analyst tests driven through the real google-genai SDK."""
    with FakeGeminiServer() as server:
        yield server


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = SimulatedClock(T0)
    with FakeWeex(clock=clock, prices={"ETHUSDT": ETH_PRICE}) as fake, FakeGeminiServer() as gemini:
        r = Rig(tmp_path, fake, gemini, clock)
        try:
            yield r
        finally:
            await r.stop()
            r.store.close()
