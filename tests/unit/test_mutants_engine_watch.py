"""What the engine watches while it runs: its heartbeat (a full disk or a swapped database stops it), the
monitor's pace (short while the stream is down, at once on a push) and the kill switch's halt."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import EngineState, EventLevel
from smt_engine.logsetup import EventsHandler
from smt_engine.store import Store
from smt_engine.store.errors import DatabaseFull
from smt_engine.trading.risk import ReasonCode
from tests.unit.engine_support import (
    T0,
    RecordingNotify,
    StandInStreams,
    engine_for,
    settle,
    state_row,
    turns,
)


@pytest.fixture
def recorded(store: Store) -> Iterator[None]:
    """What ``Engine.run`` sets up: INFO records carrying an event go to the events table."""
    handler = EventsHandler(store, SimulatedClock(T0))
    logging.getLogger().addHandler(handler)
    logging.getLogger("smt_engine").setLevel(logging.INFO)
    yield
    logging.getLogger().removeHandler(handler)


# --------------------------------------------------------------------------- heartbeat


@pytest.mark.parametrize(
    ("watchdog_usec", "every"),
    [("", 5), ("4000000", 2), ("20000000", 5)],
    ids=["no watchdog", "watchdog half sooner", "watchdog half later"],
)
async def test_the_heartbeat_beats_at_its_interval_or_the_watchdogs_half_if_sooner(
    store: Store, watchdog_usec: str, every: int
) -> None:
    clock = SimulatedClock(T0)
    notify = RecordingNotify(watchdog_usec)
    engine, _, _ = engine_for(store, clock, notify=notify)
    engine._start_row()
    beats = asyncio.create_task(engine._heartbeat_loop())
    seen = []
    for _ in range(12):
        await asyncio.sleep(0)
        row = store.engine.current()
        assert row is not None
        seen.append(int((row.heartbeat_at - T0).total_seconds()))
        await clock.advance(1)
    assert seen == [s - s % every for s in range(12)]
    assert notify.sent.count(("WATCHDOG=1",)) == len(range(0, 13, every))  # the beat at 12 s included
    beats.cancel()


async def test_a_fatal_database_error_stops_the_heartbeat_with_that_error(store: Store) -> None:
    clock = SimulatedClock(T0)
    engine, _, _ = engine_for(store, clock)
    engine._start_row()
    beats = asyncio.create_task(engine._heartbeat_loop())
    await clock.advance(5)
    full = DatabaseFull("the disk holding smt.db is full")
    store.conn.fatal = full  # type: ignore[attr-defined]
    await clock.advance(5)
    with pytest.raises(DatabaseFull) as stopped:
        await beats
    assert stopped.value is full
    row = store.engine.current()
    assert row is not None
    assert row.heartbeat_at == T0 + timedelta(seconds=5)  # nothing is written once the file is unusable


# --------------------------------------------------------------------------- the monitor's pace


@pytest.mark.parametrize(
    ("streams", "down", "recheck", "short", "period"),
    [
        (False, False, False, "2s", 15.0),
        (False, False, True, "2s", 2.0),
        (True, False, False, "2s", 15.0),
        (True, True, False, "2s", 2.0),
        (True, False, True, "2s", 2.0),
        (True, True, False, "20s", 15.0),
    ],
    ids=[
        "no stream",
        "no stream, a pushed close unconfirmed",
        "stream up",
        "stream down",
        "stream up, a pushed close unconfirmed",
        "stream down, the short period set longer",
    ],
)
def test_the_poll_period_is_short_only_while_the_stream_is_down_or_a_pushed_close_is_unconfirmed(
    store: Store, streams: bool, down: bool, recheck: bool, short: str, period: float
) -> None:
    settings = Settings.model_validate(
        {"engine": {"monitor_interval": "15s", "monitor_interval_stream_down": short}}
    )
    stand_in = StandInStreams()
    stand_in.private_down = down
    engine, monitor, _ = engine_for(
        store, SimulatedClock(T0), settings, streams=stand_in if streams else None
    )
    monitor.recheck_soon = recheck
    assert engine._monitor_period() == period


async def test_without_streams_the_monitor_waits_its_whole_period(store: Store) -> None:
    clock = SimulatedClock(T0)
    engine, _, _ = engine_for(store, clock)
    waiting = asyncio.create_task(engine._monitor_wait(7))
    await settle()
    await clock.advance(6.5)
    assert not waiting.done()
    await clock.advance(0.5)
    assert waiting.done()


async def test_a_stream_push_ends_the_monitors_wait_at_once(store: Store) -> None:
    clock = SimulatedClock(T0)
    streams = StandInStreams()
    engine, _, _ = engine_for(store, clock, streams=streams)
    waiting = asyncio.create_task(engine._monitor_wait(15))
    await settle()
    await clock.advance(3)
    assert not waiting.done()
    streams.wake.set()
    await turns(waiting.done)
    assert not streams.wake.is_set()  # the push was taken; the next wait waits for the next one
    assert clock.next_deadline is None  # no sleeper left behind
    streams.wake.set()  # pushed while a tick ran: the next wait ends without waiting
    waiting = asyncio.create_task(engine._monitor_wait(15))
    await turns(waiting.done)
    assert not streams.wake.is_set()
    assert clock.now() == T0 + timedelta(seconds=3)
    waiting = asyncio.create_task(engine._monitor_wait(15))
    await settle()
    await clock.advance(15)
    assert waiting.done()  # no push: the period ends the wait


# --------------------------------------------------------------------------- kill switch


@pytest.mark.usefixtures("recorded")
async def test_a_halt_is_recorded_once_with_its_reason_and_code(store: Store) -> None:
    clock = SimulatedClock(T0)
    engine, monitor, _ = engine_for(store, clock)
    engine._start_row()
    engine.state = EngineState.RUNNING
    assert monitor.on_halt == engine.halt
    engine.halt("daily loss 5.2% over the 5% limit", ReasonCode.DAILY_LOSS)
    engine.halt("drawdown 21% over the 20% limit", ReasonCode.MAX_DRAWDOWN)
    assert engine.state is EngineState.HALTED
    assert state_row(store) == (EngineState.HALTED, "daily loss 5.2% over the 5% limit")
    (halted,) = store.events.of_kind("engine.halted")
    assert (halted.level, halted.message, halted.data) == (
        EventLevel.CRITICAL,
        "engine HALTED: daily loss 5.2% over the 5% limit; entries refused until resumed",
        {"reason_code": "daily_loss_limit", "reason": "daily loss 5.2% over the 5% limit"},
    )


def test_only_a_running_engine_accepts_entries() -> None:
    assert [s for s in EngineState if s.accepts_entries] == [EngineState.RUNNING]
