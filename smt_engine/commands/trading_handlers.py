"""The commands that decide and end trades: approve or reject a proposal, close a position (whole; a part
is ``adjust_handlers``'s), close all, cancel orphan orders. Each runs under the engine's trade lock (the
service's caller holds it) and answers with its kind's result type or ``CommandRejected``.
"""

from __future__ import annotations

from smt_engine.clock import Clock
from smt_engine.commands.args import ApproveArgs, CleanupArgs, CloseAllArgs, CloseArgs, RejectArgs
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.results import (
    ApproveResult,
    CleanupResult,
    CloseAllResult,
    CloseResult,
    RejectResult,
)
from smt_engine.config import Settings
from smt_engine.domain import CloseReason, EngineState, PositionState, ProposalState
from smt_engine.exchange.base import Exchange, ExchangeError
from smt_engine.exchange.market.plausibility import ImplausiblePrice
from smt_engine.store import Store
from smt_engine.trading.account_reader import AccountReader
from smt_engine.trading.execution import Executor
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.proposals import IllegalTransition, ProposalBook, ProposalError


class TradingCommands:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        exchange: Exchange,
        book: ProposalBook,
        executor: Executor,
        monitor: Monitor,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.exchange = exchange
        self.book = book
        self.executor = executor
        self.monitor = monitor

    async def approve(self, args: ApproveArgs, actor: str) -> ApproveResult:
        pid = args.proposal_id
        proposal = self.store.proposals.get(pid)
        if proposal is None:
            raise CommandRejected(f"no proposal #{pid}")
        reader = AccountReader(self.settings, self.store, self.clock, self.exchange)
        try:
            read = await reader.for_symbol(proposal.symbol, self.store.engine.state_or(EngineState.STOPPED))
        except ImplausiblePrice as exc:
            raise CommandRejected(f"cannot approve #{pid} now: {exc}") from None
        except ExchangeError as exc:
            raise CommandRejected(
                f"cannot approve #{pid} now: the exchange could not be read ({exc})"
            ) from None
        try:
            decided = self.book.approve(pid, actor, read.price, read.account, contract=read.contract)
        except (IllegalTransition, ProposalError) as exc:
            raise CommandRejected(str(exc)) from None
        if decided.state is not ProposalState.APPROVED:
            codes = ", ".join(decided.reason_codes) or decided.state.value
            raise CommandRejected(f"proposal #{pid} was not approved: {decided.state.value} ({codes})")
        result = await self.executor.execute(decided)
        if result.outcome != "open":
            raise CommandRejected(
                f"proposal #{pid} approved but not opened: {result.outcome}: {result.detail}"
            )
        return ApproveResult(
            proposal_id=pid,
            outcome=result.outcome,
            position_id=result.position.id if result.position else None,
            detail=result.detail,
        )

    async def reject(self, args: RejectArgs, actor: str) -> RejectResult:
        try:
            decided = self.book.reject(args.proposal_id, actor, args.reason)
        except (IllegalTransition, ProposalError) as exc:
            raise CommandRejected(str(exc)) from None
        return RejectResult(proposal_id=args.proposal_id, state=decided.state)

    async def close(self, args: CloseArgs, actor: str) -> CloseResult:
        position = self.store.positions.open_for(args.symbol, args.side)
        if position is None:
            raise CommandRejected(f"no open {args.side.value} position on {args.symbol}")
        closed = await self.executor.closer.close_position(position, CloseReason.MANUAL, actor=actor)
        if closed.state is PositionState.OPEN:
            raise CommandRejected(
                f"{args.symbol} {args.side.value}: the close order was not accepted (see the events)"
            )
        assert closed.id is not None
        return CloseResult(position_id=closed.id, state=closed.state, close_order_id=closed.close_order_id)

    async def close_all(self, args: CloseAllArgs, actor: str) -> CloseAllResult:
        closed: list[int] = []
        failed: list[str] = []
        for position in self.store.positions.open_positions():
            if position.state is not PositionState.OPEN:
                continue
            result = await self.executor.closer.close_position(position, CloseReason.MANUAL, actor=actor)
            if result.state is PositionState.OPEN:
                failed.append(f"{position.symbol} {position.side.value}")
            else:
                closed.append(position.id or 0)
        if failed:
            raise CommandRejected(f"closed {len(closed)}, could not close: {', '.join(failed)}")
        return CloseAllResult(closed=closed)

    async def cleanup(self, args: CleanupArgs, actor: str) -> CleanupResult:
        try:
            return CleanupResult.model_validate(await self.monitor.orphans.cleanup())
        except RuntimeError as exc:
            raise CommandRejected(str(exc)) from None
