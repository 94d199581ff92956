"""The executor's leverage and the position it books, value by value (docs/safety-claims.md "Risk gates
live outside the analyst", "Everything is recorded"; docs/benchmarks.md, mutation testing): the
proposal's leverage is set on its symbol in the configured margin mode, unless a held position already has
it; a refusal while orders settle is retried the configured times a delay apart, the symbol's stale orders
cancelled before each try, and any other refusal fails the entry at once in the venue's words; the position
is booked for its proposal and its opening is said in the executor's name.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EngineState, Side
from smt_engine.exchange.base import ExchangePosition, InvalidOrder
from smt_engine.store import Store
from smt_engine.store.records import Proposal
from smt_engine.trading.execution import Executor
from smt_engine.trading.order_desk import error_text
from tests.unit.trading.conftest import CONTRACTS, PRICES, drive
from tests.unit.trading.scripted import OPENED_AT, Script, ScriptedExchange, listed_position
from tests.unit.trading.test_execution import setup


class _LeverageTimed(ScriptedExchange):
    """Records when each leverage request came; ``refusal`` (when set) is raised on every one."""

    asked_at: list[datetime]
    refusal: InvalidOrder | None = None
    clock_: SimulatedClock | None = None

    async def set_leverage(self, symbol: str, leverage: int, margin_mode: Any) -> None:
        assert self.clock_ is not None
        self.asked_at.append(self.clock_.now())
        if self.refusal is not None:
            self.calls.append(("set_leverage", (symbol, leverage, margin_mode)))
            raise self.refusal
        await super().set_leverage(symbol, leverage, margin_mode)


def _leverage_setup(
    store: Store, clock: SimulatedClock, script: Script, refusal: InvalidOrder | None = None
) -> tuple[Executor, _LeverageTimed, Proposal]:
    executor, _, proposal = setup(store, clock)
    ex = _LeverageTimed(prices=dict(PRICES), contract_map=dict(CONTRACTS), script=script)
    ex.asked_at, ex.refusal, ex.clock_ = [], refusal, clock
    return Executor(ex, store, clock, executor.settings), ex, proposal


def _held(side: Side, leverage: Decimal) -> ExchangePosition:
    return listed_position(
        side=side, size="7.77", opened_at=OPENED_AT, entry_price=Decimal(1234), margin=Decimal(100),
        leverage=leverage, position_id="pos-held",
    )  # fmt: skip


async def test_leverage_is_set_on_the_proposals_symbol_at_its_leverage_in_the_configured_margin_mode(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, proposal = setup(store, clock)
    executor.settings.trading.margin_mode = "isolated"
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    assert [a for c, a in ex.calls if c == "set_leverage"] == [("ETHUSDT", proposal.leverage, "isolated")]


async def test_a_held_position_already_at_the_proposals_leverage_is_not_asked_to_change(
    store: Store, clock: SimulatedClock
) -> None:
    """WEEX refuses a leverage change while a position's TP/SL rest: one already in force is left alone."""
    executor, ex, proposal = setup(store, clock)
    ex.positions_[("ETHUSDT", Side.SHORT)] = _held(Side.SHORT, Decimal(proposal.leverage))
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    assert ex.count("set_leverage") == 0


async def test_a_held_position_at_another_leverage_still_has_the_proposals_leverage_set(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, proposal = setup(store, clock)
    ex.positions_[("ETHUSDT", Side.SHORT)] = _held(Side.SHORT, Decimal(proposal.leverage + 1))
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    assert [a for c, a in ex.calls if c == "set_leverage"] == [("ETHUSDT", proposal.leverage, "cross")]


async def test_leverage_refused_for_open_orders_is_asked_the_configured_times_a_delay_apart_then_fails(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, proposal = _leverage_setup(store, clock, Script(leverage_open_orders=99))
    trading = executor.settings.trading
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed"
    refusal = InvalidOrder("leverage cannot be changed while there are open orders", code="40015")
    assert result.detail == f"leverage {proposal.leverage}x not set: {error_text(refusal)}"
    assert len(ex.asked_at) == trading.leverage_attempts == 4
    gaps = [later - earlier for earlier, later in zip(ex.asked_at, ex.asked_at[1:], strict=False)]
    assert all(gap >= trading.leverage_retry_delay for gap in gaps), gaps
    # the symbol's stale orders are cancelled before each try
    assert [a for c, a in ex.calls if c == "cancel_all"] == ["ETHUSDT"] * trading.leverage_attempts
    (failed,) = store.events.of_kind("proposal.failed")
    assert failed.data["reason"] == result.detail


async def test_leverage_set_at_the_last_attempt_opens_the_entry_each_retry_said_with_its_number(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    executor, ex, proposal = _leverage_setup(store, clock, Script(leverage_open_orders=3))
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.execution"):
        result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    assert len(ex.asked_at) == 4
    retries = [r.getMessage() for r in caplog.records if "leverage" in r.getMessage()]
    assert retries == [f"leverage refused while orders settle (attempt {n}): retrying" for n in (1, 2, 3)]


async def test_a_leverage_refusal_not_about_open_orders_fails_at_once_in_the_venues_words(
    store: Store, clock: SimulatedClock
) -> None:
    refusal = InvalidOrder("Leverage 50 exceeds the maximum of 20", code="40019")
    executor, ex, proposal = _leverage_setup(store, clock, Script(), refusal)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert (result.outcome, result.detail) == (
        "failed",
        f"leverage {proposal.leverage}x not set: {error_text(refusal)}",
    )
    assert len(ex.asked_at) == 1
    assert ex.count("place_order") == 0


async def test_an_open_orders_refusal_in_capitals_is_still_retried(
    store: Store, clock: SimulatedClock
) -> None:
    refusal = InvalidOrder("CANNOT CHANGE LEVERAGE WITH OPEN ORDERS", code="40015")
    executor, ex, proposal = _leverage_setup(store, clock, Script(), refusal)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed"
    assert len(ex.asked_at) == executor.settings.trading.leverage_attempts


async def test_the_opened_position_is_booked_for_its_proposal_and_its_opening_said_by_the_executor(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal = setup(store, clock)
    pid = proposal.id or 0
    opened_at = clock.now()
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    pos = result.position
    assert pos is not None
    assert (pos.proposal_id, pos.symbol, pos.side, pos.size, pos.entry_price) == (
        pid,
        "ETHUSDT",
        Side.LONG,
        Decimal("1.5"),
        Decimal(2000),
    )
    assert (pos.leverage, pos.tp_price, pos.sl_price, pos.opened_at) == (
        proposal.leverage,
        proposal.tp_price,
        proposal.sl_price,
        OPENED_AT,
    )
    (event,) = store.events.of_kind("position.open")
    assert (event.message, event.proposal_id, event.position_id) == (
        f"ETHUSDT LONG 1.5 @ 2000 opened by proposal #{pid}",
        pid,
        pos.id,
    )
    assert event.data == {"from": None, "to": "open", "actor": "executor"}
    assert event.at >= opened_at
