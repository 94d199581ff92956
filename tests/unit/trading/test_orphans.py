"""The orphan sweep flags a leg that protects no position on the row that already is that order."""

from __future__ import annotations

from decimal import Decimal

from smt_engine.clock import SimulatedClock
from smt_engine.domain import OrderKind, OrderState, Side
from smt_engine.exchange.base import AlgoOrder, OrderStatus
from smt_engine.store import Store
from smt_engine.store.records import Order
from smt_engine.trading.orphans import OrphanSweep
from smt_engine.trading.tick_report import TickReport
from tests.unit.trading.conftest import NOW
from tests.unit.trading.scripted import ScriptedExchange


def leg(order_id: str, cid: str | None) -> AlgoOrder:
    return AlgoOrder(
        order_id=order_id,
        client_order_id=cid,
        symbol="ETHUSDT",
        position_side=Side.LONG,
        kind="sl",
        trigger_price=Decimal(1950),
        size=Decimal(1),
        status=OrderStatus.UNTRIGGERED,
        created_at=NOW,
    )


def pending(store: Store, cid: str) -> Order:
    return store.orders.insert(
        Order(
            client_order_id=cid,
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=OrderKind.SL,
            size=Decimal(1),
            state=OrderState.PENDING_SUBMIT,
            created_at=NOW,
            updated_at=NOW,
        )
    )


async def test_a_flagged_leg_whose_answer_was_lost_is_flagged_on_its_own_row(
    store: Store, clock: SimulatedClock
) -> None:
    row = pending(store, "smt-x-msl2")
    sweep = OrphanSweep(store, clock, ScriptedExchange(prices={}, contract_map={}))
    report = TickReport()
    await sweep.sweep({}, [leg("9", "smt-x-msl2")], [], report, cancel=False)
    rows = [o for o in store.orders.select() if o.exchange_order_id == "9"]
    assert [o.id for o in rows] == [row.id]
    assert rows[0].orphan
    assert report.orphans_flagged == ["9"]


async def test_a_flagged_leg_no_row_knows_gets_one_and_another_rows_client_id_is_not_taken(
    store: Store, clock: SimulatedClock
) -> None:
    other = pending(store, "smt-y-msl2")
    store.orders.update(other.id, exchange_order_id="8")
    sweep = OrphanSweep(store, clock, ScriptedExchange(prices={}, contract_map={}))
    await sweep.sweep({}, [leg("9", "smt-y-msl2"), leg("10", None)], [], TickReport(), cancel=False)
    nine = store.orders.by_exchange_id("9")
    ten = store.orders.by_exchange_id("10")
    assert nine is not None
    assert nine.id != other.id
    assert nine.client_order_id == "exchange:9"
    assert nine.orphan
    assert ten is not None
    assert ten.client_order_id == "exchange:10"
    assert ten.orphan
    assert store.orders.by_exchange_id("8") == store.orders.get(other.id or 0)
