"""Work in flight survives stops and kills: the real engine against the fake WEEX over HTTP.

A "kill" is simulated in-process by cancelling the executor's task outright (no shield, no drain): the
request already on the wire still reaches the venue, and nothing of the dead run finishes its records.
A restart then builds a new runtime on the same database, as systemd would.
"""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from typing import Any

from smt_engine.domain import (
    Action,
    CommandKind,
    CommandState,
    Decision,
    EngineState,
    OrderKind,
    OrderState,
    Pair,
    PositionState,
    ProposalState,
    Tier,
)
from smt_engine.runtime import Runtime
from smt_engine.store.records import Proposal
from smt_engine.trading.account_reader import snapshot_account
from smt_engine.trading.proposals import Candidate
from tests.integration.rig import MONITOR_S, Rig, long_eth

ETH = Pair("ETH", Tier.ONE)
ORDER = "/capi/v3/order"


async def approved_proposal(rig: Rig, runtime: Runtime) -> Proposal:
    client = runtime.exchange
    contracts = await client.contracts(["ETHUSDT"])
    account = snapshot_account(
        rig.store,
        runtime.settings,
        rig.clock.now(),
        await client.balance(),
        await client.positions(),
        EngineState.RUNNING,
        contracts=contracts,
    )
    decision = Decision(Action.LONG, 0.8, Decimal(3), Decimal("1.5"), 12, "test")
    out = runtime.book.run_cycle(
        [Candidate(ETH, decision, contracts["ETHUSDT"], Decimal("3000.00"))], account
    )
    assert out.approved, out.proposals
    return out.approved[0]


def entry_order(rig: Rig, proposal_id: int) -> Any:
    return next(
        (o for o in rig.store.orders.select() if o.kind is OrderKind.ENTRY and o.proposal_id == proposal_id),
        None,
    )


def resting_kinds(rig: Rig) -> set[str]:
    return {a.kind for a in rig.venue(rig.fake.venue.open_algo_orders("ETHUSDT"))}


async def kill_during_entry(rig: Rig, *, reached_venue: bool) -> Proposal:
    """Start an entry in a runtime that is never run as an engine, and kill it mid-request."""
    runtime = await rig.start_unrun()
    proposal = await approved_proposal(rig, runtime)
    assert proposal.id is not None
    if reached_venue:
        rig.fake.faults.path_latency_after[ORDER] = 3.0  # accepted, the answer still on the wire
    else:
        rig.fake.faults.next_hang = 1  # the request never gets past the venue's front door
        rig.fake.faults.hang_seconds = 3.0
        rig.fake.faults.paths = {ORDER}
    task = asyncio.create_task(runtime.executor.execute(proposal, EngineState.RUNNING))

    def sent() -> bool:
        order = entry_order(rig, proposal.id or 0)
        if order is None:
            return False
        return not reached_venue or rig.fake.orders_with_client_id(order.client_order_id) == 1

    await rig.until(sent, 30, step=0.1)
    task.cancel()  # the process dies here
    await asyncio.gather(task, return_exceptions=True)
    await runtime.aclose()
    rig.runtime = None
    rig.fake.faults.path_latency_after.clear()
    rig.fake.faults.paths = None
    dead = rig.store.proposals.get(proposal.id)
    assert dead is not None
    assert dead.state is ProposalState.SUBMITTING
    assert entry_order(rig, proposal.id).state is OrderState.PENDING_SUBMIT
    return dead


async def test_a_kill_after_the_entry_was_sent_is_resolved_on_restart(rig: Rig) -> None:
    proposal = await kill_during_entry(rig, reached_venue=True)
    rig.gemini.push(*[long_eth()] * 3)
    await rig.start()
    pid = proposal.id

    def resolved() -> bool:
        p = rig.store.proposals.get(pid or 0)
        return p is not None and p.state is ProposalState.OPEN

    await rig.until(resolved, 3 * MONITOR_S)
    position = rig.store.positions.open_for("ETHUSDT", proposal.side)
    assert position is not None
    assert position.proposal_id == pid
    assert not position.adopted
    entry = entry_order(rig, pid or 0)
    assert entry.state is OrderState.FILLED
    assert entry.position_id == position.id
    assert rig.fake.orders_with_client_id(entry.client_order_id) == 1, "never sent twice"
    assert {"tp", "sl"} <= resting_kinds(rig)
    kinds = [e.kind for e in rig.store.events.select("order_id = ?", [entry.id])]
    assert kinds == ["order.unknown", "order.filled"], "the resolution is audited"


async def test_a_kill_before_the_entry_reached_the_venue_fails_it_and_locks_nothing_out(rig: Rig) -> None:
    proposal = await kill_during_entry(rig, reached_venue=False)
    rig.gemini.push(*[long_eth()] * 3)
    runtime = await rig.start()
    pid = proposal.id or 0
    await rig.until(
        lambda: (p := rig.store.proposals.get(pid)) is not None and p.state is ProposalState.FAILED,
        3 * MONITOR_S,
    )
    entry = entry_order(rig, pid)
    assert entry.state is OrderState.CANCELLED
    assert rig.fake.orders_with_client_id(entry.client_order_id) == 0
    # Nothing at the venue, nothing counted: the symbol is free for the next entry.
    account = snapshot_account(rig.store, runtime.settings, rig.clock.now(), None, [], EngineState.RUNNING)
    assert account.open_positions == ()
    assert not rig.store.proposals.in_state(ProposalState.APPROVED, ProposalState.SUBMITTING)


async def test_sigterm_during_an_entry_leaves_it_open_with_tp_and_sl_resting(rig: Rig) -> None:
    rig.gemini.push(long_eth())
    rig.fake.faults.path_latency[ORDER] = 1.0
    runtime = await rig.start()
    await rig.until(lambda: bool(rig.store.proposals.in_state(ProposalState.SUBMITTING)), 120, step=0.2)
    runtime.engine._on_signal(signal.SIGTERM)  # what the installed SIGTERM handler does
    await rig.finish()
    proposals = rig.store.proposals.select()
    assert [p.state for p in proposals] == [ProposalState.OPEN]
    assert resting_kinds(rig) == {"tp", "sl"}
    assert all(
        o.state.is_terminal or o.kind in (OrderKind.TP, OrderKind.SL) for o in rig.store.orders.select()
    )
    assert rig.store.engine.current().state is EngineState.STOPPED


async def test_a_manual_approval_in_flight_finishes_when_the_engine_stops(rig: Rig) -> None:
    rig.gemini.push(long_eth())
    runtime = await rig.start(approval="manual")
    await rig.until(lambda: bool(rig.store.proposals.pending()), 120)
    pid = rig.store.proposals.pending()[0].id
    rig.fake.faults.path_latency[ORDER] = 1.0
    cmd = rig.store.commands.enqueue(CommandKind.APPROVE, rig.clock.now(), "test", {"proposal_id": pid})
    await rig.until(lambda: bool(rig.store.proposals.in_state(ProposalState.SUBMITTING)), 60, step=0.2)
    runtime.engine.stop()
    await rig.finish()
    done = rig.store.commands.get(cmd.id)
    assert done is not None, done
    assert done.state is CommandState.DONE, done
    assert rig.store.proposals.get(pid or 0).state is ProposalState.OPEN
    assert resting_kinds(rig) == {"tp", "sl"}


async def test_a_failed_account_read_fails_its_step_not_the_cycle(rig: Rig) -> None:
    rig.gemini.push(long_eth())
    runtime = await rig.start_unrun()
    rig.fake.faults.paths = {"/capi/v3/account/balance"}
    rig.fake.faults.rate_5xx = 1.0
    cycle_id = await rig.run(runtime.pipeline.run_cycle("test"))
    cycle = rig.store.cycles.get(cycle_id)
    assert cycle is not None
    assert cycle.status == "partial"
    assert cycle.steps["account"]["status"] == "failed"
    assert cycle.steps["proposals"]["status"] == "ok", cycle.steps
    assert not rig.store.proposals.select(), "an unreadable balance means no proposals"
    assert all(s.get("status") != "failed" for k, s in cycle.steps.items() if k != "account")


async def test_a_pair_whose_candles_are_unreadable_is_not_analysed_and_the_market_step_fails(
    rig: Rig,
) -> None:
    rig.gemini.push(long_eth())
    runtime = await rig.start_unrun()
    rig.fake.faults.paths = {"/capi/v3/market/klines", "/capi/v3/market/historyKlines"}
    rig.fake.faults.rate_5xx = 1.0
    cycle_id = await rig.run(runtime.pipeline.run_cycle("test"))
    cycle = rig.store.cycles.get(cycle_id)
    assert cycle is not None
    assert cycle.steps["market"]["status"] == "failed", cycle.steps
    assert not rig.store.analyses.for_cycle(cycle_id), "a pair without candles is not analysed"
    assert not rig.store.proposals.select()


async def test_no_order_or_proposal_stays_in_flight_after_a_restart(rig: Rig) -> None:
    await kill_during_entry(rig, reached_venue=True)
    rig.gemini.push(*[long_eth()] * 3)
    await rig.start()
    await rig.advance(3 * MONITOR_S)
    stuck = [
        o
        for o in rig.store.orders.select()
        if o.state in (OrderState.PENDING_SUBMIT, OrderState.UNKNOWN)
        or (o.state is OrderState.SUBMITTED and o.kind in (OrderKind.ENTRY, OrderKind.CLOSE))
    ]
    assert not stuck
    assert not rig.store.proposals.in_state(ProposalState.APPROVED, ProposalState.SUBMITTING)
    assert rig.store.positions.open_for("ETHUSDT", rig.store.proposals.select()[0].side).state is (
        PositionState.OPEN
    )


async def test_an_entry_whose_outcome_stays_unknown_is_left_to_the_tracker_not_failed_on_a_guess(
    rig: Rig,
) -> None:
    runtime = await rig.start_unrun()
    proposal = await approved_proposal(rig, runtime)
    rig.fake.faults.paths = {ORDER}
    rig.fake.faults.next_hang = 1  # the connection dies without an answer; the order never existed
    rig.fake.faults.hang_seconds = 1.0
    result = await rig.run(runtime.executor.execute(proposal, EngineState.RUNNING))
    rig.fake.faults.paths = None
    assert result.outcome == "pending", result.detail
    assert rig.store.proposals.get(proposal.id or 0).state is ProposalState.SUBMITTING
    assert entry_order(rig, proposal.id or 0).state is OrderState.UNKNOWN
    await rig.clock.advance(runtime.settings.trading.order_visibility.total_seconds() + 1)
    report = await rig.run(runtime.monitor.tick())
    assert report.ok
    assert report.inflight.proposals_resolved == [proposal.id]
    assert entry_order(rig, proposal.id or 0).state is OrderState.CANCELLED
    assert rig.store.proposals.get(proposal.id or 0).state is ProposalState.FAILED
    assert rig.fake.counts["POST /capi/v3/order"] == 1, "never resent"


async def test_a_start_after_an_unclean_end_is_announced_as_a_crash_restart(rig: Rig) -> None:
    rig.gemini.push(long_eth())
    await rig.start()
    await rig.until(lambda: rig.store.engine.current() is not None, 30)
    assert not rig.store.events.of_kind("engine.crash_restart"), "a first start is not a crash"
    await rig.stop()
    rig.store.engine.set(state=EngineState.RUNNING, pid=424242)  # as a killed engine leaves it
    rig.gemini.push(long_eth())
    await rig.start()
    await rig.until(lambda: bool(rig.store.events.of_kind("engine.crash_restart")), 30)
    event = rig.store.events.of_kind("engine.crash_restart")[0]
    assert event.data == {"previous_pid": 424242, "previous_state": "running"}
    await rig.stop()
    await rig.start()
    await rig.until(lambda: rig.store.engine.current().state is EngineState.RUNNING, 30)
    assert len(rig.store.events.of_kind("engine.crash_restart")) == 1, "a clean stop is not a crash"
