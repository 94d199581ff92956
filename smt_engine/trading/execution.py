"""Execution: one approved proposal becomes one protected position, or a recorded failure.

The order of operations is the lesson list of the seed system: cancel the symbol's stale orders, set
leverage (retrying while the venue still sees open orders), write the entry order row with its
deterministic client id, send once, resolve a lost response by looking the id up, wait for the
position, confirm the attached TP/SL legs, re-place a missing stop, and close at market if the position
cannot be protected. Closes are always allowed; entries only while the engine accepts them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import (
    CloseReason,
    EngineState,
    EventLevel,
    OrderKind,
    OrderState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.exchange.base import (
    AlgoOrder,
    AmbiguousOutcome,
    Exchange,
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
    InvalidOrder,
    OrderRequest,
    OrderStatus,
    PlacedOrder,
)
from smt_engine.exchange.ids import make_client_id
from smt_engine.exchange.precision import PrecisionError, plain
from smt_engine.secrets import redact
from smt_engine.store import Store
from smt_engine.store.records import Order, Position, Proposal
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.orders import advance_order, move_position, open_position, update_order
from smt_engine.trading.proposals import transition
from smt_engine.trading.risk import ReasonCode
from smt_engine.trading.settle import settle_orders

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


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What happened to one proposal: ``open``, ``unprotected`` (opened, then closed), ``failed``,
    ``denied``, or ``pending`` (the entry's outcome is unknown: the in-flight tracker finishes it)."""

    outcome: Literal["open", "unprotected", "failed", "denied", "pending"]
    proposal: Proposal
    detail: str
    position: Position | None = None
    entry_order: Order | None = None


class _Failed(Exception):
    """Internal: the entry did not happen; the message is the recorded reason."""


class _Unresolved(_Failed):
    """Internal: the entry may or may not exist at the venue; never failed on a guess."""


def _err(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")[:500]


class Executor:
    def __init__(
        self,
        exchange: Exchange,
        store: Store,
        clock: Clock,
        settings: Settings,
        ailog: AiLogOutbox | None = None,
    ) -> None:
        self.exchange = exchange
        self.store = store
        self.clock = clock
        self.settings = settings
        self.ailog = ailog
        self.claimed: set[int] = set()
        """Proposals this process is executing or about to: the in-flight tracker leaves them alone."""

    # ------------------------------------------------------------------ helpers

    def entry_cid(self, proposal_id: int) -> str:
        return self._cid(proposal_id, "entry")

    def _cid(self, proposal_id: int, leg: str) -> str:
        return make_client_id(self.store.instance_id()[:8], proposal_id, leg)

    def _engine_state(self) -> EngineState:
        return self.store.engine.state_or(EngineState.STOPPED)

    def _event(self, level: EventLevel, kind: str, message: str, **refs: Any) -> None:
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
        now = self.clock.now()
        return self.store.orders.insert(
            Order(
                client_order_id=cid,
                symbol=symbol,
                side=side,
                kind=kind,
                size=size,
                state=OrderState.PENDING_SUBMIT,
                created_at=now,
                updated_at=now,
                proposal_id=proposal_id,
                position_id=position_id,
                trigger_price=trigger_price,
                request=request or {},
            )
        )

    def _update_order(self, order: Order, *, why: str = "", **fields: Any) -> Order:
        """Field updates; a ``state`` among them goes through the audited order state machine."""
        state = fields.pop("state", None)
        if state is None:
            return update_order(self.store, order, self.clock.now(), **fields)
        reason = why or str(fields.get("error") or "")
        return advance_order(
            self.store, order, state, actor=ACTOR, reason=reason, at=self.clock.now(), **fields
        )

    async def _poll(self, seconds: float) -> None:
        await self.clock.sleep(seconds)

    async def _lookup(self, symbol: str, cid: str, attempts: int = 3) -> ExchangeOrder | None:
        """Resolve an unknown outcome by client id; a venue may index a new order with a short delay."""
        for attempt in range(attempts):
            try:
                found = await self.exchange.find_order(symbol, cid)
            except ExchangeError as exc:
                log.warning("lookup of %s failed: %s", cid, _err(exc))
                found = None
            if found is not None:
                return found
            if attempt + 1 < attempts:
                await self._poll(self.settings.trading.poll_interval.total_seconds())
        return None

    # ------------------------------------------------------------------ entry

    async def execute(self, proposal: Proposal, engine_state: EngineState | None = None) -> ExecutionResult:
        """Open the approved ``proposal``. Never raises for venue trouble: the result says what happened."""
        assert proposal.id is not None
        pid = proposal.id
        current = self.store.proposals.get(pid)
        if current is None or current.state is not ProposalState.APPROVED:
            state = current.state.value if current else "missing"
            raise ValueError(f"proposal #{pid} is {state}, not approved")
        self.claimed.add(pid)
        try:
            return await self._execute(proposal, engine_state)
        finally:
            self.claimed.discard(pid)

    async def _execute(self, proposal: Proposal, engine_state: EngineState | None) -> ExecutionResult:
        assert proposal.id is not None
        pid = proposal.id
        state = engine_state or self._engine_state()
        if not state.accepts_entries:
            denied = transition(
                self.store,
                pid,
                ProposalState.DENIED,
                actor=ACTOR,
                reason=f"engine is {state.value}: no new entries",
                at=self.clock.now(),
                codes=[ReasonCode.ENGINE_STATE.value],
            )
            return ExecutionResult("denied", denied, f"engine is {state.value}")
        proposal = transition(
            self.store,
            pid,
            ProposalState.SUBMITTING,
            actor=ACTOR,
            reason="sending entry",
            at=self.clock.now(),
        )
        entry: Order | None = None
        try:
            held = await self._prepare_symbol(proposal.symbol)
            await self._set_leverage(proposal, held)
            entry, placed_id = await self._send_entry(proposal)
            ex_pos = await self._await_position(proposal.symbol, proposal.side)
            if ex_pos is None:
                entry = await self._abandon_entry(entry)
                raise _Failed(
                    f"entry {entry.client_order_id} did not show as a position within "
                    f"{self.settings.trading.fill_timeout}"
                )
        except _Unresolved as exc:
            log.warning("proposal #%s left submitting: %s", pid, exc)
            current = self.store.proposals.get(pid)
            assert current is not None
            entry = entry or self.store.orders.by_client_id(self.entry_cid(pid))
            return ExecutionResult("pending", current, str(exc), None, entry)
        except _Failed as exc:
            return self._fail(proposal, str(exc), entry)
        except (ExchangeError, PrecisionError) as exc:
            return self._fail(proposal, _err(exc), entry)

        position = self._record_position(proposal, ex_pos)
        assert position.id is not None
        entry = self._update_order(entry, state=OrderState.FILLED, position_id=position.id)
        proposal = transition(
            self.store,
            pid,
            ProposalState.OPEN,
            actor=ACTOR,
            reason=f"filled {plain(ex_pos.size)} @ {plain(ex_pos.entry_price)}",
            at=self.clock.now(),
        )
        self._log_execution(proposal, position, placed_id)
        position, protected, why = await self._protect(proposal, position, placed_id)
        if protected:
            return ExecutionResult("open", proposal, "open with TP/SL resting", position, entry)
        position = await self.close_position(position, CloseReason.UNPROTECTED, actor=ACTOR, why=why)
        refreshed = self.store.proposals.get(pid)
        assert refreshed is not None
        return ExecutionResult("unprotected", refreshed, why, position, entry)

    def _fail(self, proposal: Proposal, reason: str, entry: Order | None) -> ExecutionResult:
        assert proposal.id is not None
        if entry is None:
            entry = self.store.orders.by_client_id(self._cid(proposal.id, "entry"))
        failed = transition(
            self.store, proposal.id, ProposalState.FAILED, actor=ACTOR, reason=reason, at=self.clock.now()
        )
        log.warning("proposal #%s failed: %s", proposal.id, reason)
        return ExecutionResult("failed", failed, reason, None, entry)

    async def _prepare_symbol(self, symbol: str) -> list[ExchangePosition]:
        """Cancel stale orders on ``symbol`` without stripping the protection of a position we hold."""
        held = [p for p in await self.exchange.positions() if p.symbol == symbol and p.size > 0]
        if not held:
            n = await self.exchange.cancel_all(symbol)
            if n:
                self._event(EventLevel.INFO, "orders.cancelled", f"{symbol}: cancelled {n} stale order(s)")
            return held
        sides = {p.side for p in held}
        for o in await self.exchange.open_orders(symbol):
            if not o.reduce_only:
                await self.exchange.cancel_order(symbol, order_id=o.order_id)
        for a in await self.exchange.open_algo_orders(symbol):
            if a.position_side not in sides:
                await self.exchange.cancel_algo_order(symbol, a.order_id)
        return held

    async def _set_leverage(self, proposal: Proposal, held: list[ExchangePosition]) -> None:
        trading = self.settings.trading
        if any(p.leverage == proposal.leverage for p in held):
            return  # already in force; changing it would be refused while the position's TP/SL rest
        for attempt in range(1, trading.leverage_attempts + 1):
            try:
                await self.exchange.set_leverage(proposal.symbol, proposal.leverage, trading.margin_mode)
                return
            except InvalidOrder as exc:
                if "open order" not in str(exc).lower() or attempt == trading.leverage_attempts:
                    raise _Failed(f"leverage {proposal.leverage}x not set: {_err(exc)}") from None
                log.info("leverage refused while orders settle (attempt %d): retrying", attempt)
                await self._poll(trading.leverage_retry_delay.total_seconds())
                held = await self._prepare_symbol(proposal.symbol)

    async def _send_entry(self, proposal: Proposal) -> tuple[Order, str]:
        """Write the order row, then send exactly once; an unknown outcome is looked up, never resent."""
        assert proposal.id is not None
        cid = self._cid(proposal.id, "entry")
        request = OrderRequest(
            symbol=proposal.symbol,
            position_side=proposal.side,
            size=proposal.size,
            client_order_id=cid,
            order_type="MARKET",
            tp_price=proposal.tp_price,
            sl_price=proposal.sl_price,
        )
        existing = self.store.orders.by_client_id(cid)
        if existing is not None:
            # A previous attempt got as far as writing the row: never send again, find out instead.
            found = await self._lookup(proposal.symbol, cid)
            if found is None:
                raise _Unresolved(f"entry {cid} was already attempted and the venue does not show it yet")
            return self._resolved(existing, found), found.order_id
        order = self.new_order(
            cid,
            proposal.symbol,
            proposal.side,
            OrderKind.ENTRY,
            proposal.size,
            proposal_id=proposal.id,
            request={
                "type": "MARKET",
                "size": plain(proposal.size),
                "tp": plain(proposal.tp_price),
                "sl": plain(proposal.sl_price),
                "leverage": proposal.leverage,
            },
        )
        try:
            placed = await self.exchange.place_order(request)
        except AmbiguousOutcome as exc:
            order = self._update_order(
                order,
                state=OrderState.UNKNOWN,
                error=_err(exc),
                why=f"outcome unknown ({_err(exc)}); looking it up, not resending",
            )
            found = await self._lookup(proposal.symbol, cid)
            if found is None:
                raise _Unresolved(
                    f"entry {cid}: outcome unknown and not found at the venue yet; left for reconciliation"
                ) from None
            return self._resolved(order, found), found.order_id
        except (ExchangeError, PrecisionError) as exc:
            self._update_order(order, state=OrderState.REJECTED, error=_err(exc))
            raise _Failed(f"entry {cid} rejected: {_err(exc)}") from None
        order = self._update_order(
            order,
            state=OrderState.SUBMITTED,
            exchange_order_id=placed.order_id,
            response={"order_id": placed.order_id, "client_order_id": placed.client_order_id},
        )
        return order, placed.order_id

    def _resolved(self, order: Order, found: ExchangeOrder) -> Order:
        state = STATUS_TO_STATE.get(found.status, OrderState.SUBMITTED)
        order = self._update_order(
            order,
            state=state,
            exchange_order_id=found.order_id,
            response={"order_id": found.order_id, "status": found.status.value, "resolved_by": "lookup"},
        )
        if state in (OrderState.CANCELLED, OrderState.REJECTED):
            raise _Failed(f"entry {order.client_order_id} was {found.status.value} at the venue")
        return order

    async def _await_position(self, symbol: str, side: Side) -> ExchangePosition | None:
        deadline = self.clock.now() + self.settings.trading.fill_timeout
        while True:
            try:
                for p in await self.exchange.positions():
                    if p.symbol == symbol and p.side is side and p.size > 0:
                        return p
            except ExchangeError as exc:
                log.warning("positions read failed while waiting for a fill: %s", _err(exc))
            if self.clock.now() >= deadline:
                return None
            await self._poll(self.settings.trading.poll_interval.total_seconds())

    async def _abandon_entry(self, order: Order) -> Order:
        """An entry that never became a position: cancel whatever may still rest."""
        try:
            await self.exchange.cancel_order(order.symbol, client_order_id=order.client_order_id)
            return self._update_order(order, state=OrderState.CANCELLED)
        except ExchangeError as exc:
            return self._update_order(order, error=_err(exc))

    def _record_position(self, proposal: Proposal, ex: ExchangePosition) -> Position:
        now = self.clock.now()
        return open_position(
            self.store,
            Position(
                symbol=proposal.symbol,
                side=proposal.side,
                size=ex.size,
                entry_price=ex.entry_price,
                opened_at=ex.opened_at,
                state=PositionState.OPEN,
                leverage=proposal.leverage,
                updated_at=now,
                margin=ex.margin if ex.margin > 0 else proposal.margin,
                tp_price=proposal.tp_price,
                sl_price=proposal.sl_price,
                unrealized_pnl=ex.unrealized_pnl,
                proposal_id=proposal.id,
            ),
            actor=ACTOR,
            message=f"{proposal.symbol} {proposal.side.value} {plain(ex.size)} @ {plain(ex.entry_price)} "
            f"opened by proposal #{proposal.id}",
            at=now,
        )

    # ------------------------------------------------------------------ protection

    async def _find_legs(
        self, symbol: str, side: Side, entry_order_id: str
    ) -> tuple[AlgoOrder | None, AlgoOrder | None]:
        """Poll until both legs rest or the deadline passes (WEEX lists attached legs with a delay)."""
        trading = self.settings.trading
        deadline = self.clock.now() + trading.protection_timeout
        tp = sl = None
        while True:
            try:
                legs = [
                    a
                    for a in await self.exchange.open_algo_orders(symbol)
                    if a.position_side is side
                    and a.status.is_open
                    and (a.parent_order_id is None or a.parent_order_id == entry_order_id)
                ]
                tp = next((a for a in legs if a.kind == "tp"), None)
                sl = next((a for a in legs if a.kind == "sl"), None)
            except ExchangeError as exc:
                log.warning("%s: reading TP/SL orders failed: %s", symbol, _err(exc))
            if (tp is not None and sl is not None) or self.clock.now() >= deadline:
                return tp, sl
            await self._poll(trading.poll_interval.total_seconds())

    def _record_leg(self, proposal: Proposal, position: Position, leg: AlgoOrder) -> None:
        assert proposal.id is not None
        cid = leg.client_order_id or self._cid(proposal.id, leg.kind)
        if self.store.orders.by_client_id(cid) is not None:
            cid = self._cid(proposal.id, f"{leg.kind}x{leg.order_id[-6:]}")
        order = self.new_order(
            cid,
            leg.symbol,
            leg.position_side,
            OrderKind(leg.kind),
            leg.size,
            proposal_id=proposal.id,
            position_id=position.id,
            trigger_price=leg.trigger_price,
        )
        self._update_order(order, state=OrderState.SUBMITTED, exchange_order_id=leg.order_id)

    async def place_leg(
        self,
        position: Position,
        kind: Literal["tp", "sl"],
        price: Decimal,
        *,
        leg: str | None = None,
        request: dict[str, Any] | None = None,
        raise_precision: bool = False,
    ) -> str | None:
        """Place one reduce-only trigger on ``position``; its order id, or None (with the reason logged).

        Used at entry (legs that did not appear) and by the monitor (a stop that went missing, also on
        adopted positions, whose client ids then derive from the position id). ``raise_precision``
        re-raises a precision refusal (after recording it) so the caller can correct and re-send once.
        """
        assert position.id is not None
        ref = position.proposal_id if position.proposal_id is not None else position.id
        cid = self._cid(ref, leg or f"{kind}2")
        order = self.new_order(
            cid,
            position.symbol,
            position.side,
            OrderKind(kind),
            position.size,
            proposal_id=position.proposal_id,
            position_id=position.id,
            trigger_price=price,
            request=request,
        )
        placed: PlacedOrder | ExchangeOrder | None
        try:
            placed = await self.exchange.place_tp_sl(
                position.symbol, position.side, kind, price, position.size, cid
            )
        except AmbiguousOutcome as exc:
            self._update_order(order, state=OrderState.UNKNOWN, error=_err(exc))
            placed = await self._lookup(position.symbol, cid)
            if placed is None or not placed.status.is_open:
                return None
        except (ExchangeError, PrecisionError) as exc:
            self._update_order(order, state=OrderState.REJECTED, error=_err(exc))
            if raise_precision and isinstance(exc, PrecisionError):
                raise
            self._event(
                EventLevel.ERROR,
                f"protection.{kind}_failed",
                f"{position.symbol} {position.side.value}: placing {kind.upper()} at {plain(price)} "
                f"failed: {_err(exc)}",
                proposal_id=position.proposal_id,
                position_id=position.id,
            )
            return None
        self._update_order(order, state=OrderState.SUBMITTED, exchange_order_id=placed.order_id)
        return placed.order_id

    async def _protect(
        self, proposal: Proposal, position: Position, entry_id: str
    ) -> tuple[Position, bool, str]:
        """Confirm (or re-place) the legs; ``False`` means the stop-loss could not be made to rest."""
        assert position.id is not None
        tp, sl = await self._find_legs(position.symbol, position.side, entry_id)
        for leg in (tp, sl):
            if leg is not None:
                self._record_leg(proposal, position, leg)
        tp_id = tp.order_id if tp else None
        sl_id = sl.order_id if sl else None
        if tp_id is None and position.tp_price is not None:
            tp_id = await self.place_leg(position, "tp", position.tp_price)
        if sl_id is None and position.sl_price is not None:
            self._event(
                EventLevel.WARNING,
                "protection.sl_missing",
                f"{position.symbol} {position.side.value}: attached stop-loss not found within "
                f"{self.settings.trading.protection_timeout}; placing one",
                proposal_id=proposal.id,
                position_id=position.id,
            )
            sl_id = await self.place_leg(position, "sl", position.sl_price)
        self.store.positions.update(
            position.id, tp_order_id=tp_id, sl_order_id=sl_id, updated_at=self.clock.now()
        )
        refreshed = self.store.positions.get(position.id)
        assert refreshed is not None
        if sl_id is None:
            return refreshed, False, "stop-loss could not be confirmed or placed"
        return refreshed, True, ""

    # ------------------------------------------------------------------ closing

    async def close_position(
        self, position: Position, reason: CloseReason, *, actor: str, why: str = ""
    ) -> Position:
        """Close at market (allowed in every engine state): cancel its TP/SL first, then a reduce-only close.

        On failure the position stays open and a critical event says so; the monitor retries.
        """
        assert position.id is not None
        symbol, side = position.symbol, position.side
        ref = position.proposal_id if position.proposal_id is not None else position.id
        prefix = "close" if position.proposal_id is not None else "pclose"
        attempt = sum(1 for o in self.store.orders.for_position(position.id) if o.kind is OrderKind.CLOSE) + 1
        cid = self._cid(ref, f"{prefix}{attempt}")
        resting: set[str] = set()  # TP/SL orders still on the venue after the cancels (unknown counts)
        try:
            algos = [a for a in await self.exchange.open_algo_orders(symbol) if a.position_side is side]
            resting = {a.order_id for a in algos}
            for a in algos:
                await self.exchange.cancel_algo_order(symbol, a.order_id)
                resting.discard(a.order_id)
        except ExchangeError as exc:
            log.warning("%s: cancelling TP/SL before close failed: %s", symbol, _err(exc))
        order = self.new_order(
            cid,
            symbol,
            side,
            OrderKind.CLOSE,
            position.size,
            proposal_id=position.proposal_id,
            position_id=position.id,
            request={"type": "MARKET", "reduce_only": True, "reason": reason.value},
        )
        close_id: str | None
        try:
            placed = await self.exchange.close_position(symbol, side, cid)
            close_id = placed.order_id
            order = self._update_order(order, state=OrderState.SUBMITTED, exchange_order_id=close_id)
        except AmbiguousOutcome as exc:
            order = self._update_order(order, state=OrderState.UNKNOWN, error=_err(exc))
            found = await self._lookup(symbol, cid)
            close_id = found.order_id if found is not None else None
            if found is not None:
                order = self._resolved_close(order, found)
        except (ExchangeError, PrecisionError) as exc:
            self._update_order(order, state=OrderState.REJECTED, error=_err(exc))
            close_id = None
            why = f"{why}; close failed: {_err(exc)}" if why else f"close failed: {_err(exc)}"
        if close_id is None:
            self._event(
                EventLevel.CRITICAL,
                "position.close_failed",
                f"{symbol} {side.value}: could not close ({reason.value}): {why or 'no order at the venue'}",
                proposal_id=position.proposal_id,
                position_id=position.id,
            )
            refreshed = self.store.positions.get(position.id)
            assert refreshed is not None
            return refreshed
        exit_price: Decimal | None = None
        filled = False
        try:
            done = await self.exchange.order(symbol, close_id)
            exit_price = done.avg_price
            filled = done.status is OrderStatus.FILLED
            order = self._resolved_close(order, done)
        except ExchangeError as exc:
            log.info("%s: close order %s not readable yet: %s", symbol, close_id, _err(exc))
        now = self.clock.now()
        if not filled:
            # Closed only when the exchange says so: the monitor finishes this from order history.
            current_pos = self.store.positions.get(position.id)
            if current_pos is not None and current_pos.state is PositionState.OPEN:
                move_position(
                    self.store,
                    position.id,
                    PositionState.CLOSING,
                    actor=actor,
                    message=f"{symbol} {side.value}: close order {close_id} sent by {actor} ({reason.value})",
                    at=now,
                    data={"close_order_id": close_id, "reason": reason.value},
                )
            refreshed = self.store.positions.get(position.id)
            assert refreshed is not None
            return refreshed
        realized = await self._realized_pnl(symbol, side, close_id, position.opened_at)
        move_position(
            self.store,
            position.id,
            PositionState.CLOSED,
            actor=actor,
            message=f"{symbol} {side.value} closed at market by {actor} ({reason.value})"
            + (f": {why}" if why else ""),
            at=now,
            level=EventLevel.CRITICAL if reason is CloseReason.UNPROTECTED else EventLevel.INFO,
            data={"close_order_id": close_id, "reason": reason.value},
            close_reason=reason,
            close_order_id=close_id,
            closed_at=now,
            exit_price=exit_price,
            realized_pnl=realized,
            size=Decimal(0),
            unrealized_pnl=Decimal(0),
        )
        settle_orders(self.store, now, position.id, resting)
        if position.proposal_id is not None:
            current = self.store.proposals.get(position.proposal_id)
            if current is not None and current.state is ProposalState.OPEN:
                transition(
                    self.store,
                    position.proposal_id,
                    ProposalState.CLOSED,
                    actor=actor,
                    reason=reason.value,
                    at=now,
                )
        if self.ailog is not None:
            self.ailog.close(
                close_id,
                {
                    "symbol": symbol,
                    "side": side.value,
                    "size": position.size,
                    "entry_price": position.entry_price,
                },
                {"reason": reason.value, "close_order_id": close_id, "exit_price": exit_price},
                f"{symbol} {side.value} closed ({reason.value}). {why}".strip(),
            )
        refreshed = self.store.positions.get(position.id)
        assert refreshed is not None
        return refreshed

    async def _realized_pnl(self, symbol: str, side: Side, order_id: str, since: datetime) -> Decimal | None:
        """Realised PnL of one closing order, net of its fees; None when the fills are not readable."""
        try:
            fills = await self.exchange.fills(symbol, since=since)
        except ExchangeError:
            return None
        own = [f for f in fills if f.order_id == order_id and f.position_side is side]
        if not own:
            return None
        return sum((f.realized_pnl - abs(f.fee) for f in own), Decimal(0))

    def _resolved_close(self, order: Order, found: ExchangeOrder) -> Order:
        return self._update_order(
            order,
            state=STATUS_TO_STATE.get(found.status, OrderState.SUBMITTED),
            exchange_order_id=found.order_id,
            price=found.avg_price,
        )

    def _log_execution(self, proposal: Proposal, position: Position, order_id: str) -> None:
        if self.ailog is None:
            return
        self.ailog.execution(
            order_id,
            {
                "pair": proposal.pair,
                "signal": proposal.side.value,
                "confidence": proposal.confidence,
                "entry_ref": proposal.entry_ref,
                "proposal_id": proposal.id,
            },
            {
                "order_id": order_id,
                "size": position.size,
                "entry_price": position.entry_price,
                "margin_usdt": proposal.margin,
                "notional_usdt": proposal.notional,
                "leverage": proposal.leverage,
                "tp_price": proposal.tp_price,
                "sl_price": proposal.sl_price,
            },
            proposal.rationale or f"{proposal.pair} {proposal.side.value} opened",
            cycle_id=proposal.cycle_id,
        )


__all__ = ["ExecutionResult", "Executor"]
