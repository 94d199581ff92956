"""Hostile frames on the public stream over real sockets: each is recorded and skipped, the session
lives on, and the next good ticker is read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.exchange.factory import stream_reports
from smt_engine.exchange.market import to_ms
from smt_engine.exchange.weex.streams import parse_frame
from smt_engine.exchange.weex.supervisor import StreamSupervisor
from smt_engine.store import Store
from smt_engine.trading.pushed import PushedFills
from tests.fakes.weex_server import FakeWeex
from tests.integration.rig import T0

HANG_GUARD = 120.0  # real seconds; a guard against hangs, never a speed requirement
DEEP = "[" * 200_000 + "]" * 200_000


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(HANG_GUARD):
        while not predicate():  # noqa: ASYNC110 - the condition lives in the fake's thread
            await asyncio.sleep(0.01)


def test_a_deeply_nested_frame_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^nested too deeply to read$"):
        parse_frame(DEEP)


async def test_hostile_frames_are_skipped_and_the_session_lives_on(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    with FakeWeex(clock=clock) as fake:
        supervisor = StreamSupervisor(
            clock,
            reports=stream_reports(Store.open(tmp_path / "smt.db"), clock),
            pushed=PushedFills(),
            ws_url=fake.ws_url,
            credentials=None,
            symbols=["ETHUSDT"],
            heartbeat=HANG_GUARD,
            backoff_max=0.05,
        )
        task = asyncio.create_task(supervisor.run())
        try:
            (public,) = supervisor.streams
            await until(lambda: public.state.up)
            stamp = to_ms(clock.now())
            hostile = [
                DEEP,  # RecursionError in the JSON parser
                '{"e": "ticker", "E": NaN, "s": "ETHUSDT", "d": [{"c": "3000"}]}',  # no time
                '{"e": "ticker", "E": Infinity, "s": "ETHUSDT", "d": [{"c": "3000"}]}',
                f'{{"e": "ticker", "E": {stamp}, "s": "ETHUSDT", "d": [{{"c": NaN, "m": NaN}}]}}',
                f'{{"e": "ticker", "E": {stamp}, "s": "ETHUSDT", "d": [{{"c": {{"x": 1}}}}]}}',
            ]
            for text in hostile:
                assert fake.ws.inject_ticker("ETHUSDT", text) == 1
            good = f'{{"e": "ticker", "E": {stamp}, "s": "ETHUSDT", "d": [{{"c": "3012.5", "m": "3012.4"}}]}}'
            fake.ws.inject_ticker("ETHUSDT", good)
            await until(
                lambda: (p := supervisor.prices.get("ETHUSDT")) is not None and p[0] == Decimal("3012.5")
            )
            assert public.state.up
            assert public.state.connects == 1
            assert public.state.malformed == 3  # too deep, NaN time, Infinity time
        finally:
            await supervisor.stop()
            task.cancel()
