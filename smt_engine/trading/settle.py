"""After a position closes, none of its orders may look live in our books, nor be called gone on a guess.

The venue fills one protective order (or our close) and cancels or leaves behind the others. Each of
the position's orders that is still open in the store takes its real final state: the order that
closed the position is filled; an order the venue still shows as resting is left open (the orphan
sweep flags or cancels it); a TP/SL leg the venue knows by id but lists nowhere (WEEX lists attached
take-profits on no open-order endpoint) is left to the in-flight tracker, which asks the venue for it
and cancels it there, recording it cancelled only when the venue confirms; any other order is gone
from the venue, so it is cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from smt_engine.domain import CloseReason, OrderKind, OrderState
from smt_engine.store import Store
from smt_engine.trading.orders import advance_order

log = logging.getLogger(__name__)

_LEGS = (OrderKind.TP, OrderKind.SL)
_TRIGGERED = {CloseReason.TAKE_PROFIT: OrderKind.TP, CloseReason.STOP_LOSS: OrderKind.SL}


def settle_orders(store: Store, now: datetime, position_id: int, resting: Collection[str]) -> list[int]:
    """Final states for a closed position's orders; ``resting`` are the venue's open order ids.

    Each change goes through ``advance_order`` so it is checked and audited like any other.
    Returns the ids of the order rows it changed.
    """
    pos = store.positions.get(position_id)
    if pos is None:
        return []
    triggered = _TRIGGERED.get(pos.close_reason) if pos.close_reason else None
    changed: list[int] = []
    for order in store.orders.for_position(position_id):
        if order.state.is_terminal or order.id is None:
            continue
        if order.exchange_order_id is not None and order.exchange_order_id in resting:
            continue
        closed_it = order.kind is triggered or (
            pos.close_order_id is not None and order.exchange_order_id == pos.close_order_id
        )
        if not closed_it and order.exchange_order_id is not None and order.kind in _LEGS:
            continue  # maybe still live at the venue: the in-flight tracker asks for it by id
        state = OrderState.FILLED if closed_it else OrderState.CANCELLED
        why = f"position #{position_id} closed ({pos.close_reason.value if pos.close_reason else 'unknown'})"
        advance_order(store, order.id, state, actor="settle", reason=why, at=now)
        changed.append(order.id)
        log.info(
            "%s order %s of closed position #%d: %s",
            order.kind.value,
            order.exchange_order_id or order.client_order_id,
            position_id,
            state.value,
            extra={"event": "order.settled", "position_id": position_id},
        )
    return changed
