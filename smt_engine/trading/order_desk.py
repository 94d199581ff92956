"""The order desk: how every order the engine sends is recorded and how a lost answer is resolved.

Entry, protection and closing send orders the same way: a deterministic client id, an order row
written as ``pending_submit`` before the request goes out (so a crash can never lead to a second
send), state changes through the audited order state machine, and an unknown outcome resolved by
looking the client id up at the venue, never by resending.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import EventLevel, OrderKind, OrderState, Side
from smt_engine.exchange.base import Exchange, ExchangeError, ExchangeOrder, OrderStatus
from smt_engine.exchange.ids import make_client_id
from smt_engine.secrets import redact
from smt_engine.store import Store
from smt_engine.store.records import Order
from smt_engine.trading.orders import advance_order, create_order, update_order

log = logging.getLogger(__name__)

ACTOR = "executor"

STATUS_TO_STATE = {
    OrderStatus.NEW: OrderState.SUBMITTED,
    OrderStatus.UNTRIGGERED: OrderState.SUBMITTED,
    OrderStatus.TRIGGERED: OrderState.SUBMITTED,
    OrderStatus.PARTIALLY_FILLED: OrderState.PARTIALLY_FILLED,
    OrderStatus.FILLED: OrderState.FILLED,
    OrderStatus.CANCELLED: OrderState.CANCELLED,
    OrderStatus.EXPIRED: OrderState.CANCELLED,
    OrderStatus.REJECTED: OrderState.REJECTED,
}


def error_text(exc: BaseException) -> str:
    """A venue error as stored and logged: named, redacted, bounded."""
    return redact(f"{type(exc).__name__}: {exc}")[:500]


class OrderDesk:
    def __init__(self, exchange: Exchange, store: Store, clock: Clock, settings: Settings) -> None:
        self.exchange = exchange
        self.store = store
        self.clock = clock
        self.settings = settings

    def cid(self, ref: int, leg: str) -> str:
        """The client id of ``leg`` of proposal (or, for adopted positions, position) ``ref``."""
        return make_client_id(self.store.instance_id()[:8], ref, leg)

    def entry_cid(self, proposal_id: int) -> str:
        return self.cid(proposal_id, "entry")

    def event(self, level: EventLevel, kind: str, message: str, **refs: Any) -> None:
        self.store.events.append(self.clock.now(), level, kind, message, **refs)

    def new_order(
        self,
        cid: str,
        symbol: str,
        side: Side,
        kind: OrderKind,
        size: Decimal,
        *,
        proposal_id: int | None,
        position_id: int | None = None,
        trigger_price: Decimal | None = None,
        request: dict[str, Any] | None = None,
    ) -> Order:
        """Record an order as ``pending_submit`` before its request goes out (never send twice)."""
        return create_order(
            self.store,
            self.clock.now(),
            client_order_id=cid,
            symbol=symbol,
            side=side,
            kind=kind,
            size=size,
            proposal_id=proposal_id,
            position_id=position_id,
            trigger_price=trigger_price,
            request=request,
        )

    def update(self, order: Order, *, why: str = "", **fields: Any) -> Order:
        """Field updates; a ``state`` among them goes through the audited order state machine."""
        state = fields.pop("state", None)
        if state is None:
            return update_order(self.store, order, self.clock.now(), **fields)
        reason = why or str(fields.get("error") or "")
        return advance_order(
            self.store, order, state, actor=ACTOR, reason=reason, at=self.clock.now(), **fields
        )

    async def lookup(self, symbol: str, cid: str, attempts: int = 3) -> ExchangeOrder | None:
        """Resolve an unknown outcome by client id; a venue may index a new order with a short delay."""
        for attempt in range(attempts):
            try:
                found = await self.exchange.find_order(symbol, cid)
            except ExchangeError as exc:
                log.warning("lookup of %s failed: %s", cid, error_text(exc))
                found = None
            if found is not None:
                return found
            if attempt + 1 < attempts:
                await self.clock.sleep(self.settings.trading.poll_interval.total_seconds())
        return None


__all__ = ["STATUS_TO_STATE", "OrderDesk", "error_text"]
