"""The demo's paced clock: real time while a proposal waits, no jump when the pace changes, and the
console's followed clock agreeing with the engine's."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.demo_pace import (
    REAL_TIME,
    Anchor,
    FollowedClock,
    PacedClock,
    pace_by_waiting_proposals,
    pace_file,
)
from smt_engine.domain import ProposalState, Side
from smt_engine.store import Store
from smt_engine.store.records import Proposal

START = datetime(2026, 1, 30, 8, 0, tzinfo=UTC)


def test_anchor_round_trips_and_computes_now() -> None:
    anchor = Anchor(START, 1000.0, 60.0)
    assert Anchor.loads(anchor.dumps()) == anchor
    assert anchor.now(1001.0) == START + timedelta(minutes=1)


def test_pace_change_has_no_jump_and_the_console_follows(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    clock = PacedClock(pace_file(db), 60.0, START, real_start=0.0)  # long ago: demo time far ahead
    follower = FollowedClock(pace_file(db), Anchor(START, 0.0, 60.0))
    before = clock.now()
    clock.set_factor(REAL_TIME)
    after = clock.now()
    # Nothing moves backwards and nothing leaps: the new pace starts from the current demo time.
    assert timedelta(0) <= after - before < timedelta(minutes=5)
    assert clock.factor == REAL_TIME
    assert abs(follower.now() - clock.now()) < timedelta(seconds=30)
    clock.set_factor(60.0)
    assert abs(follower.now() - clock.now()) < timedelta(minutes=5)


def test_follower_keeps_its_fallback_without_a_file(tmp_path: Path) -> None:
    follower = FollowedClock(tmp_path / "none.pace", Anchor(START, 0.0, 1.0))
    assert follower.now() > START


def test_a_bad_factor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        PacedClock(tmp_path / "p", 0, START, 0.0)


async def test_sleep_lasts_its_demo_time_across_a_pace_change(tmp_path: Path) -> None:
    """A sleeper is never released before its demo time has passed, whatever the pace did meanwhile."""
    clock = PacedClock(tmp_path / "p.pace", 3600.0, START, real_start=time.time())
    begun = clock.now()
    sleeper = asyncio.create_task(clock.sleep(600))  # ten demo minutes: a sixth of a real second at 3600x
    await asyncio.sleep(0)
    clock.set_factor(7200.0)
    await sleeper
    assert clock.now() - begun >= timedelta(minutes=10)


async def test_pace_is_real_time_exactly_while_a_proposal_waits(store: Store, tmp_path: Path) -> None:
    clock = PacedClock(tmp_path / "p.pace", 60.0, START, 0.0)
    keeper = asyncio.create_task(pace_by_waiting_proposals(clock, store, 60.0))
    try:
        proposal = store.proposals.insert(
            Proposal(
                pair="ETH",
                symbol="ETHUSDT",
                side=Side.LONG,
                confidence=0.8,
                margin=Decimal(100),
                notional=Decimal(2000),
                leverage=20,
                size=Decimal(1),
                entry_ref=Decimal(2000),
                tp_price=Decimal(2100),
                sl_price=Decimal(1950),
                tp_pct=Decimal(5),
                sl_pct=Decimal("2.5"),
                state=ProposalState.PROPOSED,
                created_at=START,
            )
        )
        for _ in range(400):
            if clock.factor == REAL_TIME:
                break
            await asyncio.sleep(0.05)
        assert clock.factor == REAL_TIME
        store.proposals.update(proposal.id, state=ProposalState.REJECTED)
        for _ in range(400):
            if clock.factor == 60.0:
                break
            await asyncio.sleep(0.05)
        assert clock.factor == 60.0
    finally:
        keeper.cancel()
