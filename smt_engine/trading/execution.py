"""Execution: one approved proposal becomes one protected position, or a recorded failure.

The order of operations is the lesson list of the seed system: cancel the symbol's stale orders, set
leverage (retrying while the venue still sees open orders), write the entry order row with its
deterministic client id, send once, resolve a lost response by looking the id up (``order_desk``), wait
for the position, confirm the attached TP/SL legs or place them (``protection``), and close at market if
the position cannot be protected (``closing``). An entry that filled and closed before its position was
ever listed is rebuilt from the fills (``reconcile``), not failed, even while the venue's record of
the order still says unfilled. Closes are always allowed; entries only while the engine accepts them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import (
    CloseReason,
    EngineState,
    EventLevel,
    OrderKind,
    OrderState,
    ProposalState,
    Side,
)
from smt_engine.exchange.base import (
    AmbiguousOutcome,
    Exchange,
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
    InvalidOrder,
    OrderRequest,
)
from smt_engine.exchange.precision import PrecisionError, plain
from smt_engine.store import Store
from smt_engine.store.records import Order, Position, Proposal
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.closing import Closer
from smt_engine.trading.order_desk import ACTOR, STATUS_TO_STATE, OrderDesk, error_text
from smt_engine.trading.orders import open_position, venue_position
from smt_engine.trading.proposals import transition
from smt_engine.trading.protection import Protection
from smt_engine.trading.reconcile import PositionReconciler
from smt_engine.trading.risk import ReasonCode

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What happened to one proposal: ``open``, ``unprotected`` (opened, then closed), ``closed`` (opened
    and closed by the venue before its position was listed), ``failed``, ``denied``, or ``pending`` (the
    entry's outcome is unknown: the in-flight tracker finishes it)."""

    outcome: Literal["open", "unprotected", "closed", "failed", "denied", "pending"]
    proposal: Proposal
    detail: str
    position: Position | None = None
    entry_order: Order | None = None


class _Failed(Exception):
    """Internal: the entry did not happen; the message is the recorded reason."""


class _Unresolved(_Failed):
    """Internal: the entry may or may not exist at the venue; never failed on a guess."""


class Executor:
    """Entries; protection and closing are its parts, shared with the monitor and the operator."""

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
        self.desk = OrderDesk(exchange, store, clock, settings)
        self.protection = Protection(self.desk)
        self.closer = Closer(self.desk, ailog)
        self.reconciler = PositionReconciler(store, clock, exchange, ailog)
        self.claimed: set[int] = set()
        """Proposals this process is executing or about to: the in-flight tracker leaves them alone."""

    def _engine_state(self) -> EngineState:
        return self.store.engine.state_or(EngineState.STOPPED)

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
        try:
            held = await self._prepare_symbol(proposal.symbol)
            await self._set_leverage(proposal, held)
            entry, placed_id = await self._send_entry(proposal)
            ex_pos = await self._await_position(proposal.symbol, proposal.side)
            if ex_pos is None:
                closed = await self._round_trip(proposal, entry)
                if closed is not None:
                    return closed
                entry, cancelled = await self._abandon_entry(entry)
                if not cancelled:
                    # It may have filled (and closed) where no read could see it: never failed on a guess.
                    raise _Unresolved(
                        f"entry {entry.client_order_id} did not show as a position within "
                        f"{self.settings.trading.fill_timeout} and the venue did not confirm its cancel: "
                        "left for reconciliation"
                    )
                raise _Failed(
                    f"entry {entry.client_order_id} did not show as a position within "
                    f"{self.settings.trading.fill_timeout}"
                )
        except _Unresolved as exc:
            log.warning("proposal #%s left submitting: %s", pid, exc)
            current = self.store.proposals.get(pid)
            assert current is not None
            return ExecutionResult("pending", current, str(exc), None, self._entry_row(pid))
        except _Failed as exc:
            return self._fail(proposal, str(exc))
        except (ExchangeError, PrecisionError) as exc:
            return self._fail(proposal, error_text(exc))

        position = self._record_position(proposal, ex_pos)
        assert position.id is not None
        entry = self.desk.update(entry, state=OrderState.FILLED, position_id=position.id)
        proposal = transition(
            self.store,
            pid,
            ProposalState.OPEN,
            actor=ACTOR,
            reason=f"filled {plain(ex_pos.size)} @ {plain(ex_pos.entry_price)}",
            at=self.clock.now(),
        )
        self._log_execution(proposal, position, placed_id)
        position, protected, why = await self.protection.protect(proposal, position, placed_id)
        if protected:
            return ExecutionResult("open", proposal, "open with TP/SL resting", position, entry)
        position = await self.closer.close_position(position, CloseReason.UNPROTECTED, actor=ACTOR, why=why)
        refreshed = self.store.proposals.get(pid)
        assert refreshed is not None
        return ExecutionResult("unprotected", refreshed, why, position, entry)

    def _entry_row(self, proposal_id: int) -> Order | None:
        """The entry's row as stored now (None when nothing was written): every step updates it there."""
        return self.store.orders.by_client_id(self.desk.entry_cid(proposal_id))

    def _fail(self, proposal: Proposal, reason: str) -> ExecutionResult:
        assert proposal.id is not None
        failed = transition(
            self.store, proposal.id, ProposalState.FAILED, actor=ACTOR, reason=reason, at=self.clock.now()
        )
        log.warning("proposal #%s failed: %s", proposal.id, reason)
        return ExecutionResult("failed", failed, reason, None, self._entry_row(proposal.id))

    async def _prepare_symbol(self, symbol: str) -> list[ExchangePosition]:
        """Cancel stale orders on ``symbol`` without stripping the protection of a position we hold."""
        held = [p for p in await self.exchange.positions() if p.symbol == symbol and p.size > 0]
        if not held:
            n = await self.exchange.cancel_all(symbol)
            if n:
                self.desk.event(
                    EventLevel.INFO, "orders.cancelled", f"{symbol}: cancelled {n} stale order(s)"
                )
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
                    raise _Failed(f"leverage {proposal.leverage}x not set: {error_text(exc)}") from None
                log.info("leverage refused while orders settle (attempt %d): retrying", attempt)
                await self.clock.sleep(trading.leverage_retry_delay.total_seconds())
                await self._prepare_symbol(proposal.symbol)

    async def _send_entry(self, proposal: Proposal) -> tuple[Order, str]:
        """Write the order row, then send exactly once; an unknown outcome is looked up, never resent."""
        assert proposal.id is not None
        cid = self.desk.entry_cid(proposal.id)
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
            found = await self.desk.lookup(proposal.symbol, cid)
            if found is None:
                raise _Unresolved(f"entry {cid} was already attempted and the venue does not show it yet")
            return self._resolved(existing, found), found.order_id
        order = self.desk.new_order(
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
            order = self.desk.update(
                order,
                state=OrderState.UNKNOWN,
                error=error_text(exc),
                why=f"outcome unknown ({error_text(exc)}); looking it up, not resending",
            )
            found = await self.desk.lookup(proposal.symbol, cid)
            if found is None:
                raise _Unresolved(
                    f"entry {cid}: outcome unknown and not found at the venue yet; left for reconciliation"
                ) from None
            return self._resolved(order, found), found.order_id
        except (ExchangeError, PrecisionError) as exc:
            self.desk.update(order, state=OrderState.REJECTED, error=error_text(exc))
            raise _Failed(f"entry {cid} rejected: {error_text(exc)}") from None
        order = self.desk.update(
            order,
            state=OrderState.SUBMITTED,
            exchange_order_id=placed.order_id,
            response={"order_id": placed.order_id, "client_order_id": placed.client_order_id},
        )
        return order, placed.order_id

    def _resolved(self, order: Order, found: ExchangeOrder) -> Order:
        state = STATUS_TO_STATE[found.status]
        order = self.desk.update(
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
                log.warning("positions read failed while waiting for a fill: %s", error_text(exc))
            if self.clock.now() >= deadline:
                return None
            await self.clock.sleep(self.settings.trading.poll_interval.total_seconds())

    async def _round_trip(self, proposal: Proposal, entry: Order) -> ExecutionResult | None:
        """The entry's position was never listed: it may have filled, opened and closed between two looks.
        Then the position is rebuilt from the fills (``reconcile.round_trip``), never failed. The fills
        decide, not the order's own status: a venue's record of an order can lag its fills, and an entry
        cancelled and failed here is never looked at again."""
        assert proposal.id is not None
        found = await self.desk.lookup(proposal.symbol, entry.client_order_id, attempts=1)
        if found is None:
            return None
        position = await self.reconciler.round_trip(proposal, found, actor=ACTOR)
        if position is None:
            return None
        entry = self.desk.update(
            entry,
            state=OrderState.FILLED,
            exchange_order_id=found.order_id,
            position_id=position.id,
            why="filled; its position closed before it was listed",
        )
        refreshed = self.store.proposals.get(proposal.id)
        assert refreshed is not None
        return ExecutionResult(
            "closed",
            refreshed,
            f"filled and closed ({position.close_reason.value if position.close_reason else 'unknown'}) "
            "before the position was listed",
            position,
            entry,
        )

    async def _abandon_entry(self, order: Order) -> tuple[Order, bool]:
        """An entry no look saw become a position: cancel whatever may still rest. True when the venue
        confirmed the cancel; otherwise the entry may have filled, and its outcome is still unknown."""
        try:
            await self.exchange.cancel_order(order.symbol, client_order_id=order.client_order_id)
            return self.desk.update(order, state=OrderState.CANCELLED), True
        except ExchangeError as exc:
            return self.desk.update(order, error=error_text(exc)), False

    def _record_position(self, proposal: Proposal, ex: ExchangePosition) -> Position:
        now = self.clock.now()
        return open_position(
            self.store,
            venue_position(ex, now, proposal=proposal),
            actor=ACTOR,
            message=f"{proposal.symbol} {proposal.side.value} {plain(ex.size)} @ {plain(ex.entry_price)} "
            f"opened by proposal #{proposal.id}",
            at=now,
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
