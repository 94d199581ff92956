"""A hard cap on websocket handshakes per five minutes, shared by every WEEX stream of one engine.

WEEX's FAQ (V3(BETA) API FAQ, reference §5; ``external-apis.md`` A.9/A.11) allows 300 REST/WS
connection requests per 5 minutes per IP and bans the IP when it is exceeded, which takes REST down
too. Back-off alone is not a guarantee (a server that accepts, acks and closes at once would be met
with a handshake per back-off step on each stream), so every handshake of the private and the public
stream first takes a slot here; the default 60 per 5 minutes stays far below WEEX's 300 even with a
second process on the same IP. When the cap binds, a WARNING is raised once per binding spell.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from smt_engine.clock import Clock, WallClock

log = logging.getLogger(__name__)

WEEX_CONNECTIONS_PER_WINDOW = 300
"""WEEX's limit: connection requests per IP per 5 minutes (V3(BETA) API FAQ)."""
HANDSHAKE_WINDOW = 300.0
DEFAULT_HANDSHAKES_PER_WINDOW = 60


class HandshakeBudget:
    """Sliding-window handshake budget; ``acquire`` waits for a free slot (on the given clock)."""

    def __init__(
        self,
        limit: int = DEFAULT_HANDSHAKES_PER_WINDOW,
        window: float = HANDSHAKE_WINDOW,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_bind: Callable[[str, float], None] | None = None,
    ) -> None:
        if not 0 < limit < WEEX_CONNECTIONS_PER_WINDOW:
            raise ValueError(f"handshake cap {limit} must be between 1 and {WEEX_CONNECTIONS_PER_WINDOW - 1}")
        self.limit = limit
        self.window = window
        self._now = monotonic
        self._sleep = sleep
        self._on_bind = on_bind
        self._taken: deque[float] = deque()
        self._binding = False
        self.binds = 0
        self._lock = asyncio.Lock()

    @classmethod
    def on_clock(
        cls,
        clock: Clock,
        limit: int = DEFAULT_HANDSHAKES_PER_WINDOW,
        on_bind: Callable[[str, float], None] | None = None,
    ) -> HandshakeBudget:
        """A budget on the engine's clock (real time live, simulated time in tests)."""
        if isinstance(clock, WallClock):
            return cls(limit, on_bind=on_bind)
        return cls(limit, monotonic=lambda: clock.now().timestamp(), sleep=clock.sleep, on_bind=on_bind)

    def used(self) -> int:
        now = self._now()
        while self._taken and self._taken[0] <= now - self.window:
            self._taken.popleft()
        return len(self._taken)

    async def acquire(self, name: str) -> None:
        """Take a handshake slot for stream ``name``, waiting (and warning once) while none is free."""
        async with self._lock:
            while self.used() >= self.limit:
                wait = max(0.01, self._taken[0] + self.window - self._now())
                if not self._binding:
                    self._binding = True
                    self.binds += 1
                    log.warning(
                        "%s: %d websocket handshakes in %g s (the cap; WEEX bans an IP past %d): "
                        "waiting %.0f s before the next",
                        name,
                        self.limit,
                        self.window,
                        WEEX_CONNECTIONS_PER_WINDOW,
                        wait,
                        extra={"event": "stream.handshake_cap"},
                    )
                    if self._on_bind is not None:
                        self._on_bind(name, wait)
                await self._sleep(wait)
            self._binding = False
            self._taken.append(self._now())


__all__ = ["DEFAULT_HANDSHAKES_PER_WINDOW", "WEEX_CONNECTIONS_PER_WINDOW", "HandshakeBudget"]
