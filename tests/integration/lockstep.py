"""Round trips counted, not timed: an HTTP transport that holds every request until the test answers a
round.

Each request the client sends waits at the gate; ``next_round`` lets every waiting request go to the
fake at once, waits for all their answers, then lets the engine run until it is waiting again (on the
gate or done). The requests released together are one round trip: what a venue 150 ms away costs as
one RTT, whatever the machine's load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

T = TypeVar("T")

QUIET_SPINS = 200
"""Loop iterations the engine gets to act on its answers (no I/O in between: every answer is read)."""


class LockstepTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.gated = False
        self.rounds: list[list[str]] = []
        """The requests of each round answered so far, as ``"METHOD /path"``."""
        self._waiting: list[tuple[str, asyncio.Future[None]]] = []
        self._in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.gated:
            released: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append((f"{request.method} {request.url.path}", released))
            await released  # counted in flight by ``next_round``
        else:
            self._in_flight += 1
        try:
            answer = await self.inner.handle_async_request(request)
            body = await answer.aread()  # read here: once a round is answered no I/O is left
            await answer.aclose()
        finally:
            self._in_flight -= 1
        return httpx.Response(answer.status_code, headers=answer.headers, content=body)

    @property
    def waiting(self) -> list[str]:
        return [name for name, _ in self._waiting]

    async def next_round(self) -> list[str]:
        """Answer every waiting request (one round trip); the requests answered."""
        batch, self._waiting = self._waiting, []
        self._in_flight += len(batch)
        for _, released in batch:
            released.set_result(None)
        await self.quiet()
        names = [name for name, _ in batch]
        self.rounds.append(names)
        return names

    async def quiet(self) -> None:
        """Until every released request is answered and the engine has acted on the answers."""
        while True:
            await asyncio.sleep(0.001)  # real I/O to the fake: a hang guard bounds the caller
            if self._in_flight == 0:
                break
        for _ in range(QUIET_SPINS):
            await asyncio.sleep(0)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def rounds_until_done(
    gate: LockstepTransport,
    work: Awaitable[T],
    after_round: Callable[[int], None] | None = None,
    limit: int = 20,
) -> T:
    """Run ``work`` with the gate shut, answering one round at a time (``after_round`` is told each
    round's number once the engine acted on it); ``work``'s result."""
    gate.gated = True
    task = asyncio.ensure_future(work)
    try:
        await gate.quiet()
        while not task.done():
            if not gate.waiting:
                raise AssertionError("the engine waits on something other than the venue")
            if len(gate.rounds) >= limit:
                raise AssertionError(f"more than {limit} round trips: {gate.rounds}")
            await gate.next_round()
            if after_round is not None:
                after_round(len(gate.rounds))
        return task.result()
    finally:
        gate.gated = False
        if not task.done():
            task.cancel()
