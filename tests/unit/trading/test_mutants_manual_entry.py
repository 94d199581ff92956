"""An operator's own entry, value by value (README "Risk gates live outside the analyst": the operator's
size passes the same gates as an analyst's, and only the confidence floor and, live, the edge gate are
not applied, each saying so; "Everything is recorded": the proposal names the operator; docs/benchmarks.md,
mutation testing)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EngineState, EventLevel, Mode, ProposalState, Side
from smt_engine.exchange.base import ExchangeUnavailable, InvalidOrder
from smt_engine.store import Store
from smt_engine.store.entry_args import EntryRequest
from smt_engine.store.records import EngineStatus
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.execution import Executor
from smt_engine.trading.manual_entry import EDGE_NOT_APPLIED, Entered, EntryRefused, ManualEntry
from smt_engine.trading.proposals import ProposalBook
from tests.unit.trading.closing_support import client_id
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, drive, make_settings
from tests.unit.trading.scripted import Script, ScriptedExchange


@dataclass
class Desk:
    entry: ManualEntry
    venue: ScriptedExchange
    store: Store


def desk(
    store: Store,
    clock: SimulatedClock,
    mode: str = "paper",
    state: EngineState | None = EngineState.RUNNING,
    script: Script | None = None,
) -> Desk:
    settings = make_settings(engine={"mode": mode}, risk={"size_on_calibrated": False})
    venue = ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS), script=script or Script())
    venue.now = clock.now
    if state is not None:
        store.engine.put(EngineStatus(mode=Mode(mode), state=state))
    executor = Executor(venue, store, clock, settings, AiLogOutbox(store, clock, settings))
    book = ProposalBook(store, clock, settings)
    return Desk(ManualEntry(settings, store, clock, venue, book, executor), venue, store)


async def enter(clock: SimulatedClock, d: Desk, request: EntryRequest, actor: str = "alice") -> Entered:
    return await drive(clock, d.entry.enter(request, actor))


async def refused(clock: SimulatedClock, d: Desk, request: EntryRequest) -> str:
    with pytest.raises(EntryRefused) as info:
        await enter(clock, d, request)
    return str(info.value)


def gate(proposal_gates: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [g for g in proposal_gates if g["gate"] == name]


async def test_a_paper_entry_is_the_operators_approved_proposal_opened_with_its_legs(
    store: Store, clock: SimulatedClock
) -> None:
    d = desk(store, clock)
    entered = await enter(clock, d, EntryRequest("ETH", Side.LONG, margin=Decimal(50)), "cli:alice")
    assert entered == Entered(proposal_id=1, outcome="open", position_id=1, detail="open with TP/SL resting")
    proposal = store.proposals.get(1)
    assert proposal is not None
    assert (proposal.source, proposal.state, proposal.decided_by, proposal.decided_at) == (
        "operator", ProposalState.OPEN, "cli:alice", NOW,
    )  # fmt: skip
    assert (proposal.side, proposal.confidence, proposal.margin, proposal.size) == (
        Side.LONG, 0.0, Decimal(50), Decimal("0.50"),
    )  # fmt: skip
    assert (proposal.tp_pct, proposal.sl_pct) == (Decimal(5), Decimal("2.5"))  # the phase's defaults
    assert proposal.rationale == "operator entry by cli:alice: ETH LONG margin 50 USDT"
    assert gate(proposal.gates, "no_proven_edge") == []  # paper: no edge gate at all
    assert all(g["passed"] for g in proposal.gates)
    (approved,) = store.events.of_kind("proposal.approved")
    assert approved.data["actor"] == "cli:alice"
    assert approved.data["reason"] == "operator entry at 2000: passed every gate"
    assert approved.at == NOW
    (proposed,) = store.events.of_kind("proposal.proposed")
    assert proposed.data["max_hold_s"] == 48 * 3600  # the phase's: an operator states no hold
    assert store.events.of_kind("risk.edge_not_applied") == []
    (request,) = [a for name, a in d.venue.calls if name == "place_order"]
    assert (request.symbol, request.position_side, request.size) == ("ETHUSDT", Side.LONG, Decimal("0.50"))
    assert (request.tp_price, request.sl_price) == (Decimal(2100), Decimal(1950))


async def test_a_live_entry_records_the_edge_gate_as_not_applied_and_names_the_operator(
    store: Store, clock: SimulatedClock
) -> None:
    d = desk(store, clock, mode="live")
    request = EntryRequest(
        "BTC", Side.SHORT, size=Decimal("0.01234"), tp_pct=Decimal(3), sl_pct=Decimal("1.5")
    )
    entered = await enter(clock, d, request, "console:bob")
    assert entered.outcome == "open"
    proposal = store.proposals.get(entered.proposal_id)
    assert proposal is not None
    assert (proposal.side, proposal.size, proposal.tp_pct, proposal.sl_pct) == (
        Side.SHORT, Decimal("0.0123"), Decimal(3), Decimal("1.5"),
    )  # fmt: skip
    assert proposal.rationale == "operator entry by console:bob: BTC SHORT size 0.01234"
    assert gate(proposal.gates, "no_proven_edge") == [
        {"gate": "no_proven_edge", "passed": True, "detail": EDGE_NOT_APPLIED, "halt": False}
    ]
    assert EDGE_NOT_APPLIED == "not applied: an operator's own entry is not a signal source"
    (event,) = store.events.of_kind("risk.edge_not_applied")
    assert (event.level, event.at, event.proposal_id) == (EventLevel.INFO, NOW, proposal.id)
    assert event.message == (
        f"proposal #{proposal.id} BTC: live entry by console:bob; the edge gate judges signal sources, "
        "not an operator's own entry"
    )
    assert event.data == {"actor": "console:bob"}
    (approved,) = store.events.of_kind("proposal.approved")
    assert approved.data["reason"] == "operator entry at 100000: passed every gate"
    assert approved.id is not None
    assert event.id is not None
    assert event.id < approved.id


async def test_an_entry_past_the_limits_is_refused_naming_every_gate_that_refused(
    store: Store, clock: SimulatedClock
) -> None:
    d = desk(store, clock, mode="live")
    said = await refused(clock, d, EntryRequest("ETH", Side.LONG, margin=Decimal(5000)))
    assert said == (
        "entry refused (proposal #1): max_single_position: margin 5000 USDT (notional 100000), cap 250; "
        "max_total_exposure: margin in use 5000 USDT with this trade, cap 600"
    )
    proposal = store.proposals.get(1)
    assert proposal is not None
    assert proposal.state is ProposalState.DENIED
    assert store.events.of_kind("risk.edge_not_applied") == []
    assert d.venue.count("place_order") == 0


async def test_an_entry_on_an_engine_that_never_ran_is_refused_as_stopped(
    store: Store, clock: SimulatedClock
) -> None:
    d = desk(store, clock, state=None)
    said = await refused(clock, d, EntryRequest("ETH", Side.LONG, margin=Decimal(50)))
    assert said == "entry refused (proposal #1): engine_state: engine is stopped"
    d = desk(store, clock, state=EngineState.PAUSED)
    said = await refused(clock, d, EntryRequest("ETH", Side.LONG, margin=Decimal(50)))
    assert said == "entry refused (proposal #2): engine_state: engine is paused"


async def test_an_unconfigured_pair_or_a_distance_out_of_bounds_is_refused_before_any_read(
    store: Store, clock: SimulatedClock
) -> None:
    d = desk(store, clock)
    said = await refused(clock, d, EntryRequest("PEPE", Side.LONG, margin=Decimal(50)))
    assert said.startswith("entry refused: pair: PEPE is not a configured pair; choose one of ETH, BTC")
    said = await refused(clock, d, EntryRequest("ETH", Side.LONG, margin=Decimal(50), sl_pct=Decimal(80)))
    assert said.startswith("entry refused: sl_pct: 80% is outside the limits")
    assert d.venue.calls == []
    assert store.proposals.count() == 0


async def test_an_implausible_or_unreadable_market_refuses_the_entry_with_no_proposal(
    store: Store, clock: SimulatedClock
) -> None:
    d = desk(store, clock)
    d.venue.prices["ETHUSDT"] = Decimal(0)
    said = await refused(clock, d, EntryRequest("ETH", Side.LONG, margin=Decimal(50)))
    assert said == (
        "entry refused: ETHUSDT: price 0 refused (not positive; reference 0): the pair waits this cycle"
    )
    d.venue.prices["ETHUSDT"] = PRICES["ETHUSDT"]
    d.venue.script.balance_error = ExchangeUnavailable("upstream 502")
    said = await refused(clock, d, EntryRequest("ETH", Side.LONG, margin=Decimal(50)))
    assert said == "entry refused: the exchange could not be read (upstream 502)"
    assert store.proposals.count() == 0
    assert d.venue.count("place_order") == 0


async def test_an_approved_entry_the_venue_refuses_says_it_was_not_opened(
    store: Store, clock: SimulatedClock
) -> None:
    d = desk(store, clock, script=Script(reject_entry=InvalidOrder("insufficient margin", code="40001")))
    said = await refused(clock, d, EntryRequest("ETH", Side.LONG, margin=Decimal(50)))
    assert said == (
        f"entry #1 approved but not opened: failed: entry {client_id(store, 1, 'entry')} rejected: "
        "InvalidOrder: insufficient margin"
    )
    assert d.venue.count("place_order") == 1
