"""Shielded work finishes when its caller is cancelled, and the stop drains it within the unit's limit."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from smt_engine.config import Settings
from smt_engine.trading.shielded import ShieldedWork

ROOT = Path(__file__).resolve().parents[2]


async def test_cancelling_the_caller_does_not_cancel_the_work_and_drain_waits_for_it() -> None:
    work = ShieldedWork()
    release = asyncio.Event()
    finished: list[str] = []

    async def order_in_flight() -> str:
        await release.wait()
        finished.append("order and its TP/SL")
        return "open"

    caller = asyncio.create_task(work.run(order_in_flight()))
    await asyncio.sleep(0)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)
    assert caller.cancelled()
    assert work.pending == 1
    drain = asyncio.create_task(work.drain(30))
    await asyncio.sleep(0)
    assert not drain.done()
    release.set()
    assert await drain == 0
    assert finished == ["order and its TP/SL"]


async def test_drain_gives_up_after_its_limit_and_says_how_many_are_left() -> None:
    work = ShieldedWork()
    never = asyncio.Event()
    caller = asyncio.create_task(work.run(never.wait()))
    await asyncio.sleep(0)
    # Bounded: a drain that ignored its limit would otherwise wait for ever here.
    assert await asyncio.wait_for(work.drain(0.01), 5) == 1
    caller.cancel()
    never.set()
    await asyncio.gather(caller, return_exceptions=True)


def test_the_default_shutdown_timeout_fits_the_units_stop_timeout() -> None:
    for unit in (ROOT / "smt-trading.service", ROOT / "smt_engine" / "data" / "smt-trading.service"):
        match = re.search(r"^TimeoutStopSec=(\d+)$", unit.read_text(), re.MULTILINE)
        assert match is not None, unit
        stop_s = int(match.group(1))
        # Leave room after the drain for closing the clients and the database.
        assert Settings().engine.shutdown_timeout.total_seconds() + 15 <= stop_s


async def test_drain_with_nothing_in_flight_is_zero_and_finished_work_is_forgotten() -> None:
    work = ShieldedWork()
    assert await work.drain(30) == 0

    async def done() -> str:
        return "open"

    assert await work.run(done()) == "open"
    await asyncio.sleep(0)  # the done callback runs on the next turn of the loop
    assert work._tasks == set()  # a long-running engine does not keep every finished order's task
    assert await work.drain(30) == 0


async def test_drain_survives_work_that_was_itself_cancelled() -> None:
    work = ShieldedWork()
    release = asyncio.Event()

    async def cancelled_inside() -> None:
        await release.wait()
        raise asyncio.CancelledError

    caller = asyncio.create_task(work.run(cancelled_inside()))
    await asyncio.sleep(0)
    drain = asyncio.create_task(work.drain(30))
    await asyncio.sleep(0)
    release.set()
    assert await drain == 0
    await asyncio.gather(caller, return_exceptions=True)
