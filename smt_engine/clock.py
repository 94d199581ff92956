"""Injectable time, so the same engine runs live, in the accelerated demo, in replays and in tests."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Time source for everything that schedules or timestamps."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend for ``seconds`` of this clock's time."""
        ...


class WallClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class AcceleratedClock:
    """Real time sped up by ``factor`` from ``start``: the interactive demo's clock.

    Anchored to the wall clock (``real_start``, Unix seconds) rather than a monotonic counter, so
    two processes given the same three numbers (the demo's engine and its console) agree on "now".
    """

    def __init__(self, factor: float, start: datetime | None = None, real_start: float | None = None) -> None:
        if factor <= 0:
            raise ValueError("factor must be positive")
        self.factor = factor
        self.start = start or datetime.now(UTC)
        self.real_start = time.time() if real_start is None else real_start

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.real_start) * self.factor)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.factor)


class SimulatedClock:
    """Time that moves only when told to: tests and the headless demo drive it with ``advance``.

    Sleepers are woken in deadline order as time passes them, and each wake-up gets a chance
    to run before the clock moves further, so causality holds within one ``advance`` call.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 12, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + timedelta(seconds=seconds), next(self._seq), fut))
        await fut

    @property
    def next_deadline(self) -> datetime | None:
        """Earliest pending wake-up, for drivers that jump straight to the next event."""
        self._drop_cancelled()
        return self._sleepers[0][0] if self._sleepers else None

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline falls inside the step."""
        target = self._now + timedelta(seconds=seconds)
        while True:
            self._drop_cancelled()
            if not self._sleepers or self._sleepers[0][0] > target:
                break
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            fut.set_result(None)
            await _settle()
        self._now = target
        await _settle()

    def _drop_cancelled(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)


async def _settle(rounds: int = 5) -> None:
    """Let woken tasks run up to their next await point."""
    for _ in range(rounds):
        await asyncio.sleep(0)
