"""After a close, the order the venue named as the closer is filled; every other order is left for the
venue to answer (the in-flight tracker asks it), never filled or cancelled on a guess."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smt_engine.domain import CloseReason, OrderKind, OrderState, PositionState, Side
from smt_engine.store import Store
from smt_engine.store.records import Order
from smt_engine.trading.settle import settle_orders
from tests.unit.trading.conftest import NOW, eth_position


def _position(store: Store, reason: CloseReason, close_order_id: str | None = None) -> int:
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


def _order(store: Store, position_id: int, kind: OrderKind, exchange_id: str) -> int:
    order = store.orders.insert(
        Order(
            client_order_id=f"c-{exchange_id}",
            exchange_order_id=exchange_id,
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=kind,
            size=Decimal(1),
            state=OrderState.SUBMITTED,
            created_at=NOW,
            updated_at=NOW,
            position_id=position_id,
            trigger_price=Decimal(2100) if kind is OrderKind.TP else Decimal(1950),
        )
    )
    assert order.id is not None
    return order.id


def _state(store: Store, order_id: int) -> OrderState:
    order = store.orders.get(order_id)
    assert order is not None
    return order.state


@pytest.mark.parametrize(
    ("reason", "filled", "sibling"),
    [
        (CloseReason.TAKE_PROFIT, OrderKind.TP, OrderKind.SL),
        (CloseReason.STOP_LOSS, OrderKind.SL, OrderKind.TP),
    ],
)
def test_the_triggered_order_is_filled_and_its_unlisted_sibling_left_to_the_in_flight_tracker(
    store: Store, reason: CloseReason, filled: OrderKind, sibling: OrderKind
) -> None:
    closer = "tp-1" if filled is OrderKind.TP else "sl-1"
    pid = _position(store, reason, close_order_id=closer)
    ids = {
        OrderKind.TP: _order(store, pid, OrderKind.TP, "tp-1"),
        OrderKind.SL: _order(store, pid, OrderKind.SL, "sl-1"),
    }
    assert settle_orders(store, NOW, pid, resting=set()) == [ids[filled]]
    assert _state(store, ids[filled]) is OrderState.FILLED
    # WEEX lists an attached take-profit nowhere: unlisted is not gone, the tracker asks for it by id.
    assert _state(store, ids[sibling]) is OrderState.SUBMITTED


def test_of_two_take_profits_only_the_one_that_closed_the_position_is_filled(store: Store) -> None:
    """A position can carry two take-profits (the attached one and one placed when it was not seen);
    the other is live at the venue until the venue says otherwise."""
    pid = _position(store, CloseReason.TAKE_PROFIT, close_order_id="tp-placed")
    attached = _order(store, pid, OrderKind.TP, "tp-attached")
    placed = _order(store, pid, OrderKind.TP, "tp-placed")
    assert settle_orders(store, NOW, pid, resting=set()) == [placed]
    assert _state(store, placed) is OrderState.FILLED
    assert _state(store, attached) is OrderState.SUBMITTED


def test_an_order_still_resting_on_the_venue_stays_open_for_the_orphan_sweep(store: Store) -> None:
    pid = _position(store, CloseReason.MANUAL, close_order_id="close-9")
    sl = _order(store, pid, OrderKind.SL, "sl-2")
    close = _order(store, pid, OrderKind.CLOSE, "close-9")
    entry = _order(store, pid, OrderKind.ENTRY, "entry-9")
    assert settle_orders(store, NOW, pid, resting={"sl-2"}) == [close]
    assert _state(store, close) is OrderState.FILLED
    assert _state(store, entry) is OrderState.SUBMITTED  # not the closer: the venue is asked, not guessed
    assert _state(store, sl) is OrderState.SUBMITTED  # the venue still shows it: not our call to say gone


def test_a_close_no_order_explains_settles_nothing(store: Store) -> None:
    pid = _position(store, CloseReason.UNKNOWN)
    tp = _order(store, pid, OrderKind.TP, "tp-7")
    assert settle_orders(store, NOW, pid, resting=set()) == []
    assert _state(store, tp) is OrderState.SUBMITTED


def test_each_final_state_goes_through_the_audited_state_machine(store: Store) -> None:
    pid = _position(store, CloseReason.TAKE_PROFIT, close_order_id="tp-3")
    tp = _order(store, pid, OrderKind.TP, "tp-3")
    settle_orders(store, NOW, pid, resting=set())
    events = {e.order_id: e for e in store.events.recent(50) if e.kind.startswith("order.")}
    assert events[tp].kind == "order.filled"
    data = events[tp].data
    assert data["actor"] == "settle"
    assert data["from"] == "submitted"
    assert f"position #{pid} closed (take-profit)" in data["reason"]
    assert events[tp].position_id == pid


def test_a_finished_order_does_not_stop_the_rest_being_settled(store: Store) -> None:
    pid = _position(store, CloseReason.MANUAL, close_order_id="close-4")
    done = _order(store, pid, OrderKind.ENTRY, "entry-4")
    store.orders.update(done, state=OrderState.FILLED)
    close = _order(store, pid, OrderKind.CLOSE, "close-4")
    assert settle_orders(store, NOW, pid, resting=set()) == [close]
    assert _state(store, close) is OrderState.FILLED


def test_a_regular_order_still_resting_is_not_called_gone(store: Store) -> None:
    pid = _position(store, CloseReason.MANUAL, close_order_id="close-5")
    stale = _order(store, pid, OrderKind.CLOSE, "close-6")  # an earlier close the venue still lists
    assert settle_orders(store, NOW, pid, resting={"close-6"}) == []
    assert _state(store, stale) is OrderState.SUBMITTED
