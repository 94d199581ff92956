"""After a position closes, none of its orders may look live in our books, nor be called gone on a guess.

The venue fills one order (a TP/SL leg, our close, a liquidation) and cancels or leaves behind the
others. The order the venue named as the one that closed the position (``close_order_id``: from the
order history, or the pushed fill) is filled. Every other order of the position is left as it is: one
still resting is the orphan sweep's to cancel, and any other is the in-flight tracker's, which asks the
venue for it (by id, or by client id when the answer that carried the id was lost) and records what the
venue says, cancelling it there first when it is still open. No order is filled or cancelled on its kind
or on its absence from a listing: a position can carry two take-profits, and WEEX lists an attached
take-profit on no open-order endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from smt_engine.domain import OrderState
from smt_engine.store import Store
from smt_engine.trading.orders import advance_order

log = logging.getLogger(__name__)


def settle_orders(store: Store, now: datetime, position_id: int, resting: Collection[str]) -> list[int]:
    """Fill the order that closed ``position_id``; ``resting`` are the venue's open order ids.

    The change goes through ``advance_order`` so it is checked and audited like any other.
    Returns the ids of the order rows it changed.
    """
    pos = store.positions.get(position_id)
    if pos is None or pos.close_order_id is None:
        return []
    changed: list[int] = []
    for order in store.orders.for_position(position_id):
        if (
            order.state.is_terminal
            or order.id is None
            or order.exchange_order_id != pos.close_order_id
            or order.exchange_order_id in resting
        ):
            continue
        why = f"position #{position_id} closed ({pos.close_reason.value if pos.close_reason else 'unknown'})"
        advance_order(store, order.id, OrderState.FILLED, actor="settle", reason=why, at=now)
        changed.append(order.id)
        log.info(
            "%s order %s closed position #%d: filled",
            order.kind.value,
            order.exchange_order_id,
            position_id,
            extra={"event": "order.settled", "position_id": position_id},
        )
    return changed
