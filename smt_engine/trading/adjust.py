"""Operator adjustments of an open position: move its stop-loss or take-profit, close part of it.

A stop may be tightened freely; it may be loosened only up to the phase's largest stop distance from the
entry (``analyst.max_sl_pct``, the phase default in the final days: the distance the risk engine allows
an entry). A stop rests on the loss side of the plausible price, a take-profit on the profitable side.
A leg is replaced new first, old second, so the position is never without a stop; the position row
takes the new price only once the venue accepted the new leg.

A partial close is a reduce-only market order of a size on the venue's step, refused below the venue's
minimum or when the remainder would be. The part closed is booked as a closed position of its own (its
size, exit price and realised PnL from the venue's fills), so the performance figures count it; the
position stays open with the remaining size, and its legs are replaced at the remaining size.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from smt_engine.competition import competition_status
from smt_engine.config import Settings
from smt_engine.domain import CloseReason, Contract, EventLevel, OrderKind, OrderState, PositionState
from smt_engine.exchange.base import AmbiguousOutcome, ExchangeError, ExchangeOrder, OrderRequest
from smt_engine.exchange.market.plausibility import ImplausiblePrice, PriceRule, plausible_price
from smt_engine.exchange.precision import PrecisionError, floor_to_step, plain, round_stop, round_to_tick
from smt_engine.store.records import Order, Position
from smt_engine.trading.order_desk import STATUS_TO_STATE, OrderDesk, error_text
from smt_engine.trading.protection import Protection

Leg = Literal["tp", "sl"]


class AdjustCode(StrEnum):
    """Why an adjustment was refused, named like the risk gates' reason codes."""

    MAX_STOP_DISTANCE = "max_stop_distance"
    STOP_WRONG_SIDE = "stop_wrong_side"
    TP_WRONG_SIDE = "take_profit_wrong_side"
    NO_PRICE = "no_price"
    NO_CONTRACT = "no_contract"
    MIN_SIZE = "min_order_size"
    REMAINDER_BELOW_MIN = "remainder_below_min_size"
    WHOLE_POSITION = "whole_position"
    VENUE = "venue_refused"


class AdjustRefused(Exception):
    def __init__(self, code: AdjustCode, detail: str) -> None:
        super().__init__(f"{code.value}: {detail}")
        self.code = code


def stop_limit(settings: Settings, now: datetime) -> tuple[Decimal, str]:
    """The largest stop distance from the entry, %, and the setting it comes from.

    The phase's stop distance follows the date alone (the balance moves only the strategy mode and the
    PnL figures), so no balance is read: the starting one stands in.
    """
    comp = competition_status(settings, now, settings.competition.starting_balance)
    limit = settings.analyst.max_sl_pct
    if comp.final_days and comp.default_sl_pct < limit:
        return comp.default_sl_pct, "the final days' stop distance"
    return limit, "analyst.max_sl_pct"


def check_stop_limit(position: Position, new_sl: Decimal, limit: Decimal, source: str) -> None:
    """Refuse a stop loosened past ``limit`` % from the entry; a tighter stop always passes."""
    side, entry = position.side, position.entry_price
    loosens = position.sl_price is None or (position.sl_price - new_sl) * side.sign > 0
    distance = (entry - new_sl) * side.sign / entry * 100
    if loosens and distance > limit:
        raise AdjustRefused(
            AdjustCode.MAX_STOP_DISTANCE,
            f"{position.symbol} {side.value} stop {plain(new_sl)} is {distance:.2f}% from the entry "
            f"{plain(entry)}, past the limit {limit}% ({source}); the current stop "
            f"{plain(position.sl_price) if position.sl_price is not None else '-'} stays",
        )


def check_side(position: Position, kind: Leg, price: Decimal, market: Decimal) -> None:
    """A stop on the loss side of the market price, a take-profit on the profitable side."""
    side = position.side
    beyond = (price - market) * side.sign
    if kind == "sl" and beyond >= 0:
        where = "below" if side.sign > 0 else "above"
        raise AdjustRefused(
            AdjustCode.STOP_WRONG_SIDE,
            f"a {side.value} stop must be {where} the price {plain(market)}; {plain(price)} is not",
        )
    if kind == "tp" and beyond <= 0:
        where = "above" if side.sign > 0 else "below"
        raise AdjustRefused(
            AdjustCode.TP_WRONG_SIDE,
            f"a {side.value} take-profit must be {where} the price {plain(market)}; {plain(price)} is not",
        )


def check_sizes(position: Position, contract: Contract, wanted: Decimal, qty: Decimal) -> None:
    """A part ``qty`` (``wanted`` on the venue's step) at or above the minimum, leaving at least it."""
    step, minimum = plain(contract.step_size), plain(contract.min_size)
    if qty < contract.min_size or qty <= 0:
        raise AdjustRefused(
            AdjustCode.MIN_SIZE,
            f"{plain(wanted)} on the step {step} is {plain(qty)}, below the venue minimum {minimum}",
        )
    if qty >= position.size:
        raise AdjustRefused(
            AdjustCode.WHOLE_POSITION,
            f"{plain(qty)} is the whole position ({plain(position.size)}): close it without a size",
        )
    if position.size - qty < contract.min_size:
        raise AdjustRefused(
            AdjustCode.REMAINDER_BELOW_MIN,
            f"closing {plain(qty)} of {plain(position.size)} leaves {plain(position.size - qty)}, below "
            f"the venue minimum {minimum}: close less, or the whole position",
        )


class PositionAdjuster:
    def __init__(self, desk: OrderDesk, protection: Protection) -> None:
        self.desk = desk
        self.protection = protection
        self.exchange = desk.exchange
        self.store = desk.store
        self.clock = desk.clock
        self.settings = desk.settings

    async def move(self, position: Position, kind: Leg, wanted: Decimal, actor: str) -> dict[str, Any]:
        """Replace ``position``'s ``kind`` leg at ``wanted`` (on the tick: a stop toward the entry)."""
        assert position.id is not None
        contract = await self._contract(position.symbol)
        price = (
            round_stop(wanted, contract.tick_size, position.side)
            if kind == "sl"
            else round_to_tick(wanted, contract.tick_size)
        )
        if kind == "sl":
            check_stop_limit(position, price, *stop_limit(self.settings, self.clock.now()))
        check_side(position, kind, price, await self._price(position.symbol))
        old = position.sl_price if kind == "sl" else position.tp_price
        new_id, left = await self._replace(position, kind, price, f"moved by {actor}", actor)
        fields: dict[str, Any] = (
            {"sl_price": price, "sl_order_id": new_id}
            if kind == "sl"
            else {"tp_price": price, "tp_order_id": new_id}
        )
        self.store.positions.update(position.id, updated_at=self.clock.now(), **fields)
        name = "stop-loss" if kind == "sl" else "take-profit"
        self.desk.event(
            EventLevel.INFO,
            "position.protection_moved",
            f"{position.symbol} {position.side.value}: {name} moved by {actor} from "
            f"{plain(old) if old is not None else '-'} to {plain(price)}",
            proposal_id=position.proposal_id,
            position_id=position.id,
            data={"actor": actor, "leg": kind, "from": old, "to": price, "order_id": new_id, "left": left},
        )
        return {
            "message": f"{position.symbol} {position.side.value} {name} now {plain(price)}",
            "position_id": position.id,
            "leg": kind,
            "price": plain(price),
            "order_id": new_id,
        }

    async def reduce(
        self, position: Position, size: Decimal | None, fraction: Decimal | None, actor: str
    ) -> dict[str, Any]:
        """Close ``size`` (or ``fraction`` of the size) at market; the rest stays open, legs resized."""
        assert position.id is not None
        contract = await self._contract(position.symbol)
        wanted = size if size is not None else position.size * (fraction or Decimal(0))
        qty = floor_to_step(wanted, contract.step_size)
        check_sizes(position, contract, wanted, qty)
        ref = position.proposal_id if position.proposal_id is not None else position.id
        stem = self.desk.cid(ref, "part")
        n = self.store.orders.count("client_order_id LIKE ?", [f"{stem}%"]) + 1
        order = self.desk.new_order(
            self.desk.cid(ref, f"part{n}"),
            position.symbol,
            position.side,
            OrderKind.CLOSE,
            qty,
            proposal_id=position.proposal_id,
            request={"type": "MARKET", "reduce_only": True, "reason": "partial", "actor": actor},
        )
        done = await self._send_reduce(position, order.client_order_id, order)
        if done is None or done.status.is_open or not done.filled_size:  # an ended order books what filled
            self.desk.event(
                EventLevel.WARNING,
                "position.partial_unconfirmed",
                f"{position.symbol} {position.side.value}: partial close {order.client_order_id} of "
                f"{plain(qty)} was sent but is not confirmed filled; the monitor reconciles the size",
                position_id=position.id,
            )
            raise AdjustRefused(AdjustCode.VENUE, f"partial close of {plain(qty)} sent, fill not confirmed")
        part = await self._book_part(position, order.id or 0, done, actor)
        remaining = self.store.positions.get(position.id)
        assert remaining is not None
        resized: list[str] = []
        for kind, price in (("sl", remaining.sl_price), ("tp", remaining.tp_price)):
            if price is not None and await self._resize(remaining, kind, price, actor):  # type: ignore[arg-type]
                resized.append(kind)
        return {
            "message": f"{position.symbol} {position.side.value}: closed {plain(part.size)} at "
            f"{plain(part.exit_price) if part.exit_price else '?'}, {plain(remaining.size)} stays open",
            "position_id": position.id,
            "closed_size": plain(part.size),
            "remaining_size": plain(remaining.size),
            "realized_pnl": plain(part.realized_pnl) if part.realized_pnl is not None else None,
            "part_position_id": part.id,
            "legs_resized": resized,
        }

    # ------------------------------------------------------------------ parts

    async def _send_reduce(self, position: Position, cid: str, order: Order) -> ExchangeOrder | None:
        """Send the reduce-only order once; its venue state when it ended (or at ``fill_timeout``)."""
        request = OrderRequest(position.symbol, position.side, order.size, cid, reduce_only=True)
        try:
            placed = await self.exchange.place_order(request)
            order_id: str | None = placed.order_id
            order = self.desk.update(order, state=OrderState.SUBMITTED, exchange_order_id=order_id)
        except AmbiguousOutcome as exc:
            order = self.desk.update(order, state=OrderState.UNKNOWN, error=error_text(exc))
            found = await self.desk.lookup(position.symbol, cid)
            order_id = found.order_id if found is not None else None
        except (ExchangeError, PrecisionError) as exc:
            self.desk.update(order, state=OrderState.REJECTED, error=error_text(exc))
            raise AdjustRefused(
                AdjustCode.VENUE, f"the venue refused the partial close: {error_text(exc)}"
            ) from None
        if order_id is None:
            return None
        deadline = self.clock.now() + self.settings.trading.fill_timeout
        while True:
            try:
                done = await self.exchange.order(position.symbol, order_id)
            except ExchangeError:
                done = None
            if (done is not None and not done.status.is_open) or self.clock.now() >= deadline:
                break
            await self.clock.sleep(self.settings.trading.poll_interval.total_seconds())
        if done is not None:
            self.desk.update(
                order,
                state=STATUS_TO_STATE[done.status],
                exchange_order_id=done.order_id,
                price=done.avg_price,
            )
        return done

    async def _book_part(
        self, position: Position, order_row: int, done: ExchangeOrder, actor: str
    ) -> Position:
        """The part closed as a closed position of its own; the open one keeps the remainder."""
        assert position.id is not None
        now = self.clock.now()
        qty = min(done.filled_size, position.size)
        realized = await self._realized(position, done.order_id)
        margin = position.margin * qty / position.size
        part = self.store.positions.insert(
            replace(
                position,
                id=None,
                size=qty,
                margin=margin,
                state=PositionState.CLOSED,
                adopted=False,
                tp_order_id=None,
                sl_order_id=None,
                unrealized_pnl=Decimal(0),
                close_reason=CloseReason.MANUAL,
                close_order_id=done.order_id,
                closed_at=now,
                exit_price=done.avg_price,
                realized_pnl=realized,
                updated_at=now,
            )
        )
        self.store.orders.update(order_row, position_id=part.id)
        self.store.positions.update(
            position.id, size=position.size - qty, margin=position.margin - margin, updated_at=now
        )
        self.desk.event(
            EventLevel.INFO,
            "position.partial_close",
            f"{position.symbol} {position.side.value}: {plain(qty)} of {plain(position.size)} closed at "
            f"market by {actor} at {plain(done.avg_price) if done.avg_price else '?'}, realised PnL "
            f"{plain(realized) if realized is not None else '?'} USDT; "
            f"{plain(position.size - qty)} stays open",
            proposal_id=position.proposal_id,
            position_id=position.id,
            data={
                "actor": actor,
                "closed": qty,
                "remaining": position.size - qty,
                "part_position_id": part.id,
            },
        )
        return part

    async def _resize(self, position: Position, kind: Leg, price: Decimal, actor: str) -> bool:
        """Replace a resting leg at the remaining size; a failure leaves the old (larger, reduce-only) leg."""
        assert position.id is not None
        try:
            new_id, _ = await self._replace(position, kind, price, f"resized by {actor}", actor)
        except AdjustRefused as exc:
            self.desk.event(
                EventLevel.WARNING,
                "protection.resize_failed",
                f"{position.symbol} {position.side.value}: {kind.upper()} not resized to "
                f"{plain(position.size)} ({exc}); the old reduce-only leg still rests",
                position_id=position.id,
            )
            return False
        field = "sl_order_id" if kind == "sl" else "tp_order_id"
        self.store.positions.update(position.id, updated_at=self.clock.now(), **{field: new_id})
        return True

    async def _replace(
        self, position: Position, kind: Leg, price: Decimal, why: str, actor: str
    ) -> tuple[str, list[str]]:
        """Place the new leg, then cancel the old ones; (new id, old ids the venue did not cancel)."""
        assert position.id is not None
        try:
            resting = [
                a.order_id
                for a in await self.exchange.open_algo_orders(position.symbol)
                if a.position_side is position.side and a.kind == kind and a.status.is_open
            ]
        except ExchangeError as exc:
            raise AdjustRefused(
                AdjustCode.VENUE, f"the resting TP/SL could not be read ({error_text(exc)}); nothing changed"
            ) from None
        n = sum(1 for o in self.store.orders.for_position(position.id) if o.kind is OrderKind(kind)) + 1
        new_id = await self.protection.place_leg(
            position, kind, price, leg=f"o{kind}{n}", request={"reason": why, "actor": actor}
        )
        if new_id is None:
            raise AdjustRefused(
                AdjustCode.VENUE,
                f"the venue did not accept the new {kind.upper()} (see the events); nothing changed",
            )
        left: list[str] = []
        for old in resting:
            if old == new_id:
                continue
            try:
                await self.exchange.cancel_algo_order(position.symbol, old)
            except ExchangeError as exc:
                left.append(old)
                self.desk.event(
                    EventLevel.WARNING,
                    "protection.cancel_failed",
                    f"{position.symbol} {position.side.value}: the old {kind.upper()} {old} was not "
                    "cancelled "
                    f"({error_text(exc)}); it still rests beside the new one",
                    position_id=position.id,
                )
                continue
            row = self.store.orders.by_exchange_id(old)
            if row is not None and not row.state.is_terminal:
                self.desk.update(row, state=OrderState.CANCELLED, why=f"replaced ({why})")
        return new_id, left

    async def _contract(self, symbol: str) -> Contract:
        try:
            contract = (await self.exchange.contracts([symbol])).get(symbol)
        except ExchangeError as exc:
            raise AdjustRefused(
                AdjustCode.NO_CONTRACT, f"{symbol} precision unreadable: {error_text(exc)}"
            ) from None
        if contract is None:
            raise AdjustRefused(AdjustCode.NO_CONTRACT, f"{symbol}: the venue lists no such contract")
        self.store.contracts.save(contract, self.clock.now())
        return contract

    async def _price(self, symbol: str) -> Decimal:
        try:
            return await plausible_price(self.exchange, symbol, self.clock, PriceRule.of(self.settings))
        except ImplausiblePrice as exc:
            raise AdjustRefused(AdjustCode.NO_PRICE, str(exc)) from None
        except ExchangeError as exc:
            raise AdjustRefused(
                AdjustCode.NO_PRICE, f"{symbol} price unreadable: {error_text(exc)}"
            ) from None

    async def _realized(self, position: Position, order_id: str) -> Decimal | None:
        """Realised PnL of the part closed, net of its fees; None when the fills are not readable."""
        try:
            fills = await self.exchange.fills(position.symbol, since=position.opened_at)
        except ExchangeError:
            return None
        own = [f for f in fills if f.order_id == order_id and f.position_side is position.side]
        return sum((f.realized_pnl - abs(f.fee) for f in own), Decimal(0)) if own else None


__all__ = [
    "AdjustCode",
    "AdjustRefused",
    "PositionAdjuster",
    "check_side",
    "check_sizes",
    "check_stop_limit",
    "stop_limit",
]
