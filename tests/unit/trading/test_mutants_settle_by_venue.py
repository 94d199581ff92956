"""Settling by the venue's word, value by value (README "The exchange is the source of truth";
docs/benchmarks.md, mutation testing, "The venue's word"): a position missing from one position list with
nothing to explain it waits ``trading.order_visibility`` before it is booked closed, each position on its
own clock, said once and loudly.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import CloseReason, Side
from smt_engine.store import Store
from smt_engine.trading.reconcile import PositionReconciler
from tests.unit.trading.reconcile_support import AiLogs, Venue, position
from tests.unit.trading.test_mutants_reconcile import at_venue

WAIT = timedelta(seconds=30)


def waiting_reconciler(store: Store, clock: SimulatedClock) -> PositionReconciler:
    return PositionReconciler(store, clock, Venue(), AiLogs(), unexplained_wait=WAIT)  # type: ignore[arg-type]


async def test_each_unexplained_absence_waits_on_its_own_clock_and_is_said_once(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    rec = waiting_reconciler(store, clock)
    long = position(store, Side.LONG)
    short = position(store, Side.SHORT)
    with caplog.at_level(logging.WARNING, logger="smt_engine.trading.reconcile"):
        assert await rec.close_out(long) is None
        await clock.advance(20)
        assert await rec.close_out(long) is None
        assert await rec.close_out(short) is None  # missing since now, not since the long went missing
        await clock.advance(10)
        assert await rec.close_out(long) == CloseReason.UNKNOWN  # 30 s: booked
        assert await rec.close_out(short) is None  # 10 s: still waiting
        await clock.advance(20)
        assert await rec.close_out(short) == CloseReason.UNKNOWN
    said = [r for r in caplog.records if getattr(r, "event", None) == "position.unexplained"]
    assert [(r.levelno, r.getMessage(), r.__dict__["position_id"]) for r in said] == [
        (
            logging.WARNING,
            f"ETHUSDT {side} is missing from the venue's position list and no order or fill explains it: "
            "not booked closed for up to 0:00:30 (its orders are left alone meanwhile)",
            pos.id,
        )
        for side, pos in ((Side.LONG, long), (Side.SHORT, short))
    ]


async def test_a_position_listed_again_waits_anew_the_next_time_it_is_missing(
    store: Store, clock: SimulatedClock
) -> None:
    """One empty answer, then the venue lists it again: an hour later another single empty answer is
    not a close either (the earlier absence ended when the position was listed)."""
    rec = waiting_reconciler(store, clock)
    pos = position(store, Side.LONG)
    assert await rec.close_out(pos) is None
    await clock.advance(2)
    rec.refresh(pos, at_venue(), [])
    await clock.advance(3600)
    assert await rec.close_out(pos) is None
    await clock.advance(30)
    assert await rec.close_out(pos) == CloseReason.UNKNOWN
