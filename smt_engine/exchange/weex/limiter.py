"""Client-side request budget, kept under WEEX's published per-IP weight limit."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from smt_engine.clock import Clock, WallClock

WEEX_WEIGHT_LIMIT = 500
"""WEEX's documented budget: 500 weight per 10 s per IP (FAQ; reference §5)."""
DEFAULT_WEIGHT_BUDGET = WEEX_WEIGHT_LIMIT * 8 // 10

WEIGHTS: dict[str, int] = {
    "/capi/v3/market/time": 1,
    "/capi/v3/market/exchangeInfo": 1,
    "/capi/v3/market/ticker/24hr": 40,
    "/capi/v3/market/klines": 1,
    "/capi/v3/market/historyKlines": 5,
    "/capi/v3/account/balance": 10,
    "/capi/v3/account/position/allPosition": 15,
    "/capi/v3/account/position/singlePosition": 3,
    "/capi/v3/account/leverage": 20,
    "/capi/v3/order": 5,
    "/capi/v3/openOrders": 10,
    "/capi/v3/order/history": 10,
    "/capi/v3/userTrades": 5,
    "/capi/v3/allOpenOrders": 10,
    "/capi/v3/openAlgoOrders": 3,
    "/capi/v3/algoOrder": 3,
    "/capi/v3/algoOpenOrders": 10,
    "/capi/v3/placeTpSlOrder": 5,
    "/capi/v3/closePositions": 50,
    "/capi/v3/order/uploadAiLog": 1,
    "/capi/v2/order/uploadAiLog": 1,
}
"""Per-endpoint weight (the larger of WEEX's IP/UID weights and Weex.Net's, reference §3)."""

ORDER_PATHS = frozenset({"/capi/v3/order", "/capi/v3/placeTpSlOrder", "/capi/v3/algoOrder"})


class WeightLimiter:
    """Sliding-window weight budget plus a separate order-rate budget; a 429 blocks everything.

    WEEX's FAQ (checked 2026-11-30) allows 500 weight per 10 s per IP and bans for 10 s on a 429, so the
    default budget keeps 20 % headroom (400; ``exchange.rate_limit_weight``) for clock skew between our
    window and theirs and for other processes on the same IP; orders stay under 10 requests per second.
    """

    def __init__(
        self,
        weight_per_window: int = DEFAULT_WEIGHT_BUDGET,
        window: float = 10.0,
        orders_per_second: int = 8,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.capacity = weight_per_window
        self.window = window
        self.orders_per_second = orders_per_second
        self._now = monotonic
        self._sleep = sleep
        self._used: deque[tuple[float, int]] = deque()
        self._orders: deque[float] = deque()
        self.blocked_until = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def on_clock(cls, clock: Clock, weight_per_window: int = DEFAULT_WEIGHT_BUDGET) -> WeightLimiter:
        """A limiter whose window runs on the engine's clock: real monotonic time under ``WallClock``,
        simulated time in tests and the accelerated demo (where the venue is simulated too)."""
        if isinstance(clock, WallClock):
            return cls(weight_per_window)
        return cls(weight_per_window, monotonic=lambda: clock.now().timestamp(), sleep=clock.sleep)

    def block(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, self._now() + seconds)

    def used(self) -> int:
        now = self._now()
        while self._used and self._used[0][0] <= now - self.window:
            self._used.popleft()
        return sum(w for _, w in self._used)

    async def acquire(self, weight: int, is_order: bool = False) -> None:
        weight = min(weight, self.capacity)
        async with self._lock:
            while True:
                now = self._now()
                wait = max(0.0, self.blocked_until - now)
                if not wait and self.used() + weight > self.capacity:
                    wait = self._used[0][0] + self.window - now
                if not wait and is_order:
                    while self._orders and self._orders[0] <= now - 1.0:
                        self._orders.popleft()
                    if len(self._orders) >= self.orders_per_second:
                        wait = self._orders[0] + 1.0 - now
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._used.append((self._now(), weight))
            if is_order:
                self._orders.append(self._now())
