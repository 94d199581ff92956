"""Operator commands the engine executes for the console and the CLI: approve, reject, close,
close all, cleanup, and manual entry (``trading.manual_entry``). Each runs under the engine's trade lock
and returns a result dict, or raises ``CommandRejected`` with a reason the operator can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import CloseReason, CommandKind, EngineState, PositionState, ProposalState, Side
from smt_engine.engine import CommandHandler, CommandRejected
from smt_engine.exchange.base import Exchange, ExchangeError
from smt_engine.exchange.market.plausibility import ImplausiblePrice, PriceRule, plausible_price
from smt_engine.operator_adjust import AdjustCommands, parse_part
from smt_engine.store import Store
from smt_engine.store.records import Command
from smt_engine.trading.execution import Executor
from smt_engine.trading.manual_entry import ManualEntry
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.proposals import IllegalTransition, ProposalBook, ProposalError, snapshot_account


class OperatorCommands:
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
        self.adjust = AdjustCommands(settings, store, clock, executor)

    def handlers(self) -> Mapping[CommandKind, CommandHandler]:
        return {
            CommandKind.APPROVE: self.approve,
            CommandKind.REJECT: self.reject,
            CommandKind.CLOSE: self.close,
            CommandKind.CLOSE_ALL: self.close_all,
            CommandKind.CLEANUP: self.cleanup,
            **self.adjust.handlers(),
            CommandKind.ENTER: ManualEntry(
                self.settings, self.store, self.clock, self.exchange, self.book, self.executor
            ).run,
        }

    def _engine_state(self) -> EngineState:
        return self.store.engine.state_or(EngineState.STOPPED)

    @staticmethod
    def _proposal_id(command: Command) -> int:
        value = command.args.get("proposal_id")
        if not isinstance(value, int) or isinstance(value, bool):
            raise CommandRejected("args.proposal_id must be a proposal number")
        return value

    async def approve(self, command: Command) -> dict[str, Any]:
        pid = self._proposal_id(command)
        proposal = self.store.proposals.get(pid)
        if proposal is None:
            raise CommandRejected(f"no proposal #{pid}")
        try:
            price = await plausible_price(
                self.exchange, proposal.symbol, self.clock, PriceRule.of(self.settings)
            )
            contract = (await self.exchange.contracts([proposal.symbol])).get(proposal.symbol)
            balance = await self.exchange.balance()
            positions = await self.exchange.positions()
        except ImplausiblePrice as exc:
            raise CommandRejected(f"cannot approve #{pid} now: {exc}") from None
        except ExchangeError as exc:
            raise CommandRejected(
                f"cannot approve #{pid} now: the exchange could not be read ({exc})"
            ) from None
        account = snapshot_account(
            self.store,
            self.settings,
            self.clock.now(),
            balance,
            positions,
            self._engine_state(),
            contracts={proposal.symbol: contract} if contract else None,
            prices={proposal.symbol: price},
        )
        try:
            decided = self.book.approve(pid, command.actor, price, account, contract=contract)
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
        return {
            "proposal_id": pid,
            "outcome": result.outcome,
            "position_id": result.position.id if result.position else None,
            "detail": result.detail,
        }

    async def reject(self, command: Command) -> dict[str, Any]:
        pid = self._proposal_id(command)
        try:
            decided = self.book.reject(pid, command.actor, str(command.args.get("reason", "")))
        except (IllegalTransition, ProposalError) as exc:
            raise CommandRejected(str(exc)) from None
        return {"proposal_id": pid, "state": decided.state.value}

    async def close(self, command: Command) -> dict[str, Any]:
        if parse_part(command.args) != (None, None):
            return await self.adjust.partial_close(command)
        symbol = str(command.args.get("symbol", "")).upper()
        try:
            side = Side(str(command.args.get("side", "")).upper())
        except ValueError:
            raise CommandRejected("args.side must be LONG or SHORT") from None
        position = self.store.positions.open_for(symbol, side)
        if position is None:
            raise CommandRejected(f"no open {side.value} position on {symbol}")
        closed = await self.executor.closer.close_position(position, CloseReason.MANUAL, actor=command.actor)
        if closed.state is PositionState.OPEN:
            raise CommandRejected(f"{symbol} {side.value}: the close order was not accepted (see the events)")
        return {
            "position_id": closed.id,
            "state": closed.state.value,
            "close_order_id": closed.close_order_id,
        }

    async def close_all(self, command: Command) -> dict[str, Any]:
        closed: list[int] = []
        failed: list[str] = []
        for position in self.store.positions.open_positions():
            if position.state is not PositionState.OPEN:
                continue
            result = await self.executor.closer.close_position(
                position, CloseReason.MANUAL, actor=command.actor
            )
            if result.state is PositionState.OPEN:
                failed.append(f"{position.symbol} {position.side.value}")
            else:
                closed.append(position.id or 0)
        if failed:
            raise CommandRejected(f"closed {len(closed)}, could not close: {', '.join(failed)}")
        return {"closed": closed}

    async def cleanup(self, command: Command) -> dict[str, Any]:
        try:
            return await self.monitor.orphans.cleanup()
        except RuntimeError as exc:
            raise CommandRejected(str(exc)) from None
