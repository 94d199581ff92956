"""Settling a closed position's orders, value by value (README "When a position closes, its leftover TP/SL
orders are cancelled"; docs/benchmarks.md, mutation testing): the reason each change is recorded with,
and the event each change logs (the events table mirrors it).
"""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from smt_engine.domain import CloseReason, OrderKind, OrderState, PositionState, Side
from smt_engine.store import Store
from smt_engine.store.records import Order
from smt_engine.trading.settle import settle_orders
from tests.unit.trading.conftest import NOW, eth_position


def closed_position(store: Store, reason: CloseReason | None, close_order_id: str | None = None) -> int:
    pos = store.positions.insert(
        eth_position(
            size=Decimal(0),
            state=PositionState.CLOSED,
            close_reason=reason,
            close_order_id=close_order_id,
        )
    )
    assert pos.id is not None
    return pos.id


def order(store: Store, position_id: int, kind: OrderKind, exchange_id: str | None, cid: str) -> int:
    row = store.orders.insert(
        Order(
            client_order_id=cid,
            exchange_order_id=exchange_id,
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=kind,
            size=Decimal(1),
            state=OrderState.SUBMITTED,
            created_at=NOW,
            updated_at=NOW,
            position_id=position_id,
        )
    )
    assert row.id is not None
    return row.id


def test_a_position_closed_for_no_recorded_reason_fills_its_closer_as_unknown(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    pid = closed_position(store, None, close_order_id="x1")
    close = order(store, pid, OrderKind.CLOSE, "x1", "cid-close")
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.settle"):
        assert settle_orders(store, NOW, pid, resting=set()) == [close]
    event = store.events.of_kind("order.filled")[0]
    assert event.data["reason"] == f"position #{pid} closed (unknown)"
    assert event.data["actor"] == "settle"
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "order.settled"]
    assert record.getMessage() == f"close order x1 closed position #{pid}: filled"
    assert record.levelno == logging.INFO
    assert record.position_id == pid  # type: ignore[attr-defined]


def test_the_closing_order_is_filled_and_logged_by_its_venue_id(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    pid = closed_position(store, CloseReason.MANUAL, close_order_id="x9")
    close = order(store, pid, OrderKind.CLOSE, "x9", "cid-close")
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.settle"):
        assert settle_orders(store, NOW, pid, resting=set()) == [close]
    event = store.events.of_kind("order.filled")[0]
    assert event.data["reason"] == f"position #{pid} closed (manual)"
    messages = [r.getMessage() for r in caplog.records if getattr(r, "event", None) == "order.settled"]
    assert messages == [f"close order x9 closed position #{pid}: filled"]


def test_a_leg_without_a_venue_id_is_left_for_the_venue_to_answer(store: Store) -> None:
    """Its answer was lost: the venue may hold it, cancelled or live; the tracker asks by client id."""
    pid = closed_position(store, CloseReason.MANUAL, close_order_id="x9")
    leg = order(store, pid, OrderKind.SL, None, "cid-sl")
    assert settle_orders(store, NOW, pid, resting={"x9"}) == []
    row = store.orders.get(leg)
    assert row is not None
    assert row.state is OrderState.SUBMITTED


def test_the_closer_still_listed_as_resting_is_not_filled(store: Store) -> None:
    pid = closed_position(store, CloseReason.MANUAL, close_order_id="x9")
    close = order(store, pid, OrderKind.CLOSE, "x9", "cid-close")
    assert settle_orders(store, NOW, pid, resting={"x9"}) == []
    row = store.orders.get(close)
    assert row is not None
    assert row.state is OrderState.SUBMITTED


def test_an_unknown_position_settles_nothing(store: Store) -> None:
    assert settle_orders(store, NOW, 12345, resting=set()) == []
