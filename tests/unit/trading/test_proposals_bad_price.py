"""One pair's unusable number never stops the proposal step for the others (an ``Infinity`` or
``1e-30`` price used to fail the step for every pair of the cycle)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EventLevel, Pair, Tier
from smt_engine.store import Store
from smt_engine.trading.proposals import Candidate, ProposalBook
from tests.unit.trading.conftest import CONTRACTS, PRICES, account, decision, make_settings

ETH = Pair("ETH", Tier.ONE)
BTC = Pair("BTC", Tier.ONE)


@pytest.mark.parametrize("bad", [Decimal("Infinity"), Decimal("NaN"), Decimal("1e-30")])
def test_a_bad_price_leaves_the_other_pairs_proposed(
    store: Store, clock: SimulatedClock, bad: Decimal
) -> None:
    settings = make_settings(trading={"max_entries_per_cycle": 2})
    book = ProposalBook(store, clock, settings)
    cands = [
        Candidate(ETH, decision(confidence=0.9), CONTRACTS["ETHUSDT"], bad),  # assessed first
        Candidate(BTC, decision(confidence=0.8), CONTRACTS["BTCUSDT"], PRICES["BTCUSDT"]),
    ]
    out = book.run_cycle(cands, account(settings), cycle_id="c1")
    good = [p for p in out.proposals if p.symbol == "BTCUSDT"]
    assert len(good) == 1
    assert good[0].entry_ref == PRICES["BTCUSDT"]
    assert good[0].size > 0
    eth = [p for p in out.proposals if p.symbol == "ETHUSDT"]
    assert all(p.state.value == "denied" for p in eth)  # never a live proposal on that number
    assert all(p.id not in {q.id for q in out.approved + out.waiting} for p in eth)
    skipped = [e for e in store.events.of_kind("proposal.skipped") if e.level is EventLevel.WARNING]
    assert len(skipped) == (0 if eth else 1)  # refused by a gate, or recorded and skipped
