"""Position reconciliation: the store's positions made to match what the venue reports.

A position the venue has and the store does not is adopted (opened-at from the venue, so max hold
survives restarts); one both know is refreshed; one the venue no longer has is closed out with the
reason (take-profit, stop-loss, liquidation, manual, forced) and closing order read from order
history and the realised PnL from the fills, and an AI log is queued for it. A ``closing`` position
whose close orders all ended unfilled is open again. An entry whose position opened and closed between
two looks (inside the fill timeout, or while the engine was away) is rebuilt from the venue's fills
(``round_trip``), so its PnL and its proposal's outcome are recorded, never lost.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from smt_engine.clock import Clock
from smt_engine.domain import CloseReason, EventLevel, OrderKind, OrderState, PositionState, ProposalState
from smt_engine.exchange.base import (
    AlgoOrder,
    Exchange,
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
    OrderStatus,
    open_leg,
)
from smt_engine.exchange.precision import plain
from smt_engine.store import Store
from smt_engine.store.records import Position, Proposal
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.legs import track_legs
from smt_engine.trading.orders import move_position, open_position, venue_position
from smt_engine.trading.proposals import transition
from smt_engine.trading.pushed import PushedLegFill

log = logging.getLogger(__name__)


class PositionReconciler:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        exchange: Exchange,
        ailog: AiLogOutbox | None,
        *,
        unexplained_wait: timedelta = timedelta(0),
    ) -> None:
        self.store = store
        self.clock = clock
        self.exchange = exchange
        self.ailog = ailog
        self.unexplained_wait = unexplained_wait
        """How long a position may be missing from the venue's list with nothing that explains it (no
        closing order, no closing fill) before it is booked closed: one empty answer is not a close."""
        self._missing_since: dict[int, datetime] = {}

    def refresh(self, pos: Position, ex: ExchangePosition, algos: list[AlgoOrder]) -> None:
        assert pos.id is not None
        self._missing_since.pop(pos.id, None)  # listed: an earlier absence has ended
        tp, sl = _protection(ex, algos)
        fields: dict[str, Any] = {
            "size": ex.size,
            "unrealized_pnl": ex.unrealized_pnl,
            "updated_at": self.clock.now(),
        }
        if ex.size:
            fields["mark_price"] = ex.entry_price + ex.unrealized_pnl / ex.size * ex.side.sign
        if tp is not None:
            fields.update(tp_order_id=tp.order_id, tp_price=tp.trigger_price)
        if sl is not None:
            fields.update(sl_order_id=sl.order_id, sl_price=sl.trigger_price)
        self.store.positions.update(pos.id, **fields)
        for name, value in fields.items():
            setattr(pos, name, value)
        track_legs(self.store, self.clock.now(), pos, algos)

    def adopt(self, ex: ExchangePosition, algos: list[AlgoOrder]) -> Position:
        tp, sl = _protection(ex, algos)
        now = self.clock.now()
        pos = open_position(
            self.store,
            venue_position(ex, now, tp=tp, sl=sl),
            actor="monitor",
            message=f"{ex.symbol} {ex.side.value} {plain(ex.size)} @ {plain(ex.entry_price)} "
            "adopted from the venue (unknown to the store)",
            at=now,
            level=EventLevel.WARNING,
        )
        log.warning(
            "adopted %s %s %s opened %s (unknown to the store)",
            ex.symbol,
            ex.side,
            ex.size,
            ex.opened_at.isoformat(),
            extra={"event": "position.adopted", "position_id": pos.id},
        )
        track_legs(self.store, now, pos, algos)
        return pos

    async def close_out(self, pos: Position) -> CloseReason | None:
        """The exchange no longer has ``pos``: find how it closed. A failed lookup defers to the next tick."""
        assert pos.id is not None
        try:
            history, fills = await asyncio.gather(  # independent reads: one round trip, not two
                self.exchange.order_history(pos.symbol, since=pos.opened_at),
                self.exchange.fills(pos.symbol, since=pos.opened_at),
            )
        except ExchangeError as exc:
            log.warning(
                "close of %s %s not yet explained (%s); retrying next tick", pos.symbol, pos.side, exc
            )
            return None
        # A leg still open here protects nothing now (no position of this side is left): tracked, so the
        # in-flight tracker cancels it at the venue even when no listing shows it (an attached TP).
        track_legs(self.store, self.clock.now(), pos, filter(None, map(open_leg, history)))
        booked = self._booked_elsewhere(pos)  # a part closed earlier (trading/adjust.py): booked once
        history = [o for o in history if o.order_id not in booked]
        fills = [f for f in fills if f.order_id not in booked]
        closing = _closing_order(history, pos)
        reason = self._reason(closing)
        order_ids = {closing.order_id} if closing else set()
        close_fills = [
            f for f in fills if f.position_side is pos.side and f.at >= pos.opened_at and f.realized_pnl
        ]
        if closing is None and not close_fills and self._still_waiting(pos):
            return None
        self._missing_since.pop(pos.id, None)
        if closing is not None:
            own = [f for f in close_fills if f.order_id in order_ids]
            close_fills = own or close_fills
        realized = (
            sum((f.realized_pnl - abs(f.fee) for f in close_fills), Decimal(0)) if close_fills else None
        )
        exit_price = (closing.avg_price if closing else None) or (
            close_fills[-1].price if close_fills else None
        )
        self._record_close(
            pos,
            reason,
            closing.order_id if closing else None,
            closing.updated_at if closing else self.clock.now(),
            exit_price,
            realized,
        )
        return reason

    def _still_waiting(self, pos: Position) -> bool:
        """Whether an unexplained absence is still younger than ``unexplained_wait`` (said once, loudly)."""
        assert pos.id is not None
        now = self.clock.now()
        first = self._missing_since.setdefault(pos.id, now)
        if now - first >= self.unexplained_wait:
            return False
        if first == now:
            log.warning(
                "%s %s is missing from the venue's position list and no order or fill explains it: not "
                "booked closed for up to %s (its orders are left alone meanwhile)",
                pos.symbol,
                pos.side,
                self.unexplained_wait,
                extra={"event": "position.unexplained", "position_id": pos.id},
            )
        return True

    def close_from_push(self, pos: Position, fill: PushedLegFill) -> CloseReason:
        """``pos`` closed by the leg the stream pushed filled, which the venue's position list confirms
        (the monitor checked it is gone there): recorded from the push, no history or fills read."""
        reason = CloseReason.TAKE_PROFIT if fill.kind == "tp" else CloseReason.STOP_LOSS
        self._record_close(pos, reason, fill.order_id, fill.at, fill.exit_price, fill.net_pnl, pushed=True)
        return reason

    def _booked_elsewhere(self, pos: Position) -> set[str]:
        """Venue order ids another position of this symbol and side is closed by since ``pos`` opened."""
        rows = self.store.positions.select(
            "symbol = ? AND side = ? AND id != ? AND close_order_id IS NOT NULL",
            [pos.symbol, pos.side.value, pos.id],
        )
        return {p.close_order_id for p in rows if p.close_order_id and p.opened_at >= pos.opened_at}

    def _record_close(
        self,
        pos: Position,
        reason: CloseReason,
        order_id: str | None,
        closed_at: datetime,
        exit_price: Decimal | None,
        realized: Decimal | None,
        *,
        pushed: bool = False,
    ) -> None:
        """The close in the books: the position, its proposal's outcome and its AI log."""
        assert pos.id is not None
        now = self.clock.now()
        source = "pushed fill, position gone at the venue" if pushed else "order history and fills"
        move_position(
            self.store,
            pos.id,
            PositionState.CLOSED,
            actor="monitor",
            message=f"{pos.symbol} {pos.side.value} closed: {reason.value}, order "
            f"{order_id or '?'}, realised PnL {realized} USDT",
            at=now,
            data={"close_order_id": order_id, "reason": reason.value, "source": source},
            close_reason=reason,
            close_order_id=order_id,
            closed_at=closed_at,
            exit_price=exit_price,
            realized_pnl=realized,
            unrealized_pnl=Decimal(0),
        )
        log.info(
            "%s %s closed at the venue: %s, realised PnL %s USDT", pos.symbol, pos.side, reason, realized
        )
        if pos.proposal_id is not None:
            self._close_proposal(pos.proposal_id, reason)
        if self.ailog is not None:
            held = (now - pos.opened_at).total_seconds() / 3600
            self.ailog.close(
                order_id,
                {"symbol": pos.symbol, "side": pos.side.value, "entry_price": str(pos.entry_price)},
                {
                    "reason": reason.value,
                    "exit_price": str(exit_price) if exit_price else None,
                    "realized_pnl_usdt": str(realized) if realized is not None else None,
                    "hours_held": round(held, 2),
                },
                f"{pos.side.value} {pos.symbol} closed by {reason.value} after {held:.1f} h"
                + (f"; realised PnL {realized} USDT" if realized is not None else ""),
            )

    async def round_trip(
        self, proposal: Proposal, entry: ExchangeOrder, *, actor: str, unexplained: bool = False
    ) -> Position | None:
        """The filled ``entry`` of ``proposal`` whose position the venue no longer lists: rebuild it.

        The position (size, price and time from the entry's fills) is recorded, the proposal moves to
        ``open``, and ``close_out`` records how it closed (reason, exit, realised PnL) and closes the
        proposal. None, with nothing changed, while the venue shows no order that closed it (a listing
        lag, not a round trip) or cannot be read: the caller asks again later. With ``unexplained`` (the
        caller waited long enough for a listing and a closing order), a position closed with no order of
        its own (an auto-deleverage) is rebuilt all the same, and ``close_out`` books it as it books any
        unexplained absence, so its proposal never counts as exposure for ever.
        """
        assert proposal.id is not None
        try:
            fills = [
                f
                for f in await self.exchange.fills(proposal.symbol, since=entry.created_at)
                if f.order_id == entry.order_id
            ]
            history = await self.exchange.order_history(proposal.symbol, since=entry.created_at)
        except ExchangeError as exc:
            log.warning("round trip of %s not readable yet: %s", entry.client_order_id, exc)
            return None
        size = entry.filled_size or sum((f.size for f in fills), Decimal(0))
        price = entry.avg_price
        if price is None and size > 0 and fills:
            price = sum((f.price * f.size for f in fills), Decimal(0)) / size
        if size <= 0 or price is None:
            return None
        now = self.clock.now()
        opened = Position(
            symbol=proposal.symbol,
            side=proposal.side,
            size=size,
            entry_price=price,
            opened_at=min((f.at for f in fills), default=entry.updated_at),
            state=PositionState.OPEN,
            leverage=proposal.leverage,
            updated_at=now,
            margin=proposal.margin,
            tp_price=proposal.tp_price,
            sl_price=proposal.sl_price,
            proposal_id=proposal.id,
        )
        if _closing_order(history, opened) is None and not unexplained:
            return None
        pos = open_position(
            self.store,
            opened,
            actor=actor,
            message=f"{proposal.symbol} {proposal.side.value} {plain(size)} @ {plain(price)} of proposal "
            f"#{proposal.id} opened and closed between two looks: rebuilt from the venue's fills",
            at=now,
            level=EventLevel.WARNING,
        )
        current = self.store.proposals.get(proposal.id)
        if current is not None and current.state is ProposalState.SUBMITTING:
            transition(
                self.store,
                proposal.id,
                ProposalState.OPEN,
                actor=actor,
                reason=f"entry {entry.client_order_id} filled {plain(size)} @ {plain(price)}",
                at=now,
            )
        await self.close_out(pos)  # on a failed read the monitor finishes it: the venue lists no position
        return self.store.positions.get(pos.id or 0)

    def reopen_if_close_ended(self, pos: Position) -> Position | None:
        """A ``closing`` position whose close orders all ended unfilled is open again (the venue still has
        it), so max hold and operator closes apply to it once more."""
        current = self.store.positions.get(pos.id or 0)
        if current is None or current.state is not PositionState.CLOSING:
            return current
        closes = [o for o in self.store.orders.for_position(current.id or 0) if o.kind is OrderKind.CLOSE]
        if not closes or not all(o.state.is_terminal and o.state is not OrderState.FILLED for o in closes):
            return current
        return move_position(
            self.store,
            current.id or 0,
            PositionState.OPEN,
            actor="monitor",
            message=f"{current.symbol} {current.side.value}: close order {closes[-1].client_order_id} ended "
            f"{closes[-1].state.value}; the position is still open",
            at=self.clock.now(),
            level=EventLevel.WARNING,
        )

    def _reason(self, closing: ExchangeOrder | None) -> CloseReason:
        if closing is None:
            return CloseReason.UNKNOWN
        if closing.order_type.upper() == "LIQUIDATION":
            return CloseReason.LIQUIDATION
        if closing.kind == "tp":
            return CloseReason.TAKE_PROFIT
        if closing.kind == "sl":
            return CloseReason.STOP_LOSS
        ours = self.store.orders.by_client_id(closing.client_order_id) if closing.client_order_id else None
        if ours is not None and ours.kind is OrderKind.CLOSE:
            reason = (ours.request or {}).get("reason")
            return CloseReason(reason) if reason in {r.value for r in CloseReason} else CloseReason.MANUAL
        return CloseReason.MANUAL

    def _close_proposal(self, proposal_id: int, reason: CloseReason) -> None:
        proposal = self.store.proposals.get(proposal_id)
        if proposal is not None and proposal.state is ProposalState.OPEN:
            transition(
                self.store,
                proposal_id,
                ProposalState.CLOSED,
                actor="monitor",
                reason=f"position closed at the venue ({reason.value})",
                at=self.clock.now(),
            )


def _protection(ex: ExchangePosition, algos: list[AlgoOrder]) -> tuple[AlgoOrder | None, AlgoOrder | None]:
    mine = [a for a in algos if a.symbol == ex.symbol and a.position_side is ex.side and a.status.is_open]
    tp = next((a for a in mine if a.kind == "tp"), None)
    sl = next((a for a in mine if a.kind == "sl"), None)
    return tp, sl


def _closing_order(history: list[ExchangeOrder], pos: Position) -> ExchangeOrder | None:
    """Newest filled order that reduced this position after it opened."""
    candidates = [
        o
        for o in history
        if o.position_side is pos.side
        and o.status is OrderStatus.FILLED
        and (o.reduce_only or o.kind in ("tp", "sl", "close") or o.order_type.upper() == "LIQUIDATION")
        and o.updated_at >= pos.opened_at
    ]
    return max(candidates, key=lambda o: o.updated_at, default=None)


__all__ = ["PositionReconciler"]
