"""The in-flight tracker: no order or proposal is left half-done by a crash, a stop or a fault.

Run at start-up (before entries are allowed) and on every monitor tick, after positions have been
reconciled. Every order in ``pending_submit``, ``submitted``, ``partially_filled`` or ``unknown`` that
is not resting at the venue is looked up by client id: found means its real state; not found after the
venue's visibility window means it was never placed (or is gone), recorded as ``cancelled`` with the
reason. An order the venue reports open is never recorded cancelled on our word alone: it is a resting
leg of a held position, or it is cancelled at the venue and recorded so once the venue confirms it.
Every proposal in ``approved`` or ``submitting`` that this process is not executing is then
finished from its entry order: filled means ``open`` (and the position the monitor adopted is linked to
it) or, when the position was already gone, rebuilt from the fills and closed; refused or never sent
means ``failed``. The risk gates count in-flight proposals as exposure, so
finishing them is what keeps a crash from locking a symbol out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import OrderKind, OrderState, PositionState, ProposalState, Side
from smt_engine.exchange.base import AlgoOrder, ExchangeError, ExchangeOrder, OrderNotFound
from smt_engine.store import Store
from smt_engine.store.codec import ts
from smt_engine.store.records import Order, Position, Proposal
from smt_engine.trading.execution import Executor
from smt_engine.trading.order_desk import STATUS_TO_STATE
from smt_engine.trading.orders import advance_order
from smt_engine.trading.proposals import transition

log = logging.getLogger(__name__)

ACTOR = "reconciler"


@dataclass
class InFlightReport:
    orders_resolved: list[int] = field(default_factory=list)
    proposals_resolved: list[int] = field(default_factory=list)
    linked: list[int] = field(default_factory=list)
    unresolved: list[int] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    """Venue ids of the orders cancelled at the venue in this pass (no longer protection this tick)."""


class InFlightTracker:
    def __init__(self, settings: Settings, store: Store, clock: Clock, executor: Executor) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.executor = executor
        self.exchange = executor.exchange
        self._cancelled: list[str] = []

    @property
    def window(self) -> float:
        return self.settings.trading.order_visibility.total_seconds()

    async def resolve(
        self, resting: set[str], held: set[tuple[str, Side]], legs: Sequence[AlgoOrder] = ()
    ) -> InFlightReport:
        """Finish what can be finished; ``resting`` are the order ids the venue lists as open, ``held``
        the (symbol, side) of every position it reports, ``legs`` the open TP/SL legs it lists."""
        report = InFlightReport()
        self._cancelled = report.cancelled
        for order in self.store.orders.open_orders():
            try:
                if await self._resolve_order(order, resting, held, legs):
                    report.orders_resolved.append(order.id or 0)
                else:
                    report.unresolved.append(order.id or 0)
            except ExchangeError as exc:
                log.warning("order %s not resolved this tick: %s", order.client_order_id, exc)
                report.unresolved.append(order.id or 0)
        for proposal in self.store.proposals.in_state(ProposalState.APPROVED, ProposalState.SUBMITTING):
            if proposal.id is None or proposal.id in self.executor.claimed:
                continue
            outcome = await self._resolve_proposal(proposal)
            if outcome == "linked":
                report.linked.append(proposal.id)
            if outcome:
                report.proposals_resolved.append(proposal.id)
        return report

    # ------------------------------------------------------------------ orders

    def _age(self, order: Order) -> float:
        return (self.clock.now() - order.updated_at).total_seconds()

    async def _resolve_order(
        self, order: Order, resting: set[str], held: set[tuple[str, Side]], legs: Sequence[AlgoOrder]
    ) -> bool:
        """True when the order is settled for now (terminal, or confirmed resting at the venue)."""
        now = self.clock.now()
        if order.exchange_order_id and order.exchange_order_id in resting:
            if self._left_on_a_newer_position(order, held, legs):
                return await self._cancel_at_venue(order, order.exchange_order_id)
            if order.state in (OrderState.PENDING_SUBMIT, OrderState.UNKNOWN):
                advance_order(
                    self.store,
                    order,
                    OrderState.SUBMITTED,
                    actor=ACTOR,
                    reason="resting at the venue",
                    at=now,
                )
            return True
        if order.proposal_id is not None and order.proposal_id in self.executor.claimed:
            return False  # the executor is on it right now
        found = await self._look_up(order)
        if found is None:
            return self._expire_if_old(
                order,
                "never placed"
                if order.state in (OrderState.PENDING_SUBMIT, OrderState.UNKNOWN)
                else "no longer at the venue",
            )
        state = STATUS_TO_STATE[found.status]
        if state.is_terminal or state is not order.state:
            order = advance_order(
                self.store,
                order,
                state,
                actor=ACTOR,
                reason=f"the venue reports it {found.status.value}",
                at=now,
                exchange_order_id=found.order_id,
            )
        if state.is_terminal:
            return True
        return await self._open_at_venue(order, found, held)

    async def _open_at_venue(self, order: Order, found: ExchangeOrder, held: set[tuple[str, Side]]) -> bool:
        """The venue reports ``order`` open although no listing shows it: the venue's word wins.

        A TP/SL leg of a position the venue still holds is its protection (WEEX lists attached TP legs
        nowhere): it stays. Any other order, a leg of a position that is gone or an entry or close
        still open after the visibility window, is cancelled at the venue, and recorded cancelled only
        when the venue confirms the cancel; until then it stays open in the books and is asked again.
        """
        leg = order.kind in (OrderKind.TP, OrderKind.SL)
        if leg and (order.symbol, order.side) in held and self._position_open(order):
            return True
        if not leg and self._age(order) < self.window:
            return False  # a listing lag, or still being worked: decided on a later tick
        return await self._cancel_at_venue(order, found.order_id)

    def _left_on_a_newer_position(
        self, order: Order, held: set[tuple[str, Side]], legs: Sequence[AlgoOrder]
    ) -> bool:
        """A resting leg of a closed position while a newer one of the same side is held.

        WEEX legs act on the symbol and side, not on one position: left there, it would close the newer
        position at the old trigger and size. The orphan sweep leaves it (a position of that side is
        held), so it is cancelled here: a take-profit always, a stop only when the newer position has
        a stop of its own (never strip the only stop a held position has).
        """
        if order.kind not in (OrderKind.TP, OrderKind.SL) or (order.position_id is None and not order.orphan):
            return False
        if (order.symbol, order.side) not in held:
            return False
        if order.position_id is not None and self._position_open(order):
            return False  # an orphan flagged when no position held its side is no newer position's
        if order.kind is OrderKind.TP:
            return True
        return any(
            leg.kind == "sl"
            and leg.symbol == order.symbol
            and leg.position_side is order.side
            and leg.status.is_open
            and leg.order_id != order.exchange_order_id
            and leg.order_id not in self._cancelled
            and self._protects_an_open_position(leg.order_id)
            for leg in legs
        )

    def _protects_an_open_position(self, venue_id: str) -> bool:
        """A stop the books hold for a position still open (not another closed one's leftover)."""
        row = self.store.orders.by_exchange_id(venue_id)
        if row is None or row.position_id is None:
            return False
        position = self.store.positions.get(row.position_id)
        return position is not None and position.state is not PositionState.CLOSED

    async def _cancel_at_venue(self, order: Order, venue_id: str) -> bool:
        """Cancel ``order`` at the venue; recorded cancelled only when the venue confirms it."""
        try:
            if order.kind in (OrderKind.TP, OrderKind.SL):
                await self.exchange.cancel_algo_order(order.symbol, venue_id)
            else:
                await self.exchange.cancel_order(order.symbol, order_id=venue_id)
        except ExchangeError as exc:
            log.warning(
                "%s order %s is open at the venue and its cancel was not confirmed: %s",
                order.kind.value,
                venue_id,
                exc,
                extra={"event": "order.cancel_unconfirmed"},
            )
            return False
        self._cancelled.append(venue_id)
        advance_order(
            self.store,
            order,
            OrderState.CANCELLED,
            actor=ACTOR,
            reason="open at the venue but belonging to no open work: cancelled, the venue confirmed it",
            at=self.clock.now(),
        )
        return True

    def _position_open(self, order: Order) -> bool:
        """The leg's own position is still open in the books (a leg of a closed one protects nothing)."""
        if order.position_id is None:
            return True
        position = self.store.positions.get(order.position_id)
        return position is not None and position.state is not PositionState.CLOSED

    def _expire_if_old(self, order: Order, what: str) -> bool:
        """The venue does not report the order at all: after the visibility window it is not there."""
        if self._age(order) < self.window:
            return False
        advance_order(
            self.store,
            order,
            OrderState.CANCELLED,
            actor=ACTOR,
            reason=f"not found at the venue after {self.settings.trading.order_visibility}: {what}",
            at=self.clock.now(),
        )
        return True

    async def _look_up(self, order: Order) -> ExchangeOrder | None:
        """By exchange id when we have one (a leg WEEX attached may carry no client id of ours), else
        by client id."""
        if order.exchange_order_id is not None:
            try:
                return await self.exchange.order(order.symbol, order.exchange_order_id)
            except OrderNotFound:
                pass
        if order.client_order_id.startswith("exchange:"):
            return None
        return await self.exchange.find_order(order.symbol, order.client_order_id)

    # ------------------------------------------------------------------ proposals

    def _fail(self, proposal: Proposal, reason: str) -> str:
        assert proposal.id is not None
        transition(
            self.store, proposal.id, ProposalState.FAILED, actor=ACTOR, reason=reason, at=self.clock.now()
        )
        return "failed"

    async def _resolve_proposal(self, proposal: Proposal) -> str | None:
        assert proposal.id is not None
        if proposal.state is ProposalState.APPROVED:
            return self._fail(proposal, "approved but never sent: the engine stopped before sending it")
        cid = self.executor.desk.entry_cid(proposal.id)
        entry = self.store.orders.by_client_id(cid)
        if entry is None:
            return self._fail(proposal, "the engine stopped before the entry was written: nothing was sent")
        if entry.state in (OrderState.CANCELLED, OrderState.REJECTED):
            return self._fail(proposal, f"entry {cid} {entry.state.value}: {entry.error or 'see its events'}")
        if entry.state is not OrderState.FILLED:
            return None
        position = self.store.positions.open_for(proposal.symbol, proposal.side)
        if position is not None and position.proposal_id not in (None, proposal.id):
            position = None
        if position is None:
            if self._age(entry) < self.window:
                return None  # the position may not be listed yet
            return await self._round_trip(proposal, entry)
        await self._link(proposal, position, entry)
        return "linked"

    async def _round_trip(self, proposal: Proposal, entry: Order) -> str | None:
        """Filled, and its position already gone: rebuilt from the venue's fills (position, PnL, outcome).

        A position the monitor adopted and closed out meanwhile is that position: linked, not doubled.
        """
        assert proposal.id is not None
        now = self.clock.now()
        adopted = self.store.positions.select(
            "state = ? AND symbol = ? AND side = ? AND proposal_id IS NULL AND adopted = 1"
            " AND opened_at >= ?",
            [PositionState.CLOSED.value, proposal.symbol, proposal.side.value, ts(entry.created_at)],
            order_by="opened_at",
            limit=1,
        )
        if adopted:
            position: Position | None = adopted[0]
            assert position is not None
            assert position.id is not None
            self.store.positions.update(position.id, proposal_id=proposal.id, adopted=False, updated_at=now)
            for state, why in (
                (ProposalState.OPEN, f"entry {entry.client_order_id} filled; position #{position.id}"),
                (ProposalState.CLOSED, f"position #{position.id} closed at the venue"),
            ):
                transition(self.store, proposal.id, state, actor=ACTOR, reason=why, at=now)
        else:
            found = await self._look_up(entry)
            position = None
            if found is not None:
                # Past the wait for a listing and as long again for an order that closed it: a close with
                # no order of its own (an auto-deleverage), booked as any unexplained absence is.
                unexplained = self._age(entry) >= 2 * self.window
                position = await self.executor.reconciler.round_trip(
                    proposal, found, actor=ACTOR, unexplained=unexplained
                )
            if position is None:
                return None  # not readable, or no closing order shown yet: asked again next tick
        if entry.id is not None:
            self.store.orders.update(entry.id, position_id=position.id, updated_at=now)
        return "closed"

    async def _link(self, proposal: Proposal, position: Position, entry: Order) -> None:
        """The position the monitor adopted is this proposal's: record it so, and restore its TP."""
        assert proposal.id is not None
        assert position.id is not None
        now = self.clock.now()
        self.store.positions.update(
            position.id,
            proposal_id=proposal.id,
            adopted=False,
            tp_price=position.tp_price or proposal.tp_price,
            sl_price=position.sl_price or proposal.sl_price,
            updated_at=now,
        )
        if entry.position_id is None and entry.id is not None:
            self.store.orders.update(entry.id, position_id=position.id, updated_at=now)
        transition(
            self.store,
            proposal.id,
            ProposalState.OPEN,
            actor=ACTOR,
            reason=f"entry {entry.client_order_id} filled; position #{position.id} linked",
            at=now,
        )
        linked = self.store.positions.get(position.id)
        assert linked is not None
        if linked.tp_order_id is None and linked.state is PositionState.OPEN:
            tp_id = await self.executor.protection.place_leg(
                linked, "tp", proposal.tp_price, leg="tp3", request={"reason": "restored after restart"}
            )
            if tp_id is not None:
                self.store.positions.update(linked.id or 0, tp_order_id=tp_id, updated_at=now)
        log.info(
            "proposal #%s: position #%s linked after restart",
            proposal.id,
            position.id,
            extra={"event": "position.linked", "proposal_id": proposal.id, "position_id": position.id},
        )
