"""The edge gate and calibrated sizing through the proposal book: live is gated, paper never is."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Action, AnalystKind, HealthStatus, Pair, ProposalState, Tier
from smt_engine.scorecard.calibration import fit_map
from smt_engine.store import Store
from smt_engine.store.records import Analysis
from smt_engine.trading.edge_gate import EdgeRecord, edge_gate, forward_records, is_override, proven
from smt_engine.trading.evidence import HEALTH, Evidence, report_edge
from smt_engine.trading.proposals import Candidate, ProposalBook
from tests.evidence_support import losing, record_scores, score_line, winning
from tests.unit.trading.conftest import CONTRACTS, PRICES, account, decision, make_settings

ETH = Pair("ETH", Tier.ONE)
BTC = Pair("BTC", Tier.ONE)


def book(store: Store, clock: SimulatedClock, mode: str = "live", **risk: object) -> ProposalBook:
    settings = make_settings(engine={"approval": "auto", "mode": mode}, risk=dict(risk))
    return ProposalBook(store, clock, settings)


def cand(pair: Pair, confidence: float = 0.8) -> Candidate:
    return Candidate(pair, decision(confidence=confidence), CONTRACTS[pair.symbol], PRICES[pair.symbol])


def test_the_forward_record_is_the_mean_after_fees_with_its_interval(store: Store) -> None:
    record_scores(store, "heuristic", "ETH", [0.3, -0.1, 0.2, 0.4])
    record = forward_records(store.scores.lines_since(None), "4h")("heuristic", "ETH")
    assert record is not None
    assert record.n == 4
    assert record.mean_pct == pytest.approx(0.2)
    # sd = sqrt(((0.1)^2 + (0.3)^2 + 0 + (0.2)^2) / 3) = 0.2160; half = 1.96 * 0.2160 / 2 = 0.2117
    assert record.low_pct == pytest.approx(-0.0117, abs=1e-4)
    assert record.high_pct == pytest.approx(0.4117, abs=1e-4)
    assert forward_records(store.scores.lines_since(None), "4h")("gemini", "ETH") is None


def test_the_verdict_needs_enough_decisions_and_a_lower_bound_above_zero() -> None:
    good = EdgeRecord("heuristic", "ETH", 120, 0.25, 0.17, 0.33)
    assert proven(good, 100)
    assert not proven(good, 121)
    assert not proven(EdgeRecord("heuristic", "ETH", 500, 0.05, -0.01, 0.11), 100)
    denied = edge_gate(EdgeRecord("heuristic", "ETH", 120, -0.15, -0.25, -0.05), 100, overridden=False)
    assert not denied.passed
    assert denied.code.value == "no_proven_edge"
    assert "n=120" in denied.detail
    assert "-0.150%" in denied.detail
    assert "-0.250%" in denied.detail
    forced = edge_gate(EdgeRecord("heuristic", "ETH", 3, -0.15, -0.25, -0.05), 100, overridden=True)
    assert forced.passed
    assert forced.detail.startswith("OVERRIDDEN by risk.edge_overrides (heuristic:ETH)")


def test_live_a_losing_record_is_denied_no_proven_edge(store: Store, clock: SimulatedClock) -> None:
    record_scores(store, "heuristic", "ETH", losing())
    b = book(store, clock)
    out = b.run_cycle([cand(ETH)], account(b.settings))
    (p,) = out.proposals
    assert p.state is ProposalState.DENIED
    assert p.reason_codes == ["no_proven_edge"]
    gate = next(g for g in p.gates if g["gate"] == "no_proven_edge")
    assert "heuristic on ETH: n=120, mean after fees -0.150%" in gate["detail"]
    health = store.health.get(HEALTH)
    assert health is not None
    assert health.status is HealthStatus.WARN
    assert health.detail.startswith("no_proven_edge")
    assert "n=120" in health.detail


def test_live_too_few_decisions_is_no_proven_edge_even_when_winning(
    store: Store, clock: SimulatedClock
) -> None:
    record_scores(store, "heuristic", "ETH", winning(99))
    b = book(store, clock)
    (p,) = b.run_cycle([cand(ETH)], account(b.settings)).proposals
    assert p.state is ProposalState.DENIED
    assert p.reason_codes == ["no_proven_edge"]


def test_live_a_winning_record_is_allowed(store: Store, clock: SimulatedClock) -> None:
    record_scores(store, "heuristic", "ETH", winning())
    b = book(store, clock)
    out = b.run_cycle([cand(ETH)], account(b.settings))
    assert [p.state for p in out.approved] == [ProposalState.APPROVED]
    health = store.health.get(HEALTH)
    assert health is not None
    assert health.status is HealthStatus.OK


def test_live_an_override_allows_and_is_logged(store: Store, clock: SimulatedClock) -> None:
    record_scores(store, "heuristic", "ETH", losing())
    b = book(store, clock, edge_overrides=["heuristic:ETH"])
    out = b.run_cycle([cand(ETH), cand(BTC, 0.7)], account(b.settings), cycle_id="c1")
    eth, btc = out.proposals
    assert eth.state is ProposalState.APPROVED
    assert btc.state is ProposalState.DENIED
    assert btc.reason_codes == ["no_proven_edge"]
    events = [e for e in store.events.recent(limit=50) if e.kind == "risk.edge_override"]
    assert len(events) == 1
    assert "heuristic:ETH" in events[0].message
    assert events[0].level.value == "warning"


def test_live_an_override_alone_keeps_the_gate_health_row_warn(store: Store, clock: SimulatedClock) -> None:
    # Nothing denied this cycle, yet entries ran on an unproven record: `smt status` must not say ok.
    record_scores(store, "heuristic", "ETH", losing())
    b = book(store, clock, edge_overrides=["heuristic:ETH"])
    (p,) = b.run_cycle([cand(ETH)], account(b.settings)).proposals
    assert p.state is ProposalState.APPROVED
    health = store.health.get(HEALTH)
    assert health is not None
    assert health.status is HealthStatus.WARN
    assert health.detail.startswith("entries allowed by an operator override")
    assert "heuristic:ETH" in health.detail


def test_paper_and_demo_are_never_gated(store: Store, clock: SimulatedClock) -> None:
    record_scores(store, "heuristic", "ETH", losing())
    for mode in ("paper", "demo"):
        b = book(store, clock, mode=mode)
        out = b.run_cycle([cand(ETH)], account(b.settings))
        assert out.approved, (mode, out.proposals[0].reason_codes)
        assert all(g["gate"] != "no_proven_edge" for g in out.proposals[0].gates)
    health = store.health.get(HEALTH)
    assert health is not None
    assert health.status is HealthStatus.OFF
    assert health.detail == "paper and demo are never gated"


def test_the_size_comes_from_the_calibrated_confidence(store: Store, clock: SimulatedClock) -> None:
    # 90 of 120 calls at 0.8 right: (90 + 10) / (120 + 20) = 0.714 -> the 0.65 row (10 %), not 15 %.
    record_scores(store, "heuristic", "ETH", winning())
    calibrated = book(store, clock, mode="paper")
    (p,) = calibrated.run_cycle([cand(ETH)], account(calibrated.settings)).proposals
    assert p.confidence == pytest.approx(0.8)
    assert p.margin == Decimal(100)
    stated = book(store, clock, mode="paper", size_on_calibrated=False)
    (q,) = stated.run_cycle([cand(ETH)], account(stated.settings)).proposals
    assert q.margin == Decimal(150)
    # The map is the source's, on every pair; a source with no record at all is a coin: the smallest row.
    (r,) = calibrated.run_cycle([cand(BTC)], account(calibrated.settings)).proposals
    assert r.margin == Decimal(100)
    gemini = replace(cand(BTC), decision=replace(decision(confidence=0.8), analyst=AnalystKind.GEMINI))
    (s,) = calibrated.run_cycle([gemini], account(calibrated.settings)).proposals
    assert Decimal(49) < s.margin <= Decimal(50)
    event = next(
        e for e in store.events.recent(limit=50) if e.proposal_id == p.id and e.kind == "proposal.proposed"
    )
    assert event.data["sizing_confidence"] == "0.7143"
    assert event.data["stated_confidence"] == "0.8000"


def test_the_evidence_is_recorded_with_the_risk_inputs_and_reads_back(
    store: Store, clock: SimulatedClock
) -> None:
    record_scores(store, "heuristic", "ETH", losing())
    b = book(store, clock)
    out = b.run_cycle([cand(ETH)], account(b.settings))
    assert out.risk_inputs is not None
    recorded = out.risk_inputs["evidence"]
    assert recorded["gated"] is True
    assert recorded["records"][0]["n"] == 120
    again = Evidence.from_record(recorded)
    judged = again.judge(b.settings, "heuristic", "ETH", 0.8)
    live = Evidence.gather(store, b.settings, clock.now()).judge(b.settings, "heuristic", "ETH", 0.8)
    assert judged == live
    assert judged.edge is not None
    assert not judged.edge.passed
    # A cycle recorded before evidence existed: stated sizing, no gate.
    assert Evidence.from_record(None).judge(b.settings, "heuristic", "ETH", 0.8).calibrated is None


def test_equal_confidences_are_taken_in_the_configured_pair_order(
    store: Store, clock: SimulatedClock
) -> None:
    b = book(store, clock, mode="paper")
    one = b.run_cycle([cand(BTC), cand(ETH)], account(b.settings))
    two = b.run_cycle([cand(ETH), cand(BTC)], account(b.settings))
    # tier1 is ["ETH", "BTC"]: ETH first whatever order the analyses finished in.
    assert [p.pair for p in one.approved] == [p.pair for p in two.approved] == ["ETH"]
    assert decision(Action.LONG).analyst.value == "heuristic"


def _analysed(store: Store, clock: SimulatedClock, pair: Pair) -> Candidate:
    analysis = store.analyses.insert(
        Analysis(
            cycle_id=None,
            pair=pair.base,
            analyst=AnalystKind.HEURISTIC,
            model="heuristic",
            created_at=clock.now(),
            action=Action.LONG,
            confidence=0.8,
            decision={"decision": "LONG"},
        )
    )
    return replace(cand(pair), analysis_id=analysis.id)


def test_live_approval_re_checks_the_record(store: Store, clock: SimulatedClock) -> None:
    record_scores(store, "heuristic", "ETH", winning())
    settings = make_settings(engine={"approval": "manual", "mode": "live"})
    b = ProposalBook(store, clock, settings)
    (waiting,) = b.run_cycle([_analysed(store, clock, ETH)], account(settings)).waiting
    # The record turns before the operator approves: 400 losing calls swamp the winning ones.
    record_scores(store, "heuristic", "ETH", losing(400), first_id=1000)
    assert waiting.id is not None
    denied = b.approve(waiting.id, "op", PRICES["ETHUSDT"], account(settings))
    assert denied.state is ProposalState.DENIED
    assert "no_proven_edge" in denied.reason_codes


def test_live_approval_under_an_override_is_logged_again(store: Store, clock: SimulatedClock) -> None:
    record_scores(store, "heuristic", "ETH", losing())
    settings = make_settings(
        engine={"approval": "manual", "mode": "live"}, risk={"edge_overrides": ["heuristic:ETH"]}
    )
    b = ProposalBook(store, clock, settings)
    (waiting,) = b.run_cycle([_analysed(store, clock, ETH)], account(settings)).waiting
    assert waiting.id is not None
    approved = b.approve(waiting.id, "op", PRICES["ETHUSDT"], account(settings))
    assert approved.state is ProposalState.APPROVED
    assert len(store.events.of_kind("risk.edge_override")) == 2  # at the cycle and at the approval


def test_an_override_on_a_proposal_denied_for_another_reason_logs_nothing(
    store: Store, clock: SimulatedClock
) -> None:
    record_scores(store, "heuristic", "ETH", losing())
    b = book(store, clock, edge_overrides=["heuristic:ETH"])
    (p,) = b.run_cycle([cand(ETH, 0.55)], account(b.settings)).proposals
    assert p.state is ProposalState.DENIED
    assert p.reason_codes == ["min_confidence"]
    assert store.events.of_kind("risk.edge_override") == []


LOSING = EdgeRecord("heuristic", "ETH", 120, -0.15, -0.25, -0.05, horizon="4h")
NEED = "needs n >= 100 and a 95% lower bound above 0"


def test_the_gate_detail_names_count_mean_interval_horizon_and_origin() -> None:
    assert LOSING.describe() == (
        "heuristic on ETH: n=120, mean after fees -0.150% [95% CI -0.250%, -0.050%] at 4h (forward record)"
    )
    single = EdgeRecord("gemini", "BTC", 1, 0.3, None, None, origin="backtest")
    assert single.describe() == (
        "gemini on BTC: n=1, mean after fees +0.300% [no interval below 2 decisions] (backtest record)"
    )
    empty = EdgeRecord("heuristic", "SOL", 0, None, None, None)
    assert empty.describe() == "heuristic on SOL: no scored decision yet (forward record)"


def test_each_verdict_is_passed_or_not_and_says_why() -> None:
    denied = edge_gate(LOSING, 100, overridden=False)
    assert denied.passed is False
    assert denied.detail == f"{LOSING.describe()}; {NEED}"
    winning_record = replace(LOSING, mean_pct=0.25, low_pct=0.17, high_pct=0.33)
    allowed = edge_gate(winning_record, 100, overridden=True)
    assert allowed.passed is True
    assert allowed.detail == f"proven: {winning_record.describe()}"
    assert not is_override(allowed)
    lower_case = replace(LOSING, pair="eth")
    forced = edge_gate(lower_case, 100, overridden=True)
    assert forced.passed is True
    assert forced.detail == (
        f"OVERRIDDEN by risk.edge_overrides (heuristic:ETH): {lower_case.describe()}; {NEED}"
    )
    assert is_override(forced)
    assert not is_override(denied)


def test_exactly_the_minimum_of_decisions_is_enough_and_a_bound_at_zero_is_not() -> None:
    assert proven(EdgeRecord("heuristic", "ETH", 100, 0.25, 0.17, 0.33), 100)
    assert not proven(EdgeRecord("heuristic", "ETH", 100, 0.25, 0.0, 0.5), 100)
    # A record offered by another source (a backtest) is judged on its own figures: no positive mean, no edge.
    assert not proven(EdgeRecord("heuristic", "ETH", 100, 0.0, 0.01, 0.02, origin="backtest"), 100)


def test_a_record_reads_back_as_it_was_recorded_with_its_origin_and_horizon() -> None:
    for record in (
        LOSING,
        EdgeRecord("gemini", "BTC", 1, 0.3, None, None, origin="backtest", horizon="24h"),
        EdgeRecord("heuristic", "SOL", 0, None, None, None),
    ):
        assert EdgeRecord.from_record(record.as_record()) == record
    assert LOSING.as_record() == {
        "source": "heuristic",
        "pair": "ETH",
        "n": 120,
        "mean_pct": -0.15,
        "low_pct": -0.25,
        "high_pct": -0.05,
        "origin": "forward",
        "horizon": "4h",
    }


def test_each_source_and_pair_is_judged_on_its_own_record_and_a_missing_one_is_empty() -> None:
    proven_eth = EdgeRecord("heuristic", "ETH", 120, 0.25, 0.17, 0.33, horizon="4h")
    offered = {("heuristic", "ETH"): proven_eth}
    evidence = Evidence(
        gated=True,
        maps={},
        sources=(lambda source, pair: None, lambda source, pair: offered.get((source, pair))),
    )
    settings = make_settings(engine={"mode": "live"})
    eth = evidence.judge(settings, "heuristic", "ETH", 0.8).edge
    btc = evidence.judge(settings, "heuristic", "BTC", 0.8).edge
    assert eth is not None
    assert eth.passed is True
    assert btc is not None
    assert btc.passed is False
    assert btc.detail == f"heuristic on BTC: no scored decision yet (forward record); {NEED}"
    # Both consulted records are kept for replay, in source and pair order.
    assert evidence.as_record()["records"] == [
        EdgeRecord("heuristic", "BTC", 0, None, None, None).as_record(),
        proven_eth.as_record(),
    ]


def test_a_cycle_decided_without_evidence_is_recorded_and_replayed_ungated_on_the_stated_confidence() -> None:
    settings = make_settings(engine={"mode": "live"})
    none = Evidence.none()
    assert none.as_record() == {"gated": False, "calibration": None, "records": []}
    assert none.judge(settings, "heuristic", "ETH", 0.8).edge is None
    again = Evidence.from_record(none.as_record())
    assert again.judge(settings, "heuristic", "ETH", 0.8) == none.judge(settings, "heuristic", "ETH", 0.8)
    assert again.judge(settings, "heuristic", "ETH", 0.8).calibrated is None


def test_a_record_counts_only_the_sources_scored_directional_calls_on_the_pair_at_the_horizon() -> None:
    lines = [
        score_line(return_pct=0.1),
        score_line(return_pct=0.4),
        score_line(return_pct=9.0, direction="WAIT"),
        score_line(return_pct=None),
        score_line(return_pct=9.0, subject="proposal"),
        score_line(return_pct=9.0, horizon="1h"),
        score_line(return_pct=9.0, analyst="gemini", pair="BTC"),
        score_line(return_pct=9.0, pair="BTC"),
    ]
    record = forward_records(lines, "4h")
    # Two decisions are the fewest with an interval: mean 0.25, sd 0.2121, half 1.96 * 0.15 = 0.2940.
    assert record("heuristic", "ETH") == EdgeRecord("heuristic", "ETH", 2, 0.25, -0.044, 0.544, horizon="4h")
    assert record("heuristic", "BTC") == EdgeRecord("heuristic", "BTC", 1, 9.0, None, None, horizon="4h")
    assert record("gemini", "ETH") is None
    assert forward_records(lines, "1h")("heuristic", "ETH") == EdgeRecord(
        "heuristic", "ETH", 1, 9.0, None, None, horizon="1h"
    )
    # The mean is kept to four places, as its interval is.
    thirds = forward_records([score_line(return_pct=v) for v in (0.1, 0.2, 0.2)], "4h")("heuristic", "ETH")
    assert thirds is not None
    assert thirds.mean_pct == 0.1667


def test_the_sizing_confidence_is_the_sources_calibrated_one_to_four_places() -> None:
    # 3 of 10 right at 0.8, shrunk by 20 at 50 %: 13/30 = 0.43333...
    maps = {"heuristic": fit_map("heuristic", "4h", 20, [score_line(0.8, i < 3) for i in range(10)])}
    evidence = Evidence(gated=False, maps=maps)
    paper = make_settings(engine={"mode": "paper"})
    assert evidence.judge(paper, "heuristic", "ETH", 0.8).calibrated == Decimal("0.4333")
    assert evidence.judge(paper, "gemini", "ETH", 0.8).calibrated == Decimal("0.5")
    stated = make_settings(engine={"mode": "paper"}, risk={"size_on_calibrated": False})
    assert evidence.judge(stated, "heuristic", "ETH", 0.8).calibrated is None
    assert evidence.judge(paper, "heuristic", "ETH", 0.8).edge is None


def test_the_gate_health_row_names_every_denied_or_overridden_record_and_says_when_all_were_proven(
    store: Store, clock: SimulatedClock
) -> None:
    other = replace(LOSING, pair="BTC")
    denials = [edge_gate(r, 100, overridden=False) for r in (LOSING, other)]
    overrides = [edge_gate(r, 100, overridden=True) for r in (LOSING, other)]
    proven_gate = edge_gate(
        replace(LOSING, mean_pct=0.25, low_pct=0.17, high_pct=0.33), 100, overridden=False
    )
    expected = [
        (
            denials,
            HealthStatus.WARN,
            "no_proven_edge: live entries denied: " + " | ".join(g.detail for g in denials),
        ),
        (
            overrides,
            HealthStatus.WARN,
            "entries allowed by an operator override: " + " | ".join(g.detail for g in overrides),
        ),
        ([proven_gate], HealthStatus.OK, "every live entry this cycle had a proven record"),
        ([], HealthStatus.OK, "no trade decision to gate this cycle"),
    ]
    for gates, status, detail in expected:
        report_edge(store, clock, gates, gated=True)
        row = store.health.get(HEALTH)
        assert row is not None
        assert (row.status, row.detail) == (status, detail)
