"""Manual entry: an operator's own trade (pair, side, margin or size) through the same gates and executor.

The command (``CommandKind.ENTER``, handled by ``commands/entry_handlers.py``, which maps its typed
arguments and result to this module's) is checked twice, by the same functions (``store.entry_args``):
when the console or the CLI queues it and when the engine runs it. The engine then reads a
plausible price, builds a proposal with source ``operator``, runs the risk gates on the operator's size
(``risk.OperatorSize``: floored to the step, never raised, refused past a limit) and executes it exactly as
an approved proposal: the same ``Executor``, the same TP/SL placement, the same audit events.

Two gates judge a signal source, not a trade, and are not applied: the confidence floor (the operator
states no confidence; the proposal records 0) and, in live mode, the edge gate (``no_proven_edge``): an
explicit human entry is not a signal with a record. Neither is silent: the proposal's gates say so, and
in live mode an event names the operator (docs/operator-guide.md, "Manual entry").
"""

from __future__ import annotations

from dataclasses import dataclass

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import Action, Decision, EngineState, EventLevel, Mode, Pair, ProposalState
from smt_engine.exchange.base import Exchange, ExchangeError
from smt_engine.exchange.market.plausibility import ImplausiblePrice
from smt_engine.exchange.precision import plain
from smt_engine.store import Store
from smt_engine.store.entry_args import EntryArgsError, EntryRequest, check_entry
from smt_engine.store.records import Proposal
from smt_engine.trading.account_reader import AccountReader
from smt_engine.trading.execution import Executor
from smt_engine.trading.proposals import ProposalBook, transition
from smt_engine.trading.risk import DecisionEvidence, GateResult, OperatorSize, ReasonCode

SOURCE = "operator"
"""The proposal source of an operator's entry (an analyst's is ``analyst``, `smt propose`'s ``manual``)."""

EDGE_NOT_APPLIED = "not applied: an operator's own entry is not a signal source"


class EntryRefused(Exception):
    """An entry that was not opened; the message says why, in words the operator can act on."""


@dataclass(frozen=True, slots=True)
class Entered:
    """An operator's entry, gated and opened: its proposal, the executor's outcome and the position."""

    proposal_id: int
    outcome: str
    position_id: int | None
    detail: str


class ManualEntry:
    """One operator entry, gated, recorded and executed."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        exchange: Exchange,
        book: ProposalBook,
        executor: Executor,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.exchange = exchange
        self.book = book
        self.executor = executor

    async def enter(self, request: EntryRequest, actor: str) -> Entered:
        """Open the requested entry for ``actor``; ``EntryRefused`` says why it was not opened."""
        try:
            pair = check_entry(request, self.settings)
        except EntryArgsError as exc:
            raise EntryRefused(f"entry refused: {exc}") from None
        proposal = await self._decide(request, pair, actor)
        assert proposal.id is not None
        if proposal.state is not ProposalState.APPROVED:
            failed = [g for g in proposal.gates if not g.get("passed")]
            why = "; ".join(f"{g['gate']}: {g['detail']}" for g in failed) or proposal.state.value
            raise EntryRefused(f"entry refused (proposal #{proposal.id}): {why}")
        result = await self.executor.execute(proposal)
        if result.outcome != "open":
            raise EntryRefused(
                f"entry #{proposal.id} approved but not opened: {result.outcome}: {result.detail}"
            )
        assert result.position is not None  # an "open" outcome carries its position
        return Entered(
            proposal_id=proposal.id,
            outcome=result.outcome,
            position_id=result.position.id,
            detail=result.detail,
        )

    async def _decide(self, request: EntryRequest, pair: Pair, actor: str) -> Proposal:
        """A proposal for the request, gated at a plausible price: ``approved`` by the actor or ``denied``."""
        symbol = pair.symbol
        reader = AccountReader(self.settings, self.store, self.clock, self.exchange)
        try:
            read = await reader.for_symbol(symbol, self.store.engine.state_or(EngineState.STOPPED))
        except ImplausiblePrice as exc:
            raise EntryRefused(f"entry refused: {exc}") from None
        except ExchangeError as exc:
            raise EntryRefused(f"entry refused: the exchange could not be read ({exc})") from None
        now = self.clock.now()
        account, contract, price = read.account, read.contract, read.price
        live = self.settings.engine.mode is Mode.LIVE
        evidence = DecisionEvidence(edge=GateResult(ReasonCode.NO_PROVEN_EDGE, True, EDGE_NOT_APPLIED))
        decision = Decision(
            action=Action(request.side.value),
            confidence=0.0,
            tp_pct=request.tp_pct or account.competition.default_tp_pct,
            sl_pct=request.sl_pct or account.competition.default_sl_pct,
            hold_hours=0.0,
            reasoning=f"operator entry by {actor}: {request.describe()}",
        )
        # One commit: no reader sees the operator's entry as a proposal waiting for approval.
        with self.store.transaction():
            proposal = self.book.create(
                pair,
                decision,
                account,
                contract,
                price,
                source=SOURCE,
                evidence=evidence if live else None,
                requested=OperatorSize(margin=request.margin, size=request.size),
            )
            if proposal.state is not ProposalState.PROPOSED:
                return proposal
            assert proposal.id is not None
            if live:
                self.store.events.append(
                    now,
                    EventLevel.INFO,
                    "risk.edge_not_applied",
                    f"proposal #{proposal.id} {proposal.pair}: live entry by {actor}; the edge gate "
                    "judges signal sources, not an operator's own entry",
                    proposal_id=proposal.id,
                    data={"actor": actor},
                )
            return transition(
                self.store,
                proposal.id,
                ProposalState.APPROVED,
                actor=actor,
                reason=f"operator entry at {plain(price)}: passed every gate",
                at=now,
            )
