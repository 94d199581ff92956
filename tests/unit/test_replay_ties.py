"""`smt replay` breaks confidence ties as the engine does: in the configured pair order, whatever order
the cycle's analyses were recorded in (they finish in any order)."""

from __future__ import annotations

from dataclasses import replace

from smt_engine.backtest.replay import replay_cycle
from smt_engine.clock import SimulatedClock
from smt_engine.domain import Action, AnalystKind, Pair, Tier
from smt_engine.store import Store
from smt_engine.store.records import Analysis, Cycle
from smt_engine.trading.proposals import Candidate, ProposalBook
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, account, decision, make_settings


def test_a_tie_replays_as_the_engine_chose(store: Store) -> None:
    settings = make_settings(engine={"approval": "auto"}, pairs={"tier1": ["ETH", "BTC"], "tier2": []})
    clock = SimulatedClock(NOW)
    store.cycles.insert(Cycle(id="c1", started_at=NOW, trigger="test"))
    ids = {}
    for base in ("BTC", "ETH"):  # recorded in the reverse of the pair order
        a = store.analyses.insert(
            Analysis(
                cycle_id="c1",
                pair=base,
                analyst=AnalystKind.HEURISTIC,
                model="heuristic",
                created_at=NOW,
                action=Action.LONG,
                confidence=0.8,
                decision={
                    "decision": "LONG",
                    "confidence": 0.8,
                    "take_profit_percent": 5,
                    "stop_loss_percent": 2,
                    "hold_time_hours": 0,
                    "reasoning": "test",
                },
            )
        )
        ids[base] = a.id
    candidates = [
        replace(
            Candidate(
                Pair(base, Tier.ONE),
                decision(confidence=0.8),
                CONTRACTS[f"{base}USDT"],
                PRICES[f"{base}USDT"],
            ),
            analysis_id=ids[base],
        )
        for base in ("ETH", "BTC")  # the pipeline's order
    ]
    out = ProposalBook(store, clock, settings).run_cycle(candidates, account(settings), cycle_id="c1")
    assert [p.pair for p in out.approved] == ["ETH"]
    store.cycles.update("c1", steps={"proposals": {"risk_inputs": out.risk_inputs}})
    result = replay_cycle(store, settings, "c1")
    assert result.inputs == "recorded"
    assert {r.pair: r.replay_state for r in result.rows} == {"ETH": "approved", "BTC": "denied"}
    assert not [r for r in result.rows if r.differs]
