"""Client-side request budget, kept under WEEX's published per-IP weight and order limits, and told
by WEEX itself how much it has counted (``X-USED-WEIGHT-1M``, ``exchangeInfo.rateLimits``)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from smt_engine.clock import Clock, WallClock

WEEX_WEIGHT_LIMIT = 500
"""WEEX's documented budget: 500 weight per 10 s per IP (FAQ; reference §5)."""
DEFAULT_WEIGHT_BUDGET = WEEX_WEIGHT_LIMIT * 8 // 10
WEEX_ORDERS_PER_MINUTE = 50
"""WEEX's FAQ: 50 orders per minute (V3(BETA) API FAQ; reference §5: ``X-ORDER-COUNT-1M``)."""
DEFAULT_ORDERS_PER_MINUTE = WEEX_ORDERS_PER_MINUTE * 8 // 10
USED_WEIGHT_HEADROOM = 0.9
"""Past this share of the per-minute weight WEEX reports as used, new requests wait (429 is next)."""

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
    window and theirs and for other processes on the same IP; orders stay under 10 requests per second
    and under the FAQ's 50 orders per minute (40). WEEX's ``X-USED-WEIGHT-1M`` answer header pauses new
    requests when WEEX counts us near its minute limit, and ``exchangeInfo.rateLimits`` tightens the caps.
    """

    def __init__(
        self,
        weight_per_window: int = DEFAULT_WEIGHT_BUDGET,
        window: float = 10.0,
        orders_per_second: int = 8,
        orders_per_minute: int = DEFAULT_ORDERS_PER_MINUTE,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.capacity = weight_per_window
        self.window = window
        self.orders_per_second = orders_per_second
        self.orders_per_minute = orders_per_minute
        self.weight_per_minute = WEEX_WEIGHT_LIMIT * 6
        """WEEX's 1-minute weight limit behind ``X-USED-WEIGHT-1M``: unpublished, so 6 x the FAQ's 500 per
        10 s until ``exchangeInfo.rateLimits`` states it (``apply_rate_limits``)."""
        self.used_weight_1m: int | None = None
        self._now = monotonic
        self._sleep = sleep
        self._used: deque[tuple[float, int]] = deque()
        self._orders: deque[float] = deque()
        self.blocked_until = 0.0
        self._lock = asyncio.Lock()

    def apply_rate_limits(self, rows: object) -> None:
        """Tighten the budgets to what ``exchangeInfo.rateLimits`` states, if it states any.

        The rows are read in the ``{rateLimitType, interval, intervalNum, limit}`` form of WEEX's V3
        (Binance-style) API; the contract exchangeInfo examples show none, so an absent or unreadable
        list changes nothing. Orders keep 20 % headroom, as the defaults do."""
        if not isinstance(rows, list):
            return
        for row in rows:
            if not isinstance(row, dict):
                continue
            try:
                kind = str(row["rateLimitType"]).upper()
                interval = str(row["interval"]).upper()
                num = int(row.get("intervalNum", 1))
                limit = int(row["limit"])
            except (KeyError, TypeError, ValueError):
                continue
            if limit <= 0 or num <= 0:
                continue
            if kind == "REQUEST_WEIGHT" and interval == "MINUTE" and num == 1:
                self.weight_per_minute = limit
            elif kind == "ORDERS" and interval == "MINUTE" and num == 1:
                self.orders_per_minute = min(self.orders_per_minute, max(1, limit * 8 // 10))
            elif kind == "ORDERS" and interval == "SECOND":
                self.orders_per_second = min(self.orders_per_second, max(1, limit * 8 // 10 // num))
        if self.used_weight_1m is not None:  # the count WEEX just reported, against the stated limit
            self.note_used_weight(self.used_weight_1m)

    def note_used_weight(self, used: int) -> None:
        """WEEX's own count (``X-USED-WEIGHT-1M``, V3(BETA) docs) beats ours: near its limit, pause."""
        self.used_weight_1m = used
        if used >= self.weight_per_minute * USED_WEIGHT_HEADROOM:
            self.block(self.window)

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
                    wait = self._order_wait(now)
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._used.append((self._now(), weight))
            if is_order:
                self._orders.append(self._now())

    def _order_wait(self, now: float) -> float:
        """Seconds until one more order fits both the per-second and the per-minute cap."""
        while self._orders and self._orders[0] <= now - 60.0:
            self._orders.popleft()
        if len(self._orders) >= self.orders_per_minute:
            return self._orders[-self.orders_per_minute] + 60.0 - now
        last_second = [t for t in self._orders if t > now - 1.0]
        if len(last_second) >= self.orders_per_second:
            return last_second[-self.orders_per_second] + 1.0 - now
        return 0.0
