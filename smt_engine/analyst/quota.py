"""Quota and retries for Gemini calls: a spacing + token-bucket limiter, the server's retry hints, back-off.

The SDK does not retry by default and ignores the server's retry hint, so retries are ours: jittered
exponential back-off on 408/429/5xx and connection errors that waits at least the server's
``RetryInfo.retryDelay`` / ``Retry-After`` / "retry in Ns", and gives up when the hint exceeds
``backoff_max``.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_RETRY_IN_RE = re.compile(r"retry in\s+(\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


# --------------------------------------------------------------------------- rate limiting


class GeminiRateLimiter:
    """Minimum spacing between call starts plus a token bucket of ``per_minute`` tokens a minute.

    The bucket holds ``burst`` tokens (ten seconds of quota, at least one), which is also how many
    calls may be in flight at once. Time comes from ``monotonic``/``sleep`` (real time by default: the
    quota is Google's, not the engine's simulated clock), injectable for tests.
    """

    def __init__(
        self,
        min_spacing: float,
        per_minute: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.min_spacing = max(0.0, min_spacing)
        self.rate = per_minute / 60.0
        self.burst = max(1, math.ceil(per_minute / 6))
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._updated = monotonic()
        self._last_start: float | None = None
        self._lock = asyncio.Lock()
        self.concurrency = asyncio.Semaphore(self.burst)

    def _refill(self, now: float) -> None:
        self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> float:
        """Wait for permission to start one call; returns the seconds waited."""
        waited = 0.0
        async with self._lock:
            while True:
                now = self._monotonic()
                self._refill(now)
                wait = 0.0
                if self._last_start is not None:
                    wait = self._last_start + self.min_spacing - now
                if self._tokens < 1:
                    wait = max(wait, (1 - self._tokens) / self.rate)
                if wait <= 0:
                    self._tokens -= 1
                    self._last_start = now
                    return waited
                await self._sleep(wait)
                waited += wait


# --------------------------------------------------------------------------- retry hints


def _seconds(value: Any) -> float | None:
    if isinstance(value, str):
        m = _DURATION_RE.match(value)
        return float(m.group(1)) if m else None
    if isinstance(value, dict):  # protobuf Duration as an object
        try:
            return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
        except (TypeError, ValueError):
            return None
    return None


def retry_hint(exc: BaseException, now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait: ``RetryInfo.retryDelay``, ``Retry-After`` or "retry in Ns"."""
    details = getattr(exc, "details", None)
    error = details.get("error", details) if isinstance(details, dict) else None
    if isinstance(error, dict):
        for item in error.get("details") or []:
            if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
                seconds = _seconds(item.get("retryDelay"))
                if seconds is not None:
                    return seconds
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    raw = headers.get("Retry-After") if headers is not None else None
    if raw:
        raw = str(raw).strip()
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                when = None
            if when is not None and now is not None and when.tzinfo is not None:
                return max(0.0, (when - now).total_seconds())
    message = getattr(exc, "message", None) or str(exc)
    m = _RETRY_IN_RE.search(message or "")
    if m:
        value = float(m.group(1))
        return value / 1000 if m.group(2).lower() == "ms" else value
    return None


def backoff_delay(attempt: int, initial: float, maximum: float, hint: float | None) -> float:
    """Delay before attempt ``attempt + 1``: equal-jitter exponential, never shorter than the hint."""
    base = min(maximum, initial * 2.0 ** (attempt - 1))
    jittered = base / 2 + random.uniform(0, base / 2)
    if hint is None:
        return jittered
    # Never earlier than the server asked; spread concurrent retries a little past that instant.
    return max(hint, jittered) + random.uniform(0, min(1.0, hint * 0.1))
