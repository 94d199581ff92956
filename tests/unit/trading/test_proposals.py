"""Proposal state machine, manual approval, expiry, drift refusal, re-derivation and best-N selection."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import (
    Action,
    CloseReason,
    EngineState,
    EventLevel,
    Pair,
    PositionState,
    ProposalState,
    Side,
    Tier,
)
from smt_engine.exchange.base import Balance, ExchangePosition
from smt_engine.store import Store
from smt_engine.store.records import AccountSnapshot, Proposal
from smt_engine.trading.account_reader import snapshot_account
from smt_engine.trading.loss_limits import LossMeasure, daily_loss
from smt_engine.trading.proposals import (
    Candidate,
    IllegalTransition,
    ProposalBook,
    ProposalError,
    transition,
)
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, account, decision, eth_position, make_settings

ETH = Pair("ETH", Tier.ONE)
BTC = Pair("BTC", Tier.ONE)
SOL = Pair("SOL", Tier.TWO)


def book(store: Store, clock: SimulatedClock, approval: str = "manual", **risk: object) -> ProposalBook:
    settings = make_settings(engine={"approval": approval}, risk=dict(risk))
    return ProposalBook(store, clock, settings)


def cand(pair: Pair, confidence: float, action: Action = Action.LONG) -> Candidate:
    return Candidate(
        pair, decision(action=action, confidence=confidence), CONTRACTS[pair.symbol], PRICES[pair.symbol]
    )


def events_for(store: Store, pid: int) -> list[dict[str, object]]:
    return [
        e.data for e in reversed(store.events.recent(limit=500)) if e.proposal_id == pid and "to" in e.data
    ]


def test_create_passing_proposal_waits_and_records_both_units(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(confidence=0.8), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.state is ProposalState.PROPOSED
    assert (p.margin, p.notional, p.leverage, p.size) == (Decimal(150), Decimal(3000), 20, Decimal("1.5"))
    assert p.expires_at == NOW + timedelta(minutes=15)
    assert len(p.gates) > 10
    assert all(g["passed"] for g in p.gates)


def test_denied_proposal_keeps_codes_and_full_gate_results(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    acct = account(b.settings, engine_state=EngineState.HALTED)
    p = b.create(ETH, decision(confidence=0.5), acct, CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.state is ProposalState.DENIED
    assert p.reason_codes == ["engine_state", "min_confidence"]
    stored = store.proposals.get(p.id)
    assert stored is not None
    assert stored.gates == p.gates
    failed = {g["gate"] for g in stored.gates if not g["passed"]}
    assert failed == {"engine_state", "min_confidence"}
    assert events_for(store, p.id)[-1] == {
        "from": "proposed",
        "to": "denied",
        "actor": "risk",
        "reason": events_for(store, p.id)[-1]["reason"],
        "codes": ["engine_state", "min_confidence"],
    }


def test_illegal_transitions_raise_and_legal_ones_are_audited(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    with pytest.raises(IllegalTransition):
        transition(store, p.id, ProposalState.OPEN, actor="x", reason="skip ahead", at=NOW)
    rejected = b.reject(p.id, "alice", "not convinced")
    assert rejected.state is ProposalState.REJECTED
    assert rejected.decided_by == "alice"
    with pytest.raises(IllegalTransition):
        b.approve(p.id, "bob", Decimal(2000), account(b.settings))
    with pytest.raises(IllegalTransition):
        transition(store, p.id, ProposalState.APPROVED, actor="bob", reason="", at=NOW)
    trail = events_for(store, p.id)
    assert [(e["from"], e["to"], e["actor"]) for e in trail] == [("proposed", "rejected", "alice")]
    assert trail[0]["reason"] == "not convinced"


PATHS_TO_AN_END = {
    ProposalState.REJECTED: [ProposalState.REJECTED],
    ProposalState.EXPIRED: [ProposalState.EXPIRED],
    ProposalState.DENIED: [ProposalState.DENIED],
    ProposalState.FAILED: [ProposalState.APPROVED, ProposalState.FAILED],
    ProposalState.CLOSED: [
        ProposalState.APPROVED,
        ProposalState.SUBMITTING,
        ProposalState.OPEN,
        ProposalState.CLOSED,
    ],
}


@pytest.mark.parametrize("end", list(PATHS_TO_AN_END), ids=str)
def test_a_proposal_at_an_end_state_moves_nowhere(
    store: Store, clock: SimulatedClock, end: ProposalState
) -> None:
    """A failed, denied, expired, rejected or closed proposal can never be approved, sent or opened again."""
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    for step in PATHS_TO_AN_END[end]:
        transition(store, p.id, step, actor="x", reason="legal path", at=NOW)
    for target in ProposalState:
        with pytest.raises(IllegalTransition):
            transition(store, p.id, target, actor="x", reason="from an end", at=NOW)
    stored = store.proposals.get(p.id)
    assert stored is not None
    assert stored.state is end


def test_manual_proposals_expire(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    out = b.run_cycle([cand(ETH, 0.8)], account(b.settings), cycle_id="c1")
    assert not out.approved
    assert [p.state for p in out.waiting] == [ProposalState.PROPOSED]
    assert b.expire_due(NOW + timedelta(minutes=14)) == []
    expired = b.expire_due(NOW + timedelta(minutes=15))
    assert [p.state for p in expired] == [ProposalState.EXPIRED]
    assert expired[0].reason_codes == ["expired"]


async def test_approval_after_ttl_expires_instead(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    await clock.advance(16 * 60)
    assert p.id is not None
    out = b.approve(p.id, "alice", Decimal(2000), account(b.settings, now=clock.now()))
    assert out.state is ProposalState.EXPIRED


def test_approval_refused_on_drift(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    out = b.approve(p.id, "alice", Decimal(2011), account(b.settings))  # 0.55 % > 0.5 %
    assert out.state is ProposalState.DENIED
    assert out.reason_codes == ["price_drift"]
    assert out.size == p.size  # nothing re-derived for a refused approval


def test_approval_rederives_size_and_tp_sl_from_the_fresh_price(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(tp="5", sl="2"), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    out = b.approve(p.id, "alice", Decimal(2008), account(b.settings, available=Decimal(900)))
    assert out.state is ProposalState.APPROVED
    assert out.decided_by == "alice"
    assert out.entry_ref == Decimal(2008)
    assert out.tp_price == Decimal("2108.40")
    assert out.sl_price == Decimal("1967.84")
    # 15 % of the *current* available balance (900), at the fresh price, floored to the step.
    assert out.margin == Decimal("134.536")
    assert out.notional == Decimal("2690.72")
    assert out.size == Decimal("1.34")
    assert out.gates[0]["gate"] == "price_drift"
    assert out.gates[0]["passed"]


def test_approval_reruns_every_gate(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    later = account(
        b.settings,
        engine_state=EngineState.PAUSED,
        last_stop_loss={"ETHUSDT": NOW},
    )
    out = b.approve(p.id, "alice", Decimal(2000), later)
    assert out.state is ProposalState.DENIED
    assert out.reason_codes == ["engine_state", "stop_loss_cooldown"]


def test_auto_mode_acts_on_the_best_n_only(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock, approval="auto")
    cands = [cand(SOL, 0.70), cand(ETH, 0.90), cand(BTC, 0.80), cand(SOL, 0.95, Action.WAIT)]
    out = b.run_cycle(cands, account(b.settings), cycle_id="c1")
    assert [p.pair for p in out.approved] == ["ETH"]
    assert out.approved[0].state is ProposalState.APPROVED
    assert out.approved[0].decided_by == "auto"
    by_pair = {p.pair: p for p in out.proposals}
    assert set(by_pair) == {"ETH", "BTC", "SOL"}  # WAIT makes no proposal
    for pair in ("BTC", "SOL"):
        assert by_pair[pair].state is ProposalState.DENIED
        assert by_pair[pair].reason_codes == ["max_entries_per_cycle"]


def test_best_n_recounts_free_slots_after_each_pick(store: Store, clock: SimulatedClock) -> None:
    settings = make_settings(
        engine={"approval": "auto"}, trading={"max_entries_per_cycle": 3}, risk={"max_open_positions": 2}
    )
    b = ProposalBook(store, clock, settings)
    acct = account(settings)
    out = b.run_cycle([cand(ETH, 0.9), cand(BTC, 0.8), cand(SOL, 0.7)], acct)
    assert [p.pair for p in out.approved] == ["ETH", "BTC"]
    sol = next(p for p in out.proposals if p.pair == "SOL")
    assert sol.reason_codes == ["max_open_positions"]


def test_unknown_balance_makes_no_proposals(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock, approval="auto")
    out = b.run_cycle([cand(ETH, 0.9)], account(b.settings, available=None))
    assert out.proposals == []
    assert out.skipped
    assert store.proposals.count() == 0


def test_loss_limit_marks_the_cycle_as_halting(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock, approval="auto")
    acct = account(b.settings, opening=Decimal(1000), equity=Decimal(800))
    out = b.run_cycle([cand(ETH, 0.9)], acct)
    assert out.halt_reason is not None
    assert "daily_loss_limit" in out.halt_reason
    assert out.approved == []
    assert store.events.of_kind("risk.halt")


def snap(at: datetime, equity: Decimal) -> AccountSnapshot:
    return AccountSnapshot(at=at, balance=equity, equity=equity, available=equity)


def test_snapshot_account_reads_store_and_exchange(store: Store, clock: SimulatedClock) -> None:
    settings = make_settings()
    sl_time = NOW - timedelta(hours=1)
    store.positions.insert(
        eth_position(
            symbol="SOLUSDT",
            size=Decimal(1),
            entry_price=Decimal(150),
            opened_at=NOW - timedelta(hours=3),
            state=PositionState.CLOSED,
            updated_at=sl_time,
            close_reason=CloseReason.STOP_LOSS,
            closed_at=sl_time,
            realized_pnl=Decimal(-30),
        )
    )
    # The last snapshot before midnight is the day's opening equity; later ones are not.
    store.account.insert(snap(NOW.replace(hour=0) - timedelta(minutes=5), Decimal(1000)))
    store.account.insert(snap(NOW.replace(hour=6), Decimal(990)))
    balance = Balance("USDT", Decimal(970), Decimal(900), Decimal(70), Decimal(-10))
    pos = ExchangePosition(
        "BTCUSDT", Side.SHORT, Decimal("0.01"), Decimal(100000), Decimal(50), Decimal(20),
        Decimal(-10), None, NOW, NOW, "p1",
    )  # fmt: skip
    acct = snapshot_account(store, settings, NOW, balance, [pos], EngineState.RUNNING)
    assert acct.available == Decimal(900)
    assert acct.equity == Decimal(960)
    assert acct.opening_equity == Decimal(1000)
    assert daily_loss(acct) == LossMeasure(Decimal(40), Decimal(1000), Decimal(4))
    assert acct.last_stop_loss == {"SOLUSDT": sl_time}
    assert [(e.symbol, e.side, e.margin) for e in acct.open_positions] == [
        ("BTCUSDT", Side.SHORT, Decimal(50))
    ]
    assert snapshot_account(store, settings, NOW, None, [], EngineState.RUNNING).available is None


@pytest.mark.parametrize("approval", ["manual", "auto"])
def test_no_reader_ever_sees_a_denied_or_auto_approved_proposal_waiting(
    store: Store, clock: SimulatedClock, approval: str
) -> None:
    """Recorded and decided in one commit: a console polling in between would ring for nothing."""
    settings = make_settings(engine={"approval": approval}, trading={"max_entries_per_cycle": 1})
    b = ProposalBook(store, clock, settings)
    seen: list[int] = []
    original = b._deny

    def deny_and_look(proposal: Proposal, *args: Any, **kw: Any) -> Proposal:
        reader = Store.open(store.path, readonly=True)
        try:  # another connection sees only what was committed
            seen.append(reader.proposals.count(f"state = 'proposed' AND id = {proposal.id}"))
        finally:
            reader.close()
        return original(proposal, *args, **kw)

    b._deny = deny_and_look  # type: ignore[method-assign]
    out = b.run_cycle([cand(ETH, 0.9), cand(BTC, 0.8)], account(b.settings))
    assert seen == [0], "the denied proposal was visible as waiting before its denial"
    assert [(p.pair, p.state) for p in out.proposals] == [
        ("ETH", ProposalState.PROPOSED if approval == "manual" else ProposalState.APPROVED),
        ("BTC", ProposalState.DENIED),
    ]


def test_every_step_is_an_event_with_its_level_time_cycle_and_words(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000), cycle_id="c7")
    assert p.id is not None
    later = NOW + timedelta(minutes=3)
    approved = transition(store, p.id, ProposalState.APPROVED, actor="bob", reason="", at=later)
    assert approved.decided_at == later
    assert approved.decided_by == "bob"
    failed = transition(store, p.id, ProposalState.FAILED, actor="engine", reason="venue down", at=later)
    assert failed.decided_at == later  # a decision keeps its own time
    steps = [e for e in reversed(store.events.recent(limit=500)) if e.proposal_id == p.id and "to" in e.data]
    assert [(e.kind, e.level, e.cycle_id) for e in steps[-2:]] == [
        ("proposal.approved", EventLevel.INFO, "c7"),
        ("proposal.failed", EventLevel.WARNING, "c7"),
    ]
    assert steps[-2].message.endswith("proposed -> approved by bob")
    assert steps[-1].message.endswith("approved -> failed by engine: venue down")
    with pytest.raises(ProposalError, match=r"^no proposal #999$"):
        transition(store, 999, ProposalState.APPROVED, actor="bob", reason="", at=NOW)
    with pytest.raises(IllegalTransition, match=rf"^proposal #{p.id}: failed -> open is not allowed$"):
        transition(store, p.id, ProposalState.OPEN, actor="bob", reason="", at=NOW)
