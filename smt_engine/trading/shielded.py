"""Work that must finish even when the engine stops: an order in flight and its TP/SL confirmation.

Entries (automatic and manual), operator commands and monitor ticks run as shielded tasks: cancelling
the engine's loops abandons analysis and waiting, never a request half-sent. On stop the engine drains
them, bounded by ``engine.shutdown_timeout`` (which fits the unit's ``TimeoutStopSec``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


class ShieldedWork:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self, work: Awaitable[T]) -> T:
        """Run ``work`` to completion even if the caller is cancelled (the caller stops waiting)."""
        task: asyncio.Task[T] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)

    @property
    def pending(self) -> int:
        return sum(1 for t in self._tasks if not t.done())

    async def drain(self, limit_s: float) -> int:
        """Wait (real time, at most ``limit_s`` s) for the work in flight; returns how many did not end."""
        waiting = [t for t in self._tasks if not t.done()]
        if not waiting:
            return 0
        _, left = await asyncio.wait(waiting, timeout=limit_s)
        for task in waiting:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved here: the caller that was cancelled never will
        return len(left)
