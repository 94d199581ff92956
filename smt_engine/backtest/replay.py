"""What-if replay: a past cycle's recorded inputs through risk and sizing again, under other settings.

The inputs are the ones the cycle's gates used, recorded with it by the proposal step (account,
open exposures, realised PnL, stop-loss times, engine state, contracts, prices and the gates'
instant), plus its analyses (decisions). Cycles recorded before that existed get their inputs
reconstructed from the database as of the cycle's start, and the result says so: that is only an
approximation, since positions may open or close while the analyst works. Either way they go through
the same ``ProposalBook.run_cycle`` the engine uses, on a scratch database in a temporary directory,
so nothing in the real database changes and no exchange is involved at all.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from smt_engine.clock import SimulatedClock
from smt_engine.competition import competition_status
from smt_engine.config import Settings
from smt_engine.domain import Action, CloseReason, Contract, Decision, EngineState
from smt_engine.store import Store
from smt_engine.store.records import Analysis, Cycle, Proposal
from smt_engine.trading.account import AccountState, OpenExposure
from smt_engine.trading.evidence import Evidence
from smt_engine.trading.proposals import Candidate, ProposalBook
from smt_engine.trading.risk_inputs import RiskInputsError, account_from_record

RECORDED = "recorded"
RECONSTRUCTED = "reconstructed"


class ReplayError(Exception):
    """The cycle cannot be replayed (unknown, or its inputs were not recorded)."""


@dataclass(frozen=True, slots=True)
class ReplayRow:
    pair: str
    side: str
    confidence: float
    analysis_id: int | None
    recorded_state: str
    recorded_codes: list[str]
    replay_state: str
    replay_codes: list[str]
    recorded_margin: Decimal | None
    replay_margin: Decimal
    replay_leverage: int

    @property
    def differs(self) -> bool:
        """Allowed where it was denied (or the reverse), or allowed both times with another margin."""
        denied_then, denied_now = self.recorded_state == "denied", self.replay_state == "denied"
        if denied_then != denied_now:
            return True
        return not denied_now and self.recorded_margin != self.replay_margin

    def as_dict(self) -> dict[str, Any]:
        return {
            "pair": self.pair,
            "side": self.side,
            "confidence": self.confidence,
            "analysis_id": self.analysis_id,
            "recorded": {
                "state": self.recorded_state,
                "codes": self.recorded_codes,
                "margin": self.recorded_margin,
            },
            "replay": {
                "state": self.replay_state,
                "codes": self.replay_codes,
                "margin": self.replay_margin,
                "leverage": self.replay_leverage,
            },
            "differs": self.differs,
        }


@dataclass(slots=True)
class ReplayResult:
    cycle_id: str
    at: datetime
    inputs: str = RECORDED
    """``recorded`` (the gates' own inputs) or ``reconstructed`` (older cycles: approximate)."""
    rows: list[ReplayRow] = field(default_factory=list)
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "cycle_id": self.cycle_id,
            "at": self.at.isoformat(),
            "inputs": self.inputs,
            "skipped": self.skipped,
            "proposals": [r.as_dict() for r in self.rows],
        }


def decision_of(a: Analysis) -> Decision | None:
    """The validated decision as recorded (None when the analysis had no valid answer)."""
    payload = a.decision
    if payload is None:
        return None
    acting = a.action is not Action.WAIT

    def pct(key: str) -> Decimal:
        value = payload.get(key)
        return Decimal(str(value)) if acting and value is not None else Decimal(0)

    hold = payload.get("hold_time_hours")
    return Decision(
        action=a.action,
        confidence=a.confidence,
        tp_pct=pct("take_profit_percent"),
        sl_pct=pct("stop_loss_percent"),
        hold_hours=float(hold) if acting and hold is not None else 0.0,
        reasoning=str(payload.get("reasoning", "")),
        grounded=a.grounded,
        analyst=a.analyst,
    )


def account_at(
    store: Store,
    settings: Settings,
    cycle: Cycle,
    contracts: dict[str, Contract],
    prices: dict[str, Decimal],
    own: set[int],
) -> AccountState:
    """The risk inputs as they stood when the cycle ran, from what was recorded by then.

    ``own`` are the cycle's own proposal ids: positions they opened are outcomes of the cycle, not
    inputs to it (on a fast clock they open within the cycle's first instant).
    """
    at = cycle.started_at
    history = store.history
    snapshot = history.account_for_cycle(at, cycle.finished_at)
    if snapshot is None:
        raise ReplayError(f"cycle {cycle.id}: no account snapshot was recorded at or before it")
    peak = history.peak_equity_until(cycle.finished_at or at)
    midnight = datetime.combine(at.astimezone(UTC).date(), time.min, tzinfo=UTC)
    realized = sum(
        (
            p.realized_pnl
            for p in history.positions_closed_between(midnight, at)
            if p.realized_pnl is not None
        ),
        Decimal(0),
    )
    last_sl: dict[str, datetime] = {}
    for p in history.positions_closed_between(datetime.min.replace(tzinfo=UTC), at):
        if p.close_reason is CloseReason.STOP_LOSS and p.closed_at is not None:
            last_sl[p.symbol] = max(p.closed_at, last_sl.get(p.symbol, p.closed_at))
    exposures = tuple(
        OpenExposure(p.symbol, p.side, p.margin)
        for p in history.positions_open_at(at)
        if p.proposal_id is None or p.proposal_id not in own
    )
    return AccountState(
        available=snapshot.available,
        equity=snapshot.equity,
        peak_equity=max(snapshot.equity, peak.equity) if peak is not None else snapshot.equity,
        # Cycles recorded before the risk inputs were: their daily-loss reference was equity plus
        # today's realised loss, so that is the opening equity that reproduces their gates.
        opening_equity=snapshot.equity - realized,
        open_positions=exposures,
        last_stop_loss=last_sl,
        engine_state=EngineState.RUNNING,
        competition=competition_status(settings, at, snapshot.balance),
        contracts=contracts,
        prices=prices,
    )


def reconstructed_account(
    store: Store, settings: Settings, cycle: Cycle, recorded: list[Proposal]
) -> AccountState:
    """For cycles recorded before the gates' inputs were kept: the database as of the cycle's start."""
    prices = store.prices.for_cycle(cycle.id)
    for p in recorded:  # cycles recorded before prices were kept: the proposal's own reference
        prices.setdefault(p.symbol, p.entry_ref)
    contracts: dict[str, Contract] = {}
    for configured in settings.pairs.all():
        loaded = store.contracts.load(configured.symbol)
        if loaded is not None:
            contracts[configured.symbol] = loaded[0]
    own = {p.id for p in recorded if p.id is not None}
    return account_at(store, settings, cycle, contracts, prices, own)


def replay_cycle(store: Store, settings: Settings, cycle_id: str) -> ReplayResult:
    """Re-run risk and sizing for ``cycle_id`` under ``settings``; the real database is only read."""
    cycle = store.cycles.get(cycle_id)
    if cycle is None:
        raise ReplayError(f"no cycle {cycle_id!r} in this database (see `smt status` or the console)")
    recorded = store.history.proposals_of_cycle(cycle_id)
    inputs = cycle.steps.get("proposals", {}).get("risk_inputs")
    if inputs is not None:
        try:
            account, at = account_from_record(inputs, settings)
        except RiskInputsError as exc:
            raise ReplayError(f"cycle {cycle_id}: {exc}") from exc
        contracts, prices, how = dict(account.contracts), dict(account.prices), RECORDED
    else:
        account, at = reconstructed_account(store, settings, cycle, recorded), cycle.started_at
        contracts, prices, how = dict(account.contracts), dict(account.prices), RECONSTRUCTED
    candidates = []
    analyses = store.analyses.for_cycle(cycle_id)
    for a in analyses:
        decision = decision_of(a)
        pair = settings.pairs.by_base(a.pair)
        if decision is None or pair is None or decision.action is Action.WAIT:
            continue
        candidates.append(
            Candidate(pair, decision, contracts.get(pair.symbol), prices.get(pair.symbol), a.id)
        )
    by_analysis = {p.analysis_id: p for p in recorded if p.analysis_id is not None}
    with tempfile.TemporaryDirectory(prefix="smt-replay-") as tmp:
        scratch = _open_scratch(Path(tmp) / "replay.db")
        try:
            scratch.cycles.insert(Cycle(id=cycle_id, started_at=cycle.started_at, trigger="replay"))
            for a in analyses:  # proposals point at their analysis
                scratch.analyses.insert(a)
            book = ProposalBook(scratch, SimulatedClock(at), settings)
            # The calibration and edge records the cycle used (none for cycles recorded before them).
            evidence = Evidence.from_record(inputs.get("evidence") if inputs is not None else None)
            outcome = book.run_cycle(candidates, account, cycle_id=cycle_id, evidence=evidence)
        finally:
            scratch.close()
    result = ReplayResult(cycle_id, at, inputs=how, skipped=outcome.skipped)
    for p in outcome.proposals:
        before: Proposal | None = by_analysis.get(p.analysis_id) if p.analysis_id is not None else None
        result.rows.append(
            ReplayRow(
                pair=p.pair,
                side=p.side.value,
                confidence=p.confidence,
                analysis_id=p.analysis_id,
                recorded_state=before.state.value if before is not None else "none",
                recorded_codes=list(before.reason_codes) if before is not None else [],
                replay_state=p.state.value,
                replay_codes=list(p.reason_codes),
                recorded_margin=before.margin if before is not None else None,
                replay_margin=p.margin,
                replay_leverage=p.leverage,
            )
        )
    return result


class _NotAbout(logging.Filter):
    """Drops the store's records that name one file (the replay's scratch database, never the real one)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = str(path)

    def filter(self, record: logging.LogRecord) -> bool:
        return self.path not in record.getMessage()


def _open_scratch(path: Path) -> Store:
    """The throw-away database the proposal book writes into, created without logging its migrations.

    `smt replay` only reads the real database; "applied migration" lines about a temporary file would
    read as if it had been changed.
    """
    store_log = logging.getLogger("smt_engine.store.db")
    quiet = _NotAbout(path)
    store_log.addFilter(quiet)
    try:
        return Store.open(path)
    finally:
        store_log.removeFilter(quiet)


def render_replay(result: ReplayResult) -> str:
    lines = [
        f"Replay of cycle {result.cycle_id} ({result.at.isoformat(timespec='seconds')}): no exchange touched"
    ]
    if result.inputs == RECONSTRUCTED:
        lines.append(
            "Inputs reconstructed: this cycle predates recorded risk inputs, so its account, positions and "
            "stop-losses are rebuilt as of its start (approximate)."
        )
    if result.skipped:
        lines.append(f"Skipped: {result.skipped}")
    if not result.rows:
        lines.append("No trade decisions in this cycle.")
        return "\n".join(lines)
    recorded = [
        r.recorded_state + (f" ({', '.join(r.recorded_codes)})" if r.recorded_codes else "")
        for r in result.rows
    ]
    width = max(len("recorded"), *map(len, recorded)) + 2
    lines.append(f"  {'pair':<6}{'side':<7}{'conf':>6}  {'recorded':<{width}}with these settings")
    for r, rec in zip(result.rows, recorded, strict=True):
        new = f"{r.replay_state} ({', '.join(r.replay_codes)})" if r.replay_codes else r.replay_state
        new += f" margin {r.replay_margin}"
        lines.append(
            f"{'* ' if r.differs else '  '}{r.pair:<6}{r.side:<7}{r.confidence:>6.2f}  {rec:<{width}}{new}"
        )
    changed = sum(1 for r in result.rows if r.differs)
    lines.append(f"{changed} of {len(result.rows)} proposal(s) would differ (marked *).")
    return "\n".join(lines)
