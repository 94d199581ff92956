"""Component health: rows for status and console, loud events on every change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from smt_engine.domain import EventLevel, HealthStatus
from smt_engine.health import report_health
from smt_engine.store.db import Store

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class StepClock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> datetime:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)

    def advance(self, step: timedelta) -> None:
        self.t += step


def test_changes_are_announced_and_since_moves_only_on_change(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "h.db")
    clock = StepClock()
    report_health(store, clock, "exchange.stream.private", HealthStatus.OK, "connected")
    assert store.events.count() == 0  # a first OK is not news
    clock.advance(timedelta(seconds=5))
    report_health(store, clock, "exchange.stream.private", HealthStatus.DOWN, "connection reset")
    clock.advance(timedelta(seconds=5))
    report_health(store, clock, "exchange.stream.private", HealthStatus.DOWN, "retrying in 2s")
    row = store.health.get("exchange.stream.private")
    assert row is not None
    assert row.status is HealthStatus.DOWN
    assert row.since == T0 + timedelta(seconds=5)
    assert row.updated_at == T0 + timedelta(seconds=10)
    assert row.detail == "retrying in 2s"
    clock.advance(timedelta(seconds=5))
    report_health(store, clock, "exchange.stream.private", HealthStatus.OK, "reconnected")
    events = list(reversed(store.events.recent()))
    assert [(e.kind, e.level) for e in events] == [
        ("health.degraded", EventLevel.ERROR),
        ("health.recovered", EventLevel.INFO),
    ]
    assert events[0].data["component"] == "exchange.stream.private"
    assert events[0].data["to"] == "down"


def test_first_report_of_a_fault_is_loud(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "h.db")
    report_health(store, StepClock(), "analyst.model", HealthStatus.WARN, "gemini-x retired")
    (event,) = store.events.recent()
    assert event.kind == "health.degraded"
    assert event.level is EventLevel.WARNING
    assert [h.component for h in store.health.all()] == ["analyst.model"]
