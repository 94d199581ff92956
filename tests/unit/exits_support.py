"""Stand-ins for the engine and its runtime, shared by the exit-code and demo stop tests: each call is
noted in order, so a test reads what was run, drained and closed, and in which order."""

from __future__ import annotations

import asyncio
from typing import Any


class StandInEngine:
    """The engine as `smt engine` and the demo drive it: every call noted; it runs until stopped (at once
    when ``signalled``, as by a SIGTERM), ends on its own after ``ends_after`` seconds of its clock, or
    fails with ``fails``."""

    def __init__(
        self,
        clock: Any = None,
        *,
        ends_after: float | None = None,
        fails: BaseException | None = None,
        signalled: bool = False,
    ) -> None:
        self.calls: list[str] = []
        self.clock = clock
        self.ends_after = ends_after
        self.fails = fails
        self._stop = asyncio.Event()
        if signalled:
            self._stop.set()

    def install_signal_handlers(self) -> None:
        self.calls.append("signals")

    def stop(self) -> None:
        self.calls.append("stop")
        self._stop.set()

    async def run(self) -> None:
        self.calls.append("run")
        if self.fails is not None:
            raise self.fails
        if self.ends_after is not None:
            await self.clock.sleep(self.ends_after)
            self.calls.append("ended")
            return
        await self._stop.wait()
        for _ in range(3):  # the drain: an order in flight finishes over a few turns of the loop
            await asyncio.sleep(0)
        self.calls.append("drained")


class StandInRuntime:
    def __init__(self, engine: StandInEngine) -> None:
        self.engine = engine

    async def aclose(self) -> None:
        self.engine.calls.append("aclose")


class Built:
    """``build_runtime`` replaced: its arguments noted, the stand-in returned (or ``fails`` raised)."""

    def __init__(self, engine: StandInEngine) -> None:
        self.engine = engine
        self.fails: BaseException | None = None
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] = {}
        self.count = 0

    def __call__(self, *args: Any, **kwargs: Any) -> StandInRuntime:
        self.count += 1
        self.args, self.kwargs = args, kwargs
        if self.fails is not None:
            raise self.fails
        return StandInRuntime(self.engine)
