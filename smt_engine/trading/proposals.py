"""Proposals: the state machine of docs/design.md, manual or automatic approval, per-cycle selection.

Every transition goes through ``transition``, which refuses anything ``PROPOSAL_TRANSITIONS`` does not
list and appends an event naming the actor and the reason, so the console can replay a proposal's life.
Approval is a fresh decision: the live price must not have drifted, and size, TP/SL and every gate are
re-derived at that moment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import (
    PROPOSAL_TRANSITIONS,
    Action,
    AnalystKind,
    ApprovalMode,
    Contract,
    Decision,
    EventLevel,
    Pair,
    ProposalState,
    Tier,
    round_confidence,
)
from smt_engine.exchange.precision import plain
from smt_engine.secrets import redact
from smt_engine.store import Store
from smt_engine.store.records import Proposal
from smt_engine.trading.account import AccountState, OpenExposure
from smt_engine.trading.edge_gate import is_override
from smt_engine.trading.evidence import Evidence, report_edge
from smt_engine.trading.risk import (
    Assessment,
    DecisionEvidence,
    GateResult,
    OperatorSize,
    ReasonCode,
    RiskEngine,
    drift_pct,
)
from smt_engine.trading.risk_inputs import risk_inputs_record

log = logging.getLogger(__name__)

_RATIONALE_MAX = 4000


class ProposalError(Exception):
    """A proposal cannot be acted on as asked (unknown id, wrong state)."""


class IllegalTransition(ProposalError):
    def __init__(self, proposal_id: int | None, current: ProposalState, target: ProposalState) -> None:
        self.current, self.target = current, target
        super().__init__(f"proposal #{proposal_id}: {current.value} -> {target.value} is not allowed")


def transition(
    store: Store,
    proposal_id: int,
    to: ProposalState,
    *,
    actor: str,
    reason: str,
    at: datetime,
    codes: Sequence[str] = (),
    **fields: Any,
) -> Proposal:
    """Move a proposal to ``to`` (atomically, checked against the state machine) and audit it."""
    with store.transaction():
        current = store.proposals.get(proposal_id)
        if current is None:
            raise ProposalError(f"no proposal #{proposal_id}")
        if to not in PROPOSAL_TRANSITIONS[current.state]:
            raise IllegalTransition(proposal_id, current.state, to)
        updates: dict[str, Any] = {"state": to, **fields}
        if to in (
            ProposalState.APPROVED,
            ProposalState.REJECTED,
            ProposalState.EXPIRED,
            ProposalState.DENIED,
        ):
            updates.setdefault("decided_at", at)
            updates.setdefault("decided_by", actor)
        if codes:
            updates["reason_codes"] = list(codes)
        store.proposals.update(proposal_id, **updates)
        level = (
            EventLevel.WARNING
            if to in (ProposalState.DENIED, ProposalState.FAILED, ProposalState.EXPIRED)
            else EventLevel.INFO
        )
        store.events.append(
            at,
            level,
            f"proposal.{to.value}",
            f"proposal #{proposal_id} {current.pair} {current.side.value}: "
            f"{current.state.value} -> {to.value} by {actor}" + (f": {reason}" if reason else ""),
            cycle_id=current.cycle_id,
            proposal_id=proposal_id,
            data={
                "from": current.state.value,
                "to": to.value,
                "actor": actor,
                "reason": reason,
                "codes": list(codes),
            },
        )
        updated = store.proposals.get(proposal_id)
    assert updated is not None
    return updated


# --------------------------------------------------------------------------- the book


@dataclass(frozen=True, slots=True)
class Candidate:
    """One pair's analyst output with the market inputs needed to size it."""

    pair: Pair
    decision: Decision
    contract: Contract | None
    price: Decimal | None
    analysis_id: int | None = None


@dataclass(slots=True)
class CycleOutcome:
    proposals: list[Proposal] = field(default_factory=list)
    approved: list[Proposal] = field(default_factory=list)
    """Approved now (auto mode) and ready for the executor, best first."""
    waiting: list[Proposal] = field(default_factory=list)
    """Passed every gate and wait for an operator (manual mode)."""
    halt_reason: str | None = None
    """Set when a loss limit was hit: the engine must switch to ``halted``."""
    skipped: str | None = None
    risk_inputs: dict[str, Any] | None = None
    """What the gates saw (``risk_inputs_record``), kept with the cycle so a replay uses exactly that."""


class ProposalBook:
    """Creates proposals from decisions and carries them through approval, rejection and expiry."""

    def __init__(
        self, store: Store, clock: Clock, settings: Settings, risk: RiskEngine | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.risk = risk or RiskEngine(settings)
        self.on_halt: Callable[[str, ReasonCode], None] | None = None
        """The engine's halt: a loss limit found by a gate (cycle or approval) halts at once."""
        self.gather: Callable[[datetime], Evidence] = lambda now: Evidence.gather(
            self.store, self.settings, now
        )
        """The record as of an instant (calibration, edge): a backtest's records can be added here."""

    # ------------------------------------------------------------------ creation

    def _record(
        self,
        assessment: Assessment,
        decision: Decision,
        *,
        cycle_id: str | None,
        analysis_id: int | None,
        source: str,
    ) -> Proposal:
        assert assessment.side is not None
        now = self.clock.now()
        proposal = Proposal(
            pair=assessment.pair.base,
            symbol=assessment.pair.symbol,
            side=assessment.side,
            confidence=float(assessment.confidence),
            margin=assessment.margin,
            notional=assessment.notional,
            leverage=assessment.sizing.leverage,
            size=assessment.size,
            entry_ref=assessment.entry_ref,
            tp_price=assessment.tp_price,
            sl_price=assessment.sl_price,
            tp_pct=assessment.tp_pct,
            sl_pct=assessment.sl_pct,
            state=ProposalState.PROPOSED,
            created_at=now,
            expires_at=now + self.settings.trading.proposal_ttl,
            cycle_id=cycle_id,
            analysis_id=analysis_id,
            source=source,
            gates=[g.as_dict() for g in assessment.gates],
            rationale=redact(decision.reasoning)[:_RATIONALE_MAX],
        )
        proposal = self.store.proposals.insert(proposal)
        assert proposal.id is not None
        self.store.events.append(
            now,
            EventLevel.INFO,
            "proposal.proposed",
            f"proposal #{proposal.id} {proposal.pair} {proposal.side.value} conf {assessment.confidence}"
            + (
                f" (sized on calibrated {assessment.sizing_confidence})"
                if assessment.sizing_confidence != assessment.confidence
                else ""
            )
            + f": margin {plain(proposal.margin)} USDT, notional {plain(proposal.notional)} USDT "
            f"at {proposal.leverage}x, size {plain(proposal.size)}",
            cycle_id=cycle_id,
            proposal_id=proposal.id,
            data={
                "actor": source,
                "max_hold_s": assessment.max_hold.total_seconds(),
                "stated_confidence": str(assessment.confidence),
                "sizing_confidence": str(assessment.sizing_confidence),
            },
        )
        return proposal

    def _deny(self, proposal: Proposal, codes: Sequence[str], reason: str, actor: str = "risk") -> Proposal:
        assert proposal.id is not None
        return transition(
            self.store,
            proposal.id,
            ProposalState.DENIED,
            actor=actor,
            reason=reason,
            at=self.clock.now(),
            codes=codes,
        )

    def create(
        self,
        pair: Pair,
        decision: Decision,
        account: AccountState,
        contract: Contract | None,
        price: Decimal | None,
        *,
        cycle_id: str | None = None,
        analysis_id: int | None = None,
        source: str = "analyst",
        force: bool = False,
        evidence: DecisionEvidence | None = None,
        requested: OperatorSize | None = None,
    ) -> Proposal:
        """One proposal through every gate: ``proposed`` if it passes, else ``denied`` with its codes.

        Does not approve, whatever the approval mode: ``run_cycle`` does that for the cycle's best, and
        ``trading.manual_entry`` for an operator's entry (``requested``: the operator's size).
        """
        if decision.action.side is None:
            raise ProposalError(f"{pair.base}: {decision.action} is not a trade")
        assessment = self.risk.assess(
            pair,
            decision,
            account,
            contract,
            price,
            self.clock.now(),
            force=force,
            evidence=evidence,
            requested=requested,
        )
        # One commit: no reader (the console, a notifier) ever sees a denied proposal as waiting.
        with self.store.transaction():
            proposal = self._record(
                assessment, decision, cycle_id=cycle_id, analysis_id=analysis_id, source=source
            )
            if not assessment.passed:
                proposal = self._deny(proposal, assessment.reason_codes, _failed(assessment))
        if assessment.halt_reason:
            self._halt(assessment, cycle_id)
        return proposal

    def run_cycle(
        self,
        candidates: Sequence[Candidate],
        account: AccountState,
        *,
        cycle_id: str | None = None,
        evidence: Evidence | None = None,
    ) -> CycleOutcome:
        """Turn a cycle's decisions into proposals; only the best ``max_entries_per_cycle`` go forward.

        Candidates are taken by confidence, best first, and each is gated with the earlier selections
        already counted as exposure (free slots are recomputed after every pick). Every gate runs at
        one instant, recorded with the inputs, so the cycle replays exactly: the evidence (calibration
        and edge records, ``trading.evidence``) is gathered at that instant unless given (a replay's).
        """
        now = self.clock.now()
        outcome = CycleOutcome(risk_inputs=risk_inputs_record(account, now, self.settings))
        if account.available is None:
            outcome.skipped = "available balance could not be read: no proposals this cycle"
            self.store.events.append(
                self.clock.now(), EventLevel.WARNING, "proposal.skipped", outcome.skipped, cycle_id=cycle_id
            )
            return outcome
        evidence = evidence if evidence is not None else self.gather(now)
        trades = [c for c in candidates if c.decision.action.side is not None]
        trades.sort(key=self._selection_key)
        limit = self.settings.trading.max_entries_per_cycle
        auto = self.settings.engine.approval is ApprovalMode.AUTO
        state = account
        selected = 0
        edges: list[GateResult] = []
        for cand in trades:
            judged = evidence.judge(
                self.settings, cand.decision.analyst.value, cand.pair.base, cand.decision.confidence
            )
            try:
                assessment = self.risk.assess(
                    cand.pair, cand.decision, state, cand.contract, cand.price, now, evidence=judged
                )
            except (ArithmeticError, ValueError) as exc:  # one pair's bad number never stops the others
                self.store.events.append(
                    now,
                    EventLevel.WARNING,
                    "proposal.skipped",
                    f"{cand.pair.symbol}: could not be assessed ({type(exc).__name__}: {exc}); it waits",
                    cycle_id=cycle_id,
                )
                continue
            if judged.edge is not None:
                edges.append(judged.edge)
            # Recorded and decided in one commit: a proposal denied or auto-approved here never shows
            # as waiting to a reader (the console's alert, a notification) in between.
            with self.store.transaction():
                proposal = self._record(
                    assessment,
                    cand.decision,
                    cycle_id=cycle_id,
                    analysis_id=cand.analysis_id,
                    source="analyst",
                )
                if not assessment.passed:
                    proposal = self._deny(proposal, assessment.reason_codes, _failed(assessment))
                elif selected >= limit:
                    proposal = self._deny(
                        proposal,
                        [ReasonCode.CYCLE_ENTRY_LIMIT.value],
                        f"only the best {limit} proposal(s) per cycle are acted on",
                    )
                elif auto:
                    assert proposal.id is not None
                    proposal = transition(
                        self.store,
                        proposal.id,
                        ProposalState.APPROVED,
                        actor="auto",
                        reason="passed every gate (approval = auto)",
                        at=now,
                    )
            if judged.edge is not None and proposal.state is not ProposalState.DENIED:
                self._log_override(judged.edge, proposal)
            if assessment.halt_reason and outcome.halt_reason is None:
                outcome.halt_reason = assessment.halt_reason
                self._halt(assessment, cycle_id)
            outcome.proposals.append(proposal)
            if proposal.state is ProposalState.DENIED:
                continue
            selected += 1
            assert assessment.side is not None
            state = state.with_exposure(OpenExposure(cand.pair.symbol, assessment.side, assessment.margin))
            (outcome.approved if auto else outcome.waiting).append(proposal)
        if outcome.risk_inputs is not None:
            outcome.risk_inputs["evidence"] = evidence.as_record()
        report_edge(self.store, self.clock, edges, gated=evidence.gated)
        return outcome

    def _log_override(self, gate: GateResult, proposal: Proposal) -> None:
        """A live entry an operator override let through is a WARNING event naming it and its proposal."""
        if not is_override(gate):
            return
        log.warning("proposal #%s: edge gate overridden: %s", proposal.id, gate.detail)
        self.store.events.append(
            self.clock.now(),
            EventLevel.WARNING,
            "risk.edge_override",
            f"proposal #{proposal.id} {proposal.pair}: live entry allowed without a proven record: "
            f"{gate.detail}",
            cycle_id=proposal.cycle_id,
            proposal_id=proposal.id,
        )

    def _evidence_for(self, proposal: Proposal, now: datetime) -> tuple[AnalystKind, DecisionEvidence]:
        """The source behind a proposal (its analysis) and what its record says at ``now``."""
        analysis = self.store.analyses.get(proposal.analysis_id) if proposal.analysis_id is not None else None
        if analysis is None:  # a manual trade: the operator's own decision, not a source's
            return AnalystKind.HEURISTIC, DecisionEvidence()
        judged = self.gather(now).judge(
            self.settings, analysis.analyst.value, proposal.pair, proposal.confidence
        )
        return analysis.analyst, judged

    def _selection_key(self, candidate: Candidate) -> tuple[Decimal, int, str]:
        """Best confidence first; ties in the configured pair order (tier 1, then tier 2, as listed).

        The order does not depend on the order candidates arrive in (analyses finish in any order), so
        `smt replay` picks the same proposal as the engine did.
        """
        bases = [p.base for p in self.settings.pairs.all()]
        base = candidate.pair.base
        rank = bases.index(base) if base in bases else len(bases)
        return (-round_confidence(candidate.decision.confidence), rank, base)

    def _halt(self, assessment: Assessment, cycle_id: str | None) -> None:
        reason, code = assessment.halt_reason, assessment.halt_code
        assert reason is not None
        assert code is not None
        self.store.events.append(
            self.clock.now(),
            EventLevel.CRITICAL,
            "risk.halt",
            f"loss limit hit at a risk gate: {reason}",
            cycle_id=cycle_id,
            data={"reason_code": code.value},
        )
        if self.on_halt is not None:
            self.on_halt(reason, code)

    # ------------------------------------------------------------------ operator decisions

    def _get(self, proposal_id: int) -> Proposal:
        proposal = self.store.proposals.get(proposal_id)
        if proposal is None:
            raise ProposalError(f"no proposal #{proposal_id}")
        return proposal

    def approve(
        self,
        proposal_id: int,
        actor: str,
        live_price: Decimal | None,
        account_state: AccountState,
        *,
        contract: Contract | None = None,
        force: bool = False,
    ) -> Proposal:
        """Approve at the live price: refuse on drift, else re-derive size and TP/SL and re-run every gate.

        Returns the proposal in its new state (``approved``, ``denied`` or ``expired``); raises
        ``IllegalTransition`` if it is not waiting for approval.
        """
        proposal = self._get(proposal_id)
        now = self.clock.now()
        if proposal.state is not ProposalState.PROPOSED:
            raise IllegalTransition(proposal_id, proposal.state, ProposalState.APPROVED)
        if proposal.expires_at is not None and now >= proposal.expires_at:
            return transition(
                self.store,
                proposal_id,
                ProposalState.EXPIRED,
                actor="system",
                reason=f"expired at {proposal.expires_at:%H:%M:%S} UTC before {actor} approved it",
                at=now,
                codes=[ReasonCode.EXPIRED.value],
            )
        if live_price is None or live_price <= 0:
            gate = GateResult(ReasonCode.NO_PRICE, False, "no live price at approval")
            return self._deny_at_approval(proposal, [gate], actor)
        drift = drift_pct(proposal.entry_ref, live_price)
        limit = self.settings.risk.max_drift_pct
        drift_gate = GateResult(
            ReasonCode.PRICE_DRIFT,
            drift <= limit,
            f"price {plain(live_price)} vs proposed {plain(proposal.entry_ref)}: "
            f"{drift:.3f}% (limit {limit}%)",
        )
        if not drift_gate.passed:
            return self._deny_at_approval(proposal, [drift_gate], actor)

        pair = self.settings.pairs.by_base(proposal.pair) or Pair(proposal.pair, Tier.TWO)
        contract = contract or account_state.contracts.get(proposal.symbol)
        if contract is None:
            loaded = self.store.contracts.load(proposal.symbol)
            contract = loaded[0] if loaded else None
        analyst, judged = self._evidence_for(proposal, now)
        decision = Decision(
            action=Action(proposal.side.value),
            confidence=proposal.confidence,
            tp_pct=proposal.tp_pct,
            sl_pct=proposal.sl_pct,
            hold_hours=0.0,
            reasoning=proposal.rationale,
            analyst=analyst,
        )
        assessment = self.risk.assess(
            pair, decision, account_state, contract, live_price, now, force=force, evidence=judged
        )
        gates = [drift_gate, *assessment.gates]
        if assessment.halt_reason:
            self._halt(assessment, proposal.cycle_id)
        if not assessment.passed:
            return self._deny_at_approval(proposal, gates, actor)
        if judged.edge is not None:
            self._log_override(judged.edge, proposal)
        return transition(
            self.store,
            proposal_id,
            ProposalState.APPROVED,
            actor=actor,
            reason=f"re-checked at {plain(live_price)} (drift {drift:.3f}%)",
            at=now,
            entry_ref=live_price,
            size=assessment.size,
            margin=assessment.margin,
            notional=assessment.notional,
            leverage=assessment.sizing.leverage,
            tp_price=assessment.tp_price,
            sl_price=assessment.sl_price,
            tp_pct=assessment.tp_pct,
            sl_pct=assessment.sl_pct,
            gates=[g.as_dict() for g in gates],
        )

    def _deny_at_approval(self, proposal: Proposal, gates: list[GateResult], actor: str) -> Proposal:
        assert proposal.id is not None
        failed = [g for g in gates if not g.passed]
        return transition(
            self.store,
            proposal.id,
            ProposalState.DENIED,
            actor=actor,
            reason="refused at approval: " + "; ".join(f"{g.code.value}: {g.detail}" for g in failed),
            at=self.clock.now(),
            codes=[g.code.value for g in failed],
            gates=[g.as_dict() for g in gates],
        )

    def reject(self, proposal_id: int, actor: str, reason: str = "") -> Proposal:
        self._get(proposal_id)
        return transition(
            self.store,
            proposal_id,
            ProposalState.REJECTED,
            actor=actor,
            reason=reason or "rejected by operator",
            at=self.clock.now(),
        )

    def expire_due(self, now: datetime | None = None) -> list[Proposal]:
        """Proposals whose TTL ran out while waiting for an operator."""
        now = now or self.clock.now()
        expired = []
        for proposal in self.store.proposals.due_to_expire(now):
            assert proposal.id is not None
            try:
                expired.append(
                    transition(
                        self.store,
                        proposal.id,
                        ProposalState.EXPIRED,
                        actor="system",
                        reason=f"not approved within {self.settings.trading.proposal_ttl}",
                        at=now,
                        codes=[ReasonCode.EXPIRED.value],
                    )
                )
            except IllegalTransition:  # decided concurrently: nothing to expire
                continue
        return expired


def _failed(assessment: Assessment) -> str:
    return "; ".join(f"{g.code.value}: {g.detail}" for g in assessment.gates if not g.passed)
