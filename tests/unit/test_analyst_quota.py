"""Rate limiter, retry hints and back-off, with injected time (no real waiting)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from email.utils import format_datetime
from types import SimpleNamespace

from smt_engine.analyst.quota import GeminiRateLimiter, backoff_delay, retry_hint


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


async def _starts(limiter: GeminiRateLimiter, clock: FakeTime, n: int) -> list[float]:
    out = []
    for _ in range(n):
        await limiter.acquire()
        out.append(clock.t)
    return out


async def test_minimum_spacing_between_call_starts() -> None:
    clock = FakeTime()
    limiter = GeminiRateLimiter(8.0, 600, monotonic=clock.monotonic, sleep=clock.sleep)
    starts = await _starts(limiter, clock, 4)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == [8.0, 8.0, 8.0]


async def test_token_bucket_limits_requests_per_minute() -> None:
    clock = FakeTime()
    limiter = GeminiRateLimiter(0.0, 12, monotonic=clock.monotonic, sleep=clock.sleep)
    assert limiter.burst == 2
    starts = await _starts(limiter, clock, 6)
    # Two tokens of burst, then one token every 5 s (12 a minute).
    assert [round(s - starts[0], 6) for s in starts] == [0.0, 0.0, 5.0, 10.0, 15.0, 20.0]
    # Over any 60 s window no more than 12 + burst starts can happen.
    more = await _starts(limiter, clock, 20)
    window = [s for s in starts + more if s < starts[0] + 60]
    assert len(window) <= 12 + limiter.burst


def _error(details: object = None, headers: dict[str, str] | None = None, message: str = "") -> object:
    return SimpleNamespace(details=details, response=SimpleNamespace(headers=headers or {}), message=message)


def test_retry_hint_sources() -> None:
    body = {
        "error": {
            "code": 429,
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20.5s"},
            ],
        }
    }
    assert retry_hint(_error(body)) == 20.5  # type: ignore[arg-type]
    assert retry_hint(_error({"error": {}}, {"Retry-After": "7"})) == 7.0  # type: ignore[arg-type]
    now = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 1, 20, 12, 0, 30, tzinfo=UTC), usegmt=True)
    assert retry_hint(_error({}, {"Retry-After": later}), now) == 30.0  # type: ignore[arg-type]
    assert retry_hint(_error({}, {}, "Quota exceeded. Please retry in 3.2s.")) == 3.2  # type: ignore[arg-type]
    assert retry_hint(_error({}, {}, "overloaded")) is None  # type: ignore[arg-type]


def test_backoff_is_jittered_exponential_and_respects_hints() -> None:
    for attempt, base in ((1, 2.0), (2, 4.0), (3, 8.0), (8, 60.0)):
        for _ in range(50):
            d = backoff_delay(attempt, 2.0, 60.0, None)
            assert base / 2 <= d <= base
    for _ in range(50):
        d = backoff_delay(1, 2.0, 60.0, 20.0)
        assert 20.0 <= d <= 21.0
        assert backoff_delay(3, 2.0, 60.0, 0.5) >= 4.0
