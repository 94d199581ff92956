"""Builders for the in-flight tracker's tests: a tracker on a scripted venue, order rows, venue orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from smt_engine.clock import SimulatedClock
from smt_engine.domain import OrderKind, OrderState, Pair, Side, Tier
from smt_engine.exchange.base import ExchangeOrder, OrderStatus
from smt_engine.store import Store
from smt_engine.store.records import Order, Proposal
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.execution import Executor
from smt_engine.trading.inflight import InFlightTracker
from smt_engine.trading.proposals import Candidate, ProposalBook
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, account, decision, make_settings
from tests.unit.trading.scripted import ScriptedExchange

WINDOW = timedelta(seconds=30)  # trading.order_visibility's default


def tracker_on(store: Store, clock: SimulatedClock) -> tuple[InFlightTracker, ScriptedExchange, Executor]:
    settings = make_settings(risk={"size_on_calibrated": False})
    ex = ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.now = clock.now
    executor = Executor(ex, store, clock, settings, AiLogOutbox(store, clock, settings))
    return InFlightTracker(settings, store, clock, executor), ex, executor


def an_order(
    store: Store,
    *,
    state: OrderState = OrderState.SUBMITTED,
    kind: OrderKind = OrderKind.ENTRY,
    age: timedelta = timedelta(minutes=5),
    exchange_id: str | None = None,
    cid: str = "smt-test-entry",
    proposal_id: int | None = None,
    position_id: int | None = None,
    side: Side = Side.LONG,
) -> Order:
    return store.orders.insert(
        Order(
            client_order_id=cid,
            symbol="ETHUSDT",
            side=side,
            kind=kind,
            size=Decimal("1.5"),
            state=state,
            created_at=NOW - age,
            updated_at=NOW - age,
            exchange_order_id=exchange_id,
            proposal_id=proposal_id,
            position_id=position_id,
        )
    )


def at_venue(
    cid: str | None, status: OrderStatus, *, oid: str = "9001", kind: str = "entry"
) -> ExchangeOrder:
    return ExchangeOrder(
        order_id=oid,
        client_order_id=cid,
        symbol="ETHUSDT",
        position_side=Side.LONG,
        reduce_only=False,
        order_type="MARKET",
        status=status,
        size=Decimal("1.5"),
        filled_size=Decimal("1.5") if status is OrderStatus.FILLED else Decimal(0),
        price=None,
        avg_price=Decimal(2000) if status is OrderStatus.FILLED else None,
        created_at=NOW - timedelta(minutes=5),
        updated_at=NOW - timedelta(minutes=5),
        kind=kind,  # type: ignore[arg-type]
    )


def state_of(store: Store, order: Order) -> OrderState:
    current = store.orders.get(order.id or 0)
    assert current is not None
    return current.state


def reasons(store: Store, kind: str) -> list[str]:
    return [str(e.data.get("reason")) for e in reversed(store.events.of_kind(kind))]


def approved(store: Store, clock: SimulatedClock, tracker: InFlightTracker) -> Proposal:
    out = ProposalBook(store, clock, tracker.settings).run_cycle(
        [Candidate(Pair("ETH", Tier.ONE), decision(), CONTRACTS["ETHUSDT"], PRICES["ETHUSDT"])],
        account(tracker.settings),
        cycle_id="c1",
    )
    assert len(out.approved) == 1
    return out.approved[0]
