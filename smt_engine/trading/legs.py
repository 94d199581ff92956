"""Every take-profit and stop-loss leg the engine learns of gets an order row, so none is forgotten.

WEEX leaves a closed position's legs resting, and lists an attached take-profit on no open-order endpoint
once its symbol holds no position (reference §3.4.3). A leg the books know only as a position's
``tp_order_id``, or not at all (one the venue attached to an entry a kill interrupted), is then invisible
to a restarted engine: it stays live at the venue and later fires on a new position of the same side.
An order row is what the in-flight tracker follows by id across restarts until the venue confirms the
leg cancelled, so a leg seen in any listing of a position, or in the order history that explains a
position's close, is recorded here at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from smt_engine.domain import OrderKind
from smt_engine.exchange.base import AlgoOrder
from smt_engine.exchange.precision import plain
from smt_engine.store import Store
from smt_engine.store.records import Order, Position
from smt_engine.trading.orders import create_order, update_order

log = logging.getLogger(__name__)


def track_legs(store: Store, at: datetime, position: Position, legs: Iterable[AlgoOrder]) -> list[Order]:
    """Record each open leg of ``position``'s symbol and side that no order row knows yet.

    Returns the rows it created. A leg already in the books keeps its row (and the position it was
    placed for); only the venue's word moves it on.
    """
    created: list[Order] = []
    for leg in legs:
        if (
            leg.symbol != position.symbol
            or leg.position_side is not position.side
            or not leg.status.is_open
            or leg.kind not in ("tp", "sl")
            or store.orders.by_exchange_id(leg.order_id) is not None
        ):
            continue
        cid = leg.client_order_id
        sent = store.orders.by_client_id(cid) if cid else None
        if sent is not None and sent.exchange_order_id is None:
            # Our own request whose answer was lost (a kill in flight): its row learns the id, and the
            # in-flight tracker finishes it; a second row would track one leg twice.
            update_order(store, sent, at, exchange_order_id=leg.order_id)
            continue
        created.append(
            create_order(
                store,
                at,
                client_order_id=cid if sent is None else None,  # a taken client id: the venue's id
                exchange_order_id=leg.order_id,
                symbol=leg.symbol,
                side=leg.position_side,
                kind=OrderKind(leg.kind),
                size=leg.size,
                trigger_price=leg.trigger_price,
                proposal_id=position.proposal_id,
                position_id=position.id,
            )
        )
        log.info(
            "%s leg %s on %s %s at %s is now tracked (position #%s)",
            leg.kind,
            leg.order_id,
            leg.symbol,
            leg.position_side,
            plain(leg.trigger_price),
            position.id,
            extra={"event": "order.leg_tracked", "position_id": position.id},
        )
    return created


__all__ = ["track_legs"]
