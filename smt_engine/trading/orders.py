"""Order and position state machines: the one way a row is made and a state changes, checked and audited.

Every order row is created by ``create_order`` and every position the venue lists becomes a row through
``venue_position``. Like the proposal's ``transition``, ``advance_order`` and ``move_position`` refuse
anything the transition tables in ``domain`` do not list and append an event naming the actor and the
reason, so an order's or a position's life can be replayed from the events table. Field updates that do
not change the state (an error text, an exchange id) go through ``update_order``/plain repository updates.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from smt_engine.domain import (
    ORDER_TRANSITIONS,
    POSITION_TRANSITIONS,
    EventLevel,
    OrderKind,
    OrderState,
    PositionState,
    Side,
)
from smt_engine.exchange.base import AlgoOrder, ExchangePosition
from smt_engine.store import Store
from smt_engine.store.records import Order, Position, Proposal

_ORDER_LEVEL = {
    OrderState.UNKNOWN: EventLevel.WARNING,
    OrderState.REJECTED: EventLevel.WARNING,
}


class IllegalOrderTransition(Exception):
    def __init__(self, what: str, ref: int | None, current: str, target: str) -> None:
        self.current, self.target = current, target
        super().__init__(f"{what} #{ref}: {current} -> {target} is not allowed")


def create_order(
    store: Store,
    at: datetime,
    *,
    symbol: str,
    side: Side,
    kind: OrderKind,
    size: Decimal,
    client_order_id: str | None = None,
    exchange_order_id: str | None = None,
    proposal_id: int | None = None,
    position_id: int | None = None,
    trigger_price: Decimal | None = None,
    request: dict[str, Any] | None = None,
    orphan: bool = False,
) -> Order:
    """Insert a new order row: the one way an order enters the books.

    Without a venue id it is our request about to go out: ``pending_submit`` under its deterministic
    client id, written before sending (docs/design.md, principle 2). With one, it is an order found at
    the venue (a leg, an orphan): ``submitted``, under ``exchange:<venue id>`` unless it carries a client
    id of ours that no other row holds.
    """
    if exchange_order_id is None:
        if not client_order_id:
            raise ValueError("an order we send needs its client order id")
        state = OrderState.PENDING_SUBMIT
    else:
        state = OrderState.SUBMITTED
        client_order_id = client_order_id or f"exchange:{exchange_order_id}"
    return store.orders.insert(
        Order(
            client_order_id=client_order_id,
            exchange_order_id=exchange_order_id,
            symbol=symbol,
            side=side,
            kind=kind,
            size=size,
            trigger_price=trigger_price,
            state=state,
            created_at=at,
            updated_at=at,
            proposal_id=proposal_id,
            position_id=position_id,
            request=request or {},
            orphan=orphan,
        )
    )


def advance_order(
    store: Store,
    order: Order | int,
    to: OrderState,
    *,
    actor: str,
    reason: str,
    at: datetime,
    **fields: Any,
) -> Order:
    """Move an order to ``to`` and audit it; ``to`` equal to the current state only updates ``fields``.

    A ``pending_submit`` order whose outcome is learnt from a lookup (filled, cancelled) passes through
    ``unknown`` first, so the audit trail shows that its request's answer was never seen.
    """
    order_id = order if isinstance(order, int) else order.id
    assert order_id is not None
    with store.transaction():
        current = store.orders.get(order_id)
        if current is None:
            raise KeyError(f"no order #{order_id}")
        if current.state is to:
            if fields:
                store.orders.update(order_id, updated_at=at, **fields)
        else:
            path = [to]
            if to not in ORDER_TRANSITIONS[current.state] and current.state is OrderState.PENDING_SUBMIT:
                path = [OrderState.UNKNOWN, to]
            state = current.state
            for step in path:
                if step not in ORDER_TRANSITIONS[state]:
                    raise IllegalOrderTransition("order", order_id, state.value, step.value)
                store.events.append(
                    at,
                    _ORDER_LEVEL.get(step, EventLevel.INFO),
                    f"order.{step.value}",
                    f"{current.kind.value} order {current.client_order_id} {current.symbol}: "
                    f"{state.value} -> {step.value} by {actor}" + (f": {reason}" if reason else ""),
                    proposal_id=current.proposal_id,
                    order_id=order_id,
                    position_id=fields.get("position_id", current.position_id),
                    data={"from": state.value, "to": step.value, "actor": actor, "reason": reason},
                )
                state = step
            store.orders.update(order_id, state=to, updated_at=at, **fields)
        updated = store.orders.get(order_id)
    assert updated is not None
    return updated


def update_order(store: Store, order: Order, at: datetime, **fields: Any) -> Order:
    """Change fields other than the state (error text, exchange id, price)."""
    assert order.id is not None
    assert "state" not in fields
    store.orders.update(order.id, updated_at=at, **fields)
    updated = store.orders.get(order.id)
    assert updated is not None
    return updated


def venue_position(
    ex: ExchangePosition,
    at: datetime,
    *,
    proposal: Proposal | None = None,
    tp: AlgoOrder | None = None,
    sl: AlgoOrder | None = None,
) -> Position:
    """The row of an open position the venue lists (record it with ``open_position``).

    With its ``proposal``: the proposal's leverage and TP/SL prices, and its margin when the venue
    reports none. Without one the position is adopted (unknown to the store): the venue's leverage and
    margin, and the ``tp``/``sl`` legs found resting on it.
    """
    if proposal is not None:
        return Position(
            symbol=ex.symbol,
            side=ex.side,
            size=ex.size,
            entry_price=ex.entry_price,
            opened_at=ex.opened_at,
            state=PositionState.OPEN,
            leverage=proposal.leverage,
            updated_at=at,
            margin=ex.margin if ex.margin > 0 else proposal.margin,
            tp_price=proposal.tp_price,
            sl_price=proposal.sl_price,
            unrealized_pnl=ex.unrealized_pnl,
            proposal_id=proposal.id,
        )
    return Position(
        symbol=ex.symbol,
        side=ex.side,
        size=ex.size,
        entry_price=ex.entry_price,
        opened_at=ex.opened_at,
        state=PositionState.OPEN,
        leverage=int(ex.leverage),
        margin=ex.margin,
        updated_at=at,
        unrealized_pnl=ex.unrealized_pnl,
        tp_price=tp.trigger_price if tp else None,
        sl_price=sl.trigger_price if sl else None,
        tp_order_id=tp.order_id if tp else None,
        sl_order_id=sl.order_id if sl else None,
        adopted=True,
    )


def open_position(
    store: Store,
    position: Position,
    *,
    actor: str,
    message: str,
    at: datetime,
    level: EventLevel = EventLevel.INFO,
) -> Position:
    """Record a new open position and append ``position.open``, so its life starts in the audit trail."""
    if position.state is not PositionState.OPEN:
        raise IllegalOrderTransition("position", position.id, position.state.value, PositionState.OPEN.value)
    with store.transaction():
        created = store.positions.insert(position)
        store.events.append(
            at,
            level,
            f"position.{PositionState.OPEN.value}",
            message,
            proposal_id=created.proposal_id,
            position_id=created.id,
            data={"from": None, "to": PositionState.OPEN.value, "actor": actor},
        )
    return created


def move_position(
    store: Store,
    position_id: int,
    to: PositionState,
    *,
    actor: str,
    message: str,
    at: datetime,
    level: EventLevel = EventLevel.INFO,
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> Position:
    """Move a position along open -> closing -> closed and append ``position.<state>`` with ``message``."""
    with store.transaction():
        current = store.positions.get(position_id)
        if current is None:
            raise KeyError(f"no position #{position_id}")
        if to not in POSITION_TRANSITIONS[current.state]:
            raise IllegalOrderTransition("position", position_id, current.state.value, to.value)
        store.positions.update(position_id, state=to, updated_at=at, **fields)
        store.events.append(
            at,
            level,
            f"position.{to.value}",
            message,
            proposal_id=fields.get("proposal_id", current.proposal_id),
            position_id=position_id,
            data={"from": current.state.value, "to": to.value, "actor": actor, **(data or {})},
        )
        updated = store.positions.get(position_id)
    assert updated is not None
    return updated


__all__ = [
    "IllegalOrderTransition",
    "advance_order",
    "create_order",
    "move_position",
    "open_position",
    "update_order",
    "venue_position",
]
