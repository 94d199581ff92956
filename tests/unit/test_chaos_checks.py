"""The chaos bench's book checks, on hand-built order rows, positions and venue legs: each counts the
case it exists for and nothing in the case next to it."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from chaos_checks import (  # noqa: E402  (bench/ is a folder of scripts, not a package)
    Held,
    Tally,
    Truth,
    VenueOrder,
    books_contradict_venue,
    by_venue_id,
    duplicate_rows,
    filled_entries_of_failed_proposals,
    legs_of_closed_positions,
    orphan_legs,
    stops_missing,
)

from smt_engine.domain import OrderKind, OrderState, PositionState, ProposalState, Side  # noqa: E402
from smt_engine.exchange.base import OrderStatus  # noqa: E402
from smt_engine.store.records import Order, Position  # noqa: E402

AT = datetime(2026, 1, 1, tzinfo=UTC)
ETH_LONG = ("ETHUSDT", Side.LONG)


def leg(
    order_id: str, kind: str, size: str = "1", symbol: str = "ETHUSDT", side: Side = Side.LONG
) -> VenueOrder:
    return VenueOrder(
        order_id=order_id,
        symbol=symbol,
        side=side,
        kind=kind,
        leg=True,
        status=OrderStatus.UNTRIGGERED,
        size=Decimal(size),
        trigger_price=Decimal(3000),
    )


def row(
    exchange_id: str,
    kind: OrderKind,
    position_id: int | None,
    state: OrderState = OrderState.SUBMITTED,
    row_id: int = 1,
) -> Order:
    return Order(
        client_order_id=f"c{row_id}",
        symbol="ETHUSDT",
        side=Side.LONG,
        kind=kind,
        size=Decimal(1),
        state=state,
        created_at=AT,
        updated_at=AT,
        exchange_order_id=exchange_id,
        position_id=position_id,
        id=row_id,
    )


def position(position_id: int, state: PositionState) -> Position:
    return Position(
        symbol="ETHUSDT",
        side=Side.LONG,
        size=Decimal(1),
        entry_price=Decimal(3000),
        opened_at=AT,
        state=state,
        leverage=5,
        updated_at=AT,
        id=position_id,
    )


HELD: Held = {ETH_LONG: Decimal(1)}
BOOKS = {1: position(1, PositionState.CLOSED), 2: position(2, PositionState.OPEN)}


def test_the_truth_parses_the_fake_venues_answer() -> None:
    answer = {
        "orders": [
            {
                "order_id": "9",
                "symbol": "ETHUSDT",
                "side": "LONG",
                "kind": "tp",
                "leg": True,
                "status": "untriggered",
                "size": "0.5",
                "trigger_price": "3100",
            },
            {
                "order_id": "10",
                "symbol": "BTCUSDT",
                "side": "SHORT",
                "kind": "entry",
                "leg": False,
                "status": "new",
                "size": "0.01",
                "trigger_price": None,
            },
        ],
        "positions": [{"symbol": "ETHUSDT", "side": "LONG", "size": "0.5"}],
        "prices": {"ETHUSDT": "3050.5"},
    }
    truth = Truth.parse(answer)
    assert [o.order_id for o in truth.legs] == ["9"]
    assert truth.legs[0].trigger_price == Decimal(3100)
    assert truth.legs[0].size == Decimal("0.5")
    assert truth.held == {ETH_LONG: Decimal("0.5")}
    assert truth.prices == {"ETHUSDT": Decimal("3050.5")}


def test_an_attached_take_profit_of_a_flat_symbol_is_left_over() -> None:
    assert orphan_legs({}, [leg("7", "tp")]) == ["tp 7 on ETHUSDT LONG"]
    assert orphan_legs(HELD, [leg("7", "tp")]) == []


def test_a_take_profit_of_a_closed_position_counts_even_on_a_held_side() -> None:
    rows = by_venue_id([row("7", OrderKind.TP, 1), row("8", OrderKind.SL, 2, row_id=2)])
    legs = [leg("7", "tp"), leg("8", "sl")]
    assert len(legs_of_closed_positions(HELD, legs, rows, BOOKS)) == 1
    assert len(legs_of_closed_positions({}, legs, rows, BOOKS)) == 1
    own = by_venue_id([row("7", OrderKind.TP, 2), row("8", OrderKind.SL, 2, row_id=2)])
    assert legs_of_closed_positions(HELD, legs, own, BOOKS) == []


def test_a_closed_positions_stop_counts_only_where_the_engine_would_cancel_it() -> None:
    old_stop = row("7", OrderKind.SL, 1)
    # The newer position has a stop of its own: the old one must go.
    rows = by_venue_id([old_stop, row("8", OrderKind.SL, 2, row_id=2)])
    assert len(legs_of_closed_positions(HELD, [leg("7", "sl"), leg("8", "sl")], rows, BOOKS)) == 1
    # It is the held side's only stop: kept on purpose, not counted here.
    assert legs_of_closed_positions(HELD, [leg("7", "sl")], by_venue_id([old_stop]), BOOKS) == []
    # Nothing held on that side: it counts.
    assert len(legs_of_closed_positions({}, [leg("7", "sl")], by_venue_id([old_stop]), BOOKS)) == 1


def test_a_leg_unknown_to_the_books_is_no_closed_positions_leg() -> None:
    assert legs_of_closed_positions({}, [leg("7", "tp")], {}, BOOKS) == []


def test_a_position_needs_a_stop_of_its_own_covering_its_size() -> None:
    open_ids = {ETH_LONG: 2}
    own = by_venue_id([row("8", OrderKind.SL, 2)])
    assert stops_missing(HELD, [leg("8", "sl")], own, open_ids) == []
    assert stops_missing(HELD, [leg("8", "sl")], {}, open_ids) == []  # unknown to the books: adopted
    assert stops_missing(HELD, [leg("8", "sl", size="0.4")], own, open_ids) == ["ETHUSDT LONG 1"]
    assert stops_missing(HELD, [leg("8", "tp")], own, open_ids) == ["ETHUSDT LONG 1"]
    old = by_venue_id([row("8", OrderKind.SL, 1)])
    assert stops_missing(HELD, [leg("8", "sl")], old, open_ids) == ["ETHUSDT LONG 1"]
    other_side = leg("8", "sl", side=Side.SHORT)
    assert stops_missing(HELD, [other_side], {}, open_ids) == ["ETHUSDT LONG 1"]


def test_a_finished_row_of_an_order_open_at_the_venue_contradicts_it() -> None:
    venue = [leg("7", "tp")]
    for state in (OrderState.FILLED, OrderState.CANCELLED):
        found = books_contradict_venue([row("7", OrderKind.TP, 1, state)], venue)
        assert found == [f"tp 7 {state.value} in the books, open at the venue"]
    assert books_contradict_venue([row("7", OrderKind.TP, 1)], venue) == []
    assert books_contradict_venue([row("6", OrderKind.TP, 1, OrderState.FILLED)], venue) == []


def test_two_rows_for_one_venue_order_are_a_duplicate() -> None:
    assert duplicate_rows([row("7", OrderKind.TP, 1), row("7", OrderKind.TP, 1, row_id=2)]) == [
        "venue order 7: rows [1, 2]"
    ]
    assert duplicate_rows([row("7", OrderKind.TP, 1), row("8", OrderKind.SL, 1, row_id=2)]) == []


def test_rows_by_venue_id_keep_the_first_row() -> None:
    first, second = row("7", OrderKind.TP, 1), row("7", OrderKind.TP, 2, row_id=2)
    assert by_venue_id([first, second])["7"] is first


def test_a_check_that_found_nothing_is_still_counted_as_made() -> None:
    tally = Tally()
    tally.add("books_contradict_venue", [])
    tally.add("duplicate_rows_per_venue_order", ["venue order 7: rows [1, 2]"])
    assert tally.runs["books_contradict_venue"] == 1
    assert tally.counts["books_contradict_venue"] == 0
    assert tally.counts["duplicate_rows_per_venue_order"] == 1
    assert not tally.clean
    assert tally.runs["legs_of_closed_positions"] == 0


def test_a_filled_entry_of_a_failed_proposal_is_a_lost_trade_and_nothing_next_to_it() -> None:
    def entry(row_id: int, state: OrderState) -> Order:
        return replace(row(f"e{row_id}", OrderKind.ENTRY, None, state, row_id), proposal_id=row_id)

    rows = [
        entry(1, OrderState.FILLED),  # proposal failed: lost
        entry(2, OrderState.PARTIALLY_FILLED),  # proposal failed: lost
        entry(3, OrderState.FILLED),  # proposal closed: booked
        entry(4, OrderState.CANCELLED),  # proposal failed: nothing traded
        replace(row("tp5", OrderKind.TP, None, OrderState.FILLED, 5), proposal_id=5),  # not an entry
    ]
    states = {
        1: ProposalState.FAILED,
        2: ProposalState.FAILED,
        3: ProposalState.CLOSED,
        4: ProposalState.FAILED,
        5: ProposalState.FAILED,
    }
    assert filled_entries_of_failed_proposals(rows, states) == [
        "proposal #1: entry c1 filled, proposal failed",
        "proposal #2: entry c2 partially_filled, proposal failed",
    ]
