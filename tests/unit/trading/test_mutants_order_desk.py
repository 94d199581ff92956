"""The order desk, value by value (README "Never an order twice"; docs/benchmarks.md, mutation testing):
the row is written whole as ``pending_submit`` before a request goes out, state changes go through the
audited state machine with their reason, and a lost answer is resolved by looking the client id up,
patiently, never by resending.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EventLevel, OrderKind, OrderState, Side
from smt_engine.exchange.base import ExchangeOrder, ExchangeUnavailable, OrderStatus
from smt_engine.secrets import MASK, register_secret
from smt_engine.store import Store
from smt_engine.trading.order_desk import ACTOR, OrderDesk, error_text
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, drive, make_settings
from tests.unit.trading.scripted import ScriptedExchange


def desk_on(store: Store, clock: SimulatedClock) -> tuple[OrderDesk, ScriptedExchange]:
    ex = ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    return OrderDesk(ex, store, clock, make_settings()), ex


def test_a_client_id_names_the_database_the_reference_and_the_leg(
    store: Store, clock: SimulatedClock
) -> None:
    desk, _ = desk_on(store, clock)
    instance = store.instance_id()[:8]
    assert desk.cid(42, "sl2") == f"smt-{instance}-42-sl2"
    assert desk.entry_cid(42) == f"smt-{instance}-42-entry"
    assert desk.entry_cid(42) == desk.entry_cid(42)  # deterministic: a restart finds the same order


def test_a_new_order_is_written_whole_as_pending_before_any_request(
    store: Store, clock: SimulatedClock
) -> None:
    desk, ex = desk_on(store, clock)
    row = desk.new_order(
        "cid-1",
        "ETHUSDT",
        Side.SHORT,
        OrderKind.SL,
        Decimal("1.5"),
        proposal_id=None,
        position_id=None,
        trigger_price=Decimal(2040),
        request={"reason": "r"},
    )
    stored = store.orders.by_client_id("cid-1")
    assert stored == row
    assert row.id is not None
    assert (row.symbol, row.side, row.kind, row.size) == ("ETHUSDT", Side.SHORT, OrderKind.SL, Decimal("1.5"))
    assert row.state is OrderState.PENDING_SUBMIT
    assert row.created_at == NOW
    assert row.updated_at == NOW
    assert (row.trigger_price, row.request) == (Decimal(2040), {"reason": "r"})
    assert (row.proposal_id, row.position_id, row.exchange_order_id) == (None, None, None)
    assert ex.calls == []  # the desk only records: nothing went out
    bare = desk.new_order("cid-2", "ETHUSDT", Side.LONG, OrderKind.ENTRY, Decimal(1), proposal_id=None)
    assert bare.request == {}
    assert bare.trigger_price is None
    assert bare.position_id is None


def test_a_state_change_is_audited_with_its_reason(store: Store, clock: SimulatedClock) -> None:
    desk, _ = desk_on(store, clock)
    row = desk.new_order("cid-1", "ETHUSDT", Side.LONG, OrderKind.ENTRY, Decimal(1), proposal_id=None)
    sent = desk.update(row, state=OrderState.SUBMITTED, exchange_order_id="77", why="accepted")
    assert sent.state is OrderState.SUBMITTED
    assert sent.exchange_order_id == "77"
    event = store.events.of_kind("order.submitted")[0]
    assert event.data == {"from": "pending_submit", "to": "submitted", "actor": ACTOR, "reason": "accepted"}
    assert ACTOR == "executor"
    refused = desk.update(sent, state=OrderState.REJECTED, error="InvalidOrder: size")
    assert refused.state is OrderState.REJECTED
    assert refused.error == "InvalidOrder: size"
    assert store.events.of_kind("order.rejected")[0].data["reason"] == "InvalidOrder: size"


def test_a_state_change_without_a_reason_records_an_empty_one(store: Store, clock: SimulatedClock) -> None:
    desk, _ = desk_on(store, clock)
    row = desk.new_order("cid-1", "ETHUSDT", Side.LONG, OrderKind.ENTRY, Decimal(1), proposal_id=None)
    desk.update(row, state=OrderState.UNKNOWN)
    assert store.events.of_kind("order.unknown")[0].data["reason"] == ""


async def test_a_field_update_changes_no_state_and_audits_nothing(
    store: Store, clock: SimulatedClock
) -> None:
    desk, _ = desk_on(store, clock)
    row = desk.new_order("cid-1", "ETHUSDT", Side.LONG, OrderKind.ENTRY, Decimal(1), proposal_id=None)
    await clock.advance(5)
    updated = desk.update(row, exchange_order_id="77")
    assert updated.state is OrderState.PENDING_SUBMIT
    assert updated.exchange_order_id == "77"
    assert updated.updated_at == NOW + timedelta(seconds=5)
    assert [e.kind for e in store.events.recent(10)] == []


def test_an_event_is_appended_at_the_desks_clock(store: Store, clock: SimulatedClock) -> None:
    desk, _ = desk_on(store, clock)
    desk.event(EventLevel.CRITICAL, "position.close_failed", "could not close", position_id=None)
    (event,) = store.events.of_kind("position.close_failed")
    assert (event.level, event.message, event.at) == (EventLevel.CRITICAL, "could not close", NOW)


def _found(cid: str) -> ExchangeOrder:
    return ExchangeOrder(
        "9001",
        cid,
        "ETHUSDT",
        Side.LONG,
        False,
        "MARKET",
        OrderStatus.FILLED,
        Decimal(1),
        Decimal(1),
        None,
        Decimal(2000),
        NOW,
        NOW,
    )


async def test_a_lookup_asks_again_after_the_poll_interval_until_found(
    store: Store, clock: SimulatedClock
) -> None:
    desk, ex = desk_on(store, clock)
    asked: list[object] = []

    async def late(symbol: str, client_order_id: str) -> ExchangeOrder | None:
        asked.append(clock.now())
        return _found(client_order_id) if len(asked) == 3 else None

    ex.find_order = late  # type: ignore[method-assign]
    found = await drive(clock, desk.lookup("ETHUSDT", "cid-1"), step=0.5)
    assert found is not None
    assert found.order_id == "9001"
    assert asked == [NOW, NOW + timedelta(seconds=2), NOW + timedelta(seconds=4)]  # trading.poll_interval


async def test_a_lookup_gives_up_after_its_attempts_without_a_last_wait(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    desk, ex = desk_on(store, clock)
    asked: list[object] = []

    async def down(symbol: str, client_order_id: str) -> ExchangeOrder | None:
        asked.append(clock.now())
        raise ExchangeUnavailable("502")

    ex.find_order = down  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING):
        assert await drive(clock, desk.lookup("ETHUSDT", "cid-1", attempts=2), step=0.5) is None
    assert asked == [NOW, NOW + timedelta(seconds=2)]
    assert clock.now() < NOW + timedelta(seconds=4)  # no sleep after the last attempt
    assert [r.getMessage() for r in caplog.records] == [
        "lookup of cid-1 failed: ExchangeUnavailable: 502"
    ] * 2


def test_an_error_text_is_named_redacted_and_bounded() -> None:
    register_secret("sekrit-key-value")
    assert (
        error_text(ExchangeUnavailable("bad key sekrit-key-value")) == f"ExchangeUnavailable: bad key {MASK}"
    )
    long = error_text(ValueError("x" * 1000))
    assert len(long) == 500
    assert long.startswith("ValueError: xxx")


async def test_a_lookup_asks_three_times_by_default(store: Store, clock: SimulatedClock) -> None:
    desk, ex = desk_on(store, clock)
    asked: list[object] = []

    async def never(symbol: str, client_order_id: str) -> ExchangeOrder | None:
        asked.append(clock.now())
        return None

    ex.find_order = never  # type: ignore[method-assign]
    assert await drive(clock, desk.lookup("ETHUSDT", "cid-1"), step=0.5) is None
    assert asked == [NOW, NOW + timedelta(seconds=2), NOW + timedelta(seconds=4)]
