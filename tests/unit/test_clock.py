from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from smt_engine.clock import AcceleratedClock, SimulatedClock, WallClock

T0 = datetime(2026, 1, 12, tzinfo=UTC)


async def test_simulated_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = SimulatedClock(T0)
    woke: list[tuple[str, datetime]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper("late", 30)), asyncio.create_task(sleeper("early", 10))]
    await asyncio.sleep(0)
    assert clock.next_deadline == T0 + timedelta(seconds=10)
    await clock.advance(20)
    assert woke == [("early", T0 + timedelta(seconds=10))]
    assert clock.now() == T0 + timedelta(seconds=20)
    await clock.advance(10)
    assert woke[-1] == ("late", T0 + timedelta(seconds=30))
    await asyncio.gather(*tasks)


async def test_periodic_task_ticks_once_per_interval() -> None:
    clock = SimulatedClock(T0)
    ticks: list[datetime] = []

    async def monitor() -> None:
        while True:
            ticks.append(clock.now())
            await clock.sleep(15)

    task = asyncio.create_task(monitor())
    await asyncio.sleep(0)
    await clock.advance(60)
    task.cancel()
    assert ticks == [T0 + timedelta(seconds=s) for s in (0, 15, 30, 45, 60)]


async def test_cancelled_sleepers_are_dropped() -> None:
    clock = SimulatedClock(T0)
    task = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    assert clock.next_deadline is None


async def test_accelerated_and_wall_clocks_are_timezone_aware() -> None:
    fast = AcceleratedClock(factor=600, start=T0)
    await fast.sleep(60)  # 0.1 s of real time
    assert fast.now() - T0 >= timedelta(seconds=60)
    assert fast.now().tzinfo is not None
    assert WallClock().now().tzinfo is not None
