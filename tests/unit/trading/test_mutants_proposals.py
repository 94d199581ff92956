"""The proposal book's gates, halts and approval re-check, and the account the gates count exposure on."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Action, EngineState, EventLevel, Pair, ProposalState, Side, Tier
from smt_engine.store import Store
from smt_engine.trading.account import OpenExposure
from smt_engine.trading.evidence import Evidence
from smt_engine.trading.proposals import Candidate, IllegalTransition, ProposalBook, ProposalError
from smt_engine.trading.risk import DecisionEvidence, ReasonCode
from tests.evidence_support import losing, record_scores
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, account, decision, make_settings
from tests.unit.trading.test_edge_gate import _analysed
from tests.unit.trading.test_proposals import BTC, ETH, SOL, book, cand, events_for


def test_an_account_with_one_more_exposure_keeps_every_other_input() -> None:
    """Exposure is added across a cycle: the next pick is gated on the same account plus that entry."""
    settings = make_settings()
    held = OpenExposure("BTCUSDT", Side.SHORT, Decimal(50))
    acct = account(
        settings,
        available=Decimal(900),
        equity=Decimal(950),
        peak=Decimal(1200),
        opening=Decimal(1000),
        open_positions=(held,),
        last_stop_loss={"SOLUSDT": NOW},
        engine_state=EngineState.PAUSED,
    )
    extra = OpenExposure("ETHUSDT", Side.LONG, Decimal(150))
    more = acct.with_exposure(extra)
    assert more == replace(acct, open_positions=(held, extra))
    assert more.open_margin == Decimal(200)
    assert acct.open_margin == Decimal(50)
    assert account(settings).open_margin == Decimal(0)


def test_a_denial_reason_names_every_failed_gate_with_its_detail(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    acct = account(b.settings, engine_state=EngineState.HALTED)
    p = b.create(ETH, decision(confidence=0.5), acct, CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    failed = [g for g in p.gates if not g["passed"]]
    step = events_for(store, p.id)[-1]
    assert step["reason"] == "; ".join(f"{g['gate']}: {g['detail']}" for g in failed)
    assert str(step["reason"]).startswith("engine_state: ")
    assert "; min_confidence: " in str(step["reason"])
    assert (p.decided_by, p.decided_at) == ("risk", NOW)


def test_a_proposal_is_recorded_with_its_inputs_and_an_event_saying_its_size(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    long_reasoning = "x" * 5000
    p = b.create(
        ETH,
        decision(reasoning=long_reasoning, hold_hours=2.0),
        account(b.settings),
        CONTRACTS["ETHUSDT"],
        Decimal(2000),
        cycle_id="c1",
        source="operator",
    )
    assert p.id is not None
    assert (p.pair, p.symbol, p.side, p.confidence, p.state, p.created_at, p.cycle_id, p.source) == (
        "ETH", "ETHUSDT", Side.LONG, 0.8, ProposalState.PROPOSED, NOW, "c1", "operator",
    )  # fmt: skip
    assert (p.entry_ref, p.tp_pct, p.sl_pct) == (Decimal(2000), Decimal(5), Decimal(2))
    assert (p.tp_price, p.sl_price) == (Decimal(2100), Decimal(1960))
    assert p.rationale == "x" * 4000
    [ev] = store.events.of_kind("proposal.proposed")
    assert (ev.level, ev.cycle_id, ev.proposal_id) == (EventLevel.INFO, "c1", p.id)
    assert ev.message == (
        f"proposal #{p.id} ETH LONG conf 0.8000: margin 150 USDT, notional 3000 USDT at 20x, size 1.5"
    )
    assert ev.data == {
        "actor": "operator",
        "max_hold_s": 7200.0,
        "stated_confidence": "0.8000",
        "sizing_confidence": "0.8000",
    }


def test_an_unreadable_balance_skips_the_cycle_with_a_warning(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock, approval="auto")
    out = b.run_cycle([cand(ETH, 0.9)], account(b.settings, available=None), cycle_id="c2")
    assert out.skipped == "available balance could not be read: no proposals this cycle"
    [ev] = store.events.of_kind("proposal.skipped")
    assert (ev.level, ev.cycle_id, ev.message) == (EventLevel.WARNING, "c2", out.skipped)


def halts(b: ProposalBook) -> list[tuple[str, ReasonCode]]:
    calls: list[tuple[str, ReasonCode]] = []
    b.on_halt = lambda reason, code: calls.append((reason, code))
    return calls


def test_a_loss_limit_found_when_creating_halts_with_its_code(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    calls = halts(b)
    acct = account(b.settings, opening=Decimal(1000), equity=Decimal(800))
    p = b.create(ETH, decision(), acct, CONTRACTS["ETHUSDT"], Decimal(2000), cycle_id="c3")
    assert p.state is ProposalState.DENIED
    [(reason, code)] = calls
    assert code is ReasonCode.DAILY_LOSS
    assert "daily_loss_limit" in reason
    [ev] = store.events.of_kind("risk.halt")
    assert (ev.level, ev.cycle_id) == (EventLevel.CRITICAL, "c3")
    assert ev.message == f"loss limit hit at a risk gate: {reason}"
    assert ev.data == {"reason_code": "daily_loss_limit"}


def test_a_loss_limit_in_a_cycle_halts_once_with_the_first_reason(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock, approval="auto")
    calls = halts(b)
    acct = account(b.settings, opening=Decimal(1000), equity=Decimal(800))
    out = b.run_cycle([cand(ETH, 0.9), cand(BTC, 0.8)], acct, cycle_id="c4")
    assert [p.state for p in out.proposals] == [ProposalState.DENIED, ProposalState.DENIED]
    [(reason, _)] = calls
    assert out.halt_reason == reason
    [ev] = store.events.of_kind("risk.halt")
    assert ev.cycle_id == "c4"


def test_a_loss_limit_found_at_approval_halts_and_refuses(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000), cycle_id="c5")
    assert p.id is not None
    calls = halts(b)
    later = account(b.settings, opening=Decimal(1000), equity=Decimal(800))
    out = b.approve(p.id, "alice", Decimal(2000), later)
    assert out.state is ProposalState.DENIED
    assert "daily_loss_limit" in out.reason_codes
    assert [c for _, c in calls] == [ReasonCode.DAILY_LOSS]
    [ev] = store.events.of_kind("risk.halt")
    assert ev.cycle_id == "c5"


async def test_an_approval_at_the_expiry_instant_expires_with_its_reason(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    await clock.advance(15 * 60)
    out = b.approve(p.id, "alice", Decimal(2000), account(b.settings, now=clock.now()))
    assert out.state is ProposalState.EXPIRED
    assert (out.reason_codes, out.decided_by) == (["expired"], "system")
    assert events_for(store, p.id)[-1]["reason"] == "expired at 12:15:00 UTC before alice approved it"


@pytest.mark.parametrize("live", [None, Decimal(0), Decimal(-1)])
def test_an_approval_without_a_live_price_is_refused_with_no_price(
    store: Store, clock: SimulatedClock, live: Decimal | None
) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    out = b.approve(p.id, "alice", live, account(b.settings))
    assert out.state is ProposalState.DENIED
    assert (out.reason_codes, out.decided_by, out.decided_at) == (["no_price"], "alice", NOW)
    assert out.gates == [
        {"gate": "no_price", "passed": False, "detail": "no live price at approval", "halt": False}
    ]
    step = events_for(store, p.id)[-1]
    assert step["reason"] == "refused at approval: no_price: no live price at approval"
    assert step["actor"] == "alice"


def test_a_drift_refusal_says_the_prices_and_the_limit(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    out = b.approve(p.id, "alice", Decimal(2011), account(b.settings))
    assert out.reason_codes == ["price_drift"]
    assert out.decided_by == "alice"
    assert len(out.gates) == 1
    assert events_for(store, p.id)[-1]["reason"] == (
        "refused at approval: price_drift: price 2011 vs proposed 2000: 0.550% (limit 0.5%)"
    )


def test_drift_exactly_at_the_limit_is_approved_with_every_gate_kept(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    out = b.approve(p.id, "alice", Decimal(2010), account(b.settings))
    assert out.state is ProposalState.APPROVED
    assert (out.decided_by, out.decided_at) == ("alice", NOW)
    assert (out.leverage, out.tp_pct, out.sl_pct) == (20, Decimal(5), Decimal(2))
    assert [g["gate"] for g in out.gates] == ["price_drift"] + [g["gate"] for g in p.gates]
    assert all(g["passed"] for g in out.gates)
    assert events_for(store, p.id)[-1]["reason"] == "re-checked at 2010 (drift 0.500%)"


def test_a_rejection_without_words_says_the_operator_rejected_it(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    out = b.reject(p.id, "alice")
    assert (out.state, out.decided_by, out.decided_at) == (ProposalState.REJECTED, "alice", NOW)
    assert events_for(store, p.id)[-1]["reason"] == "rejected by operator"
    with pytest.raises(ProposalError, match=r"^no proposal #999$"):
        b.reject(999, "alice")


async def test_expiry_uses_the_clock_and_says_the_ttl(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    await clock.advance(15 * 60)
    [out] = b.expire_due()
    assert (out.state, out.decided_by, out.reason_codes) == (ProposalState.EXPIRED, "system", ["expired"])
    assert out.decided_at == NOW + timedelta(minutes=15)
    assert events_for(store, p.id)[-1]["reason"] == "not approved within 0:15:00"


def test_equal_confidence_goes_to_the_pair_listed_first(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock, approval="auto")
    out = b.run_cycle([cand(SOL, 0.8), cand(BTC, 0.8), cand(ETH, 0.8)], account(b.settings))
    assert [p.pair for p in out.approved] == ["ETH"]
    assert [p.pair for p in out.proposals] == ["ETH", "BTC", "SOL"]


def test_a_decision_that_is_not_a_trade_makes_no_proposal(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    with pytest.raises(ProposalError, match=r"^ETH: \S+ is not a trade$"):
        b.create(ETH, decision(action=Action.WAIT), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert store.proposals.count() == 0


def test_an_entry_before_the_competition_needs_force_at_create_and_at_approval(
    store: Store, clock: SimulatedClock
) -> None:
    settings = make_settings(engine={"approval": "manual"}, competition={"start": "2026-02-01"})
    b = ProposalBook(store, clock, settings)
    acct = account(settings)
    refused = b.create(ETH, decision(), acct, CONTRACTS["ETHUSDT"], Decimal(2000))
    assert refused.state is ProposalState.DENIED
    assert (refused.source, events_for(store, refused.id or 0)[-1]["actor"]) == ("analyst", "risk")
    forced = b.create(ETH, decision(), acct, CONTRACTS["ETHUSDT"], Decimal(2000), force=True)
    assert forced.state is ProposalState.PROPOSED
    assert forced.id is not None
    assert b.approve(forced.id, "alice", Decimal(2000), acct).state is ProposalState.DENIED
    again = b.create(ETH, decision(), acct, CONTRACTS["ETHUSDT"], Decimal(2000), force=True)
    assert again.id is not None
    assert b.approve(again.id, "alice", Decimal(2000), acct, force=True).state is ProposalState.APPROVED


def test_approval_takes_the_contract_given_else_the_accounts_else_the_stored_one(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    bare = replace(account(b.settings), contracts={})
    ids = []
    for _ in range(3):
        p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
        assert p.id is not None
        ids.append(p.id)
    assert b.approve(ids[0], "alice", Decimal(2000), bare).state is ProposalState.DENIED
    given = b.approve(ids[1], "alice", Decimal(2000), bare, contract=CONTRACTS["ETHUSDT"])
    assert (given.state, given.size) == (ProposalState.APPROVED, Decimal("1.5"))
    store.contracts.save(CONTRACTS["ETHUSDT"], NOW)
    stored = b.approve(ids[2], "alice", Decimal(2000), bare)
    assert (stored.state, stored.size) == (ProposalState.APPROVED, Decimal("1.5"))


def test_a_pair_no_longer_configured_is_still_re_checked_at_approval(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    p = b.create(
        Pair("DOGE", Tier.TWO), decision(), account(b.settings), CONTRACTS["DOGEUSDT"], Decimal("0.1")
    )
    assert (p.state, p.id is not None) == (ProposalState.PROPOSED, True)
    narrowed = ProposalBook(
        store, clock, make_settings(engine={"approval": "manual"}, pairs={"tier2": ["SOL"]})
    )
    cooling = account(narrowed.settings, last_stop_loss={"DOGEUSDT": NOW})
    refused = narrowed.approve(p.id or 0, "alice", Decimal("0.1"), cooling)
    assert refused.reason_codes == ["stop_loss_cooldown"]  # its symbol's cooldown still counts


def test_a_pair_no_longer_configured_is_approved_when_its_gates_pass(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    p = b.create(
        Pair("DOGE", Tier.TWO), decision(), account(b.settings), CONTRACTS["DOGEUSDT"], Decimal("0.1")
    )
    narrowed = ProposalBook(
        store, clock, make_settings(engine={"approval": "manual"}, pairs={"tier2": ["SOL"]})
    )
    out = narrowed.approve(p.id or 0, "alice", Decimal("0.1"), account(narrowed.settings))
    assert (out.state, out.pair, out.size) == (ProposalState.APPROVED, "DOGE", Decimal(14000))


def test_approving_a_decided_proposal_names_it_and_its_state(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    b.reject(p.id, "alice")
    with pytest.raises(IllegalTransition, match=rf"^proposal #{p.id}: rejected -> approved is not allowed$"):
        b.approve(p.id, "bob", Decimal(2000), account(b.settings))


async def test_one_proposal_decided_meanwhile_does_not_stop_the_others_expiring(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    first = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    second = b.create(BTC, decision(), account(b.settings), CONTRACTS["BTCUSDT"], Decimal(100000))
    assert first.id is not None
    assert second.id is not None
    await clock.advance(15 * 60)
    due = store.proposals.due_to_expire(clock.now())
    b.reject(first.id, "alice")  # decided between the read and the expiry
    store.proposals.due_to_expire = lambda now: due  # type: ignore[method-assign]
    assert [p.id for p in b.expire_due()] == [second.id]


def test_a_pair_that_cannot_be_assessed_waits_and_the_next_is_still_proposed(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    assess = b.risk.assess

    def failing_for_eth(pair: Pair, *args: Any, **kw: Any) -> Any:
        if pair.base == "ETH":
            raise ZeroDivisionError("boom")
        return assess(pair, *args, **kw)

    b.risk.assess = failing_for_eth  # type: ignore[method-assign]
    out = b.run_cycle([cand(ETH, 0.9), cand(BTC, 0.8)], account(b.settings), cycle_id="c6")
    assert [(p.pair, p.state) for p in out.proposals] == [("BTC", ProposalState.PROPOSED)]
    [ev] = store.events.of_kind("proposal.skipped")
    assert (ev.level, ev.cycle_id) == (EventLevel.WARNING, "c6")
    assert ev.message == "ETHUSDT: could not be assessed (ZeroDivisionError: boom); it waits"


def test_a_pair_not_configured_goes_after_the_configured_ones_at_equal_confidence(
    store: Store, clock: SimulatedClock
) -> None:
    settings = make_settings(trading={"max_entries_per_cycle": 1}, pairs={"tier2": ["SOL"]})
    b = ProposalBook(store, clock, settings)
    doge = Candidate(Pair("DOGE", Tier.TWO), decision(confidence=0.8), CONTRACTS["DOGEUSDT"], Decimal("0.1"))
    out = b.run_cycle([doge, cand(SOL, 0.8)], account(settings))
    assert [p.pair for p in out.approved] == ["SOL"]
    assert [p.pair for p in out.proposals] == ["SOL", "DOGE"]


def test_the_cycle_gathers_the_record_at_its_own_instant_unless_given_one(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    seen: list[datetime] = []

    def gather(now: datetime) -> Evidence:
        seen.append(now)
        return Evidence.gather(store, b.settings, now)

    b.gather = gather
    b.run_cycle([cand(ETH, 0.9)], account(b.settings))
    assert seen == [NOW]
    given = Evidence.gather(store, b.settings, NOW)
    b.run_cycle([cand(BTC, 0.9)], account(b.settings), evidence=given)
    assert seen == [NOW]


def test_higher_confidence_beats_the_pair_order(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock, approval="auto")
    out = b.run_cycle([cand(ETH, 0.8), cand(SOL, 0.9)], account(b.settings))
    assert [p.pair for p in out.approved] == ["SOL"]


def test_an_override_names_its_proposal_and_cycle_and_approval_re_judges_its_source_now(
    store: Store, clock: SimulatedClock
) -> None:
    record_scores(store, "heuristic", "ETH", losing())
    settings = make_settings(
        engine={"approval": "manual", "mode": "live"}, risk={"edge_overrides": ["heuristic:ETH"]}
    )
    b = ProposalBook(store, clock, settings)
    (waiting,) = b.run_cycle([_analysed(store, clock, ETH)], account(settings), cycle_id="c8").waiting
    assert waiting.id is not None
    seen: list[datetime] = []

    def gather(now: datetime) -> Evidence:
        seen.append(now)
        return Evidence.gather(store, settings, now)

    b.gather = gather
    approved = b.approve(waiting.id, "op", PRICES["ETHUSDT"], account(settings))
    assert approved.state is ProposalState.APPROVED
    assert seen == [NOW]
    events = store.events.of_kind("risk.edge_override")
    assert [(e.cycle_id, e.proposal_id) for e in events] == [("c8", waiting.id)] * 2


def test_the_cycle_entry_limit_counts_every_pick(store: Store, clock: SimulatedClock) -> None:
    settings = make_settings(trading={"max_entries_per_cycle": 3}, risk={"max_open_positions": 10})
    b = ProposalBook(store, clock, settings)
    doge = Candidate(Pair("DOGE", Tier.TWO), decision(confidence=0.6), CONTRACTS["DOGEUSDT"], Decimal("0.1"))
    out = b.run_cycle(
        [cand(ETH, 0.9), cand(BTC, 0.8), cand(SOL, 0.7), doge], account(settings), cycle_id="c9"
    )
    assert [p.pair for p in out.approved] == ["ETH", "BTC", "SOL"]
    last = out.proposals[-1]
    assert (last.pair, last.reason_codes) == ("DOGE", ["max_entries_per_cycle"])
    assert (
        events_for(store, last.id or 0)[-1]["reason"] == "only the best 3 proposal(s) per cycle are acted on"
    )
    first = out.approved[0]
    assert events_for(store, first.id or 0)[-1]["reason"] == "passed every gate (approval = auto)"
    assert {(p.cycle_id, p.source) for p in out.proposals} == {("c9", "analyst")}


def test_a_pick_counts_as_exposure_on_its_symbol_and_side_for_the_next(
    store: Store, clock: SimulatedClock
) -> None:
    settings = make_settings(trading={"max_entries_per_cycle": 3})
    b = ProposalBook(store, clock, settings)
    out = b.run_cycle([cand(ETH, 0.9), cand(ETH, 0.8), cand(ETH, 0.7, Action.SHORT)], account(settings))
    assert [(p.side, p.state) for p in out.proposals] == [
        (Side.LONG, ProposalState.APPROVED),
        (Side.LONG, ProposalState.DENIED),
        (Side.SHORT, ProposalState.APPROVED),
    ]
    dup = out.proposals[1]
    failed = [f"{g['gate']}: {g['detail']}" for g in dup.gates if not g["passed"]]
    assert failed == ["duplicate_position: ETHUSDT LONG already open"]
    assert events_for(store, dup.id or 0)[-1]["reason"] == failed[0]


def test_a_refusal_at_approval_names_every_failed_gate_and_the_approver(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    later = account(b.settings, engine_state=EngineState.PAUSED, last_stop_loss={"ETHUSDT": NOW})
    out = b.approve(p.id, "alice", Decimal(2000), later)
    assert (out.reason_codes, out.decided_by) == (["engine_state", "stop_loss_cooldown"], "alice")
    failed = [f"{g['gate']}: {g['detail']}" for g in out.gates if not g["passed"]]
    assert events_for(store, p.id)[-1]["reason"] == "refused at approval: " + "; ".join(failed)


def test_create_gates_at_the_clocks_instant_and_keeps_its_analysis(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    analysis_id = _analysed(store, clock, ETH).analysis_id
    cooling = account(b.settings, last_stop_loss={"ETHUSDT": NOW})
    p = b.create(ETH, decision(), cooling, CONTRACTS["ETHUSDT"], Decimal(2000), analysis_id=analysis_id)
    assert (p.analysis_id, p.reason_codes) == (analysis_id, ["stop_loss_cooldown"])


def test_a_calibrated_confidence_given_to_create_sizes_the_proposal_and_is_said(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    plain_p = b.create(
        ETH, decision(confidence=0.9), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000)
    )
    calibrated = DecisionEvidence(calibrated=Decimal("0.7"))
    p = b.create(
        ETH,
        decision(confidence=0.9),
        account(b.settings),
        CONTRACTS["ETHUSDT"],
        Decimal(2000),
        evidence=calibrated,
    )
    assert p.margin < plain_p.margin
    [ev] = [e for e in store.events.of_kind("proposal.proposed") if e.proposal_id == p.id]
    assert "(sized on calibrated 0.7" in ev.message


def test_approval_records_the_leverage_the_contract_allows_now(store: Store, clock: SimulatedClock) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    capped = replace(CONTRACTS["ETHUSDT"], max_leverage=10)
    out = b.approve(p.id, "alice", Decimal(2000), account(b.settings), contract=capped)
    assert (p.leverage, out.state, out.leverage) == (20, ProposalState.APPROVED, 10)


def test_approval_in_the_final_days_records_the_shortened_tp_and_sl(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock)
    p = b.create(ETH, decision(tp="9", sl="6"), account(b.settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert p.id is not None
    final = make_settings(
        engine={"approval": "manual"}, competition={"start": "2026-01-01", "end": "2026-01-21"}
    )
    late = ProposalBook(store, clock, final)
    out = late.approve(p.id, "alice", Decimal(2000), account(final))
    assert out.state is ProposalState.APPROVED
    assert (p.tp_pct, p.sl_pct) == (Decimal(9), Decimal(6))
    assert (out.tp_pct, out.sl_pct) == (Decimal(2), Decimal("1.5"))  # the final days' defaults
