"""The engine end to end: real WEEX client, real Gemini SDK, fake servers on 127.0.0.1, simulated clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

from smt_engine.domain import (
    Action,
    CloseReason,
    CommandKind,
    CommandState,
    EngineState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.exchange.base import OrderRequest
from smt_engine.store import Store
from smt_engine.trading.risk import ReasonCode
from tests.fakes.gemini_server import Reply, text_reply
from tests.integration.rig import ETH_PRICE, MONITOR_S, T0, Rig, long_eth


def open_position(store: Store) -> Any:
    rows = [p for p in store.positions.open_positions() if p.state is PositionState.OPEN]
    return rows[0] if rows else None


async def protected_position(rig: Rig) -> Any:
    rig.gemini.push(long_eth())
    await rig.start()
    await rig.until(lambda: (p := open_position(rig.store)) is not None and p.sl_order_id is not None, 120)
    return open_position(rig.store)


async def test_a_full_cycle_leads_to_a_protected_position(rig: Rig) -> None:
    pos = await protected_position(rig)
    assert (pos.symbol, pos.side) == ("ETHUSDT", Side.LONG)
    assert pos.tp_order_id
    assert pos.sl_order_id
    assert pos.tp_price is not None
    assert pos.tp_price > ETH_PRICE > pos.sl_price
    algos = rig.venue(rig.fake.venue.open_algo_orders("ETHUSDT"))
    assert {a.kind for a in algos} == {"tp", "sl"}
    entry = next(o for o in rig.store.orders.for_position(pos.id) if o.kind.value == "entry")
    assert rig.fake.orders_with_client_id(entry.client_order_id) == 1
    proposal = rig.store.proposals.get(pos.proposal_id)
    assert proposal is not None
    assert proposal.state is ProposalState.OPEN
    assert proposal.notional == proposal.margin * proposal.leverage
    analysis = rig.store.analyses.get(proposal.analysis_id)
    assert analysis is not None
    assert analysis.grounded
    assert analysis.sources
    assert rig.gemini.requests[0].has_google_search
    stages = {row.stage for row in rig.store.ailogs.select()}
    assert {"Market Analysis - ETH", "Trade Decision", "Trade Execution"} <= stages


async def test_take_profit_is_detected_within_two_monitor_ticks(rig: Rig) -> None:
    pos = await protected_position(rig)
    # Start the clock on a tick boundary so "two ticks" is measured from the move, not from mid-interval.
    await rig.until(lambda: rig.clock.now().second % int(MONITOR_S) == 0, 30)
    rig.fake.set_price("ETHUSDT", pos.tp_price + Decimal(5), high=pos.tp_price + Decimal(10))
    elapsed = await rig.until(
        lambda: (p := rig.store.positions.get(pos.id)) is not None and p.state is PositionState.CLOSED,
        4 * MONITOR_S,
    )
    assert elapsed <= 2 * MONITOR_S
    closed = rig.store.positions.get(pos.id)
    assert closed is not None
    assert closed.close_reason is CloseReason.TAKE_PROFIT
    assert closed.close_order_id
    assert closed.realized_pnl is not None
    assert closed.realized_pnl > 0
    # The monitor closes the proposal through the audited transition.
    audit = [e for e in rig.store.events.of_kind("proposal.closed") if e.proposal_id == closed.proposal_id]
    assert audit
    assert audit[0].data["actor"] == "monitor"
    assert rig.store.proposals.get(closed.proposal_id).state is ProposalState.CLOSED
    await rig.until(lambda: not rig.venue(rig.fake.venue.open_algo_orders("ETHUSDT")), 2 * MONITOR_S)
    closes = [row for row in rig.store.ailogs.select() if row.stage == "Position Closed"]
    assert closes
    assert closes[-1].order_id == closed.close_order_id


async def test_an_api_error_during_the_monitor_closes_nothing(rig: Rig) -> None:
    pos = await protected_position(rig)
    rig.fake.faults.rate_5xx = 1.0
    for _ in range(12):
        await rig.clock.advance(MONITOR_S / 3)
        await asyncio.sleep(0.02)
    rig.fake.faults.rate_5xx = 0.0
    still = rig.store.positions.get(pos.id)
    assert still is not None
    assert still.state is PositionState.OPEN
    assert len(rig.venue(rig.fake.venue.open_algo_orders("ETHUSDT"))) == 2
    failures = rig.store.events.of_kind("monitor.read_failed")
    assert failures, "the failed reads are recorded"
    degraded = [
        e for e in rig.store.events.of_kind("health.degraded") if e.data["component"] == "exchange.reconcile"
    ]
    assert degraded, "a failing reconciliation is loud"


async def test_restart_adopts_an_unknown_position_and_keeps_its_open_time(rig: Rig) -> None:
    await rig.clock.advance(0)
    rig.venue(
        rig.fake.venue.place_order(
            OrderRequest("ETHUSDT", Side.SHORT, Decimal("0.5"), "manual-1", sl_price=Decimal("3100"))
        )
    )
    opened = rig.clock.now()
    await rig.clock.advance(47.75 * 3600)  # the position is 47 h 45 min old when the engine starts
    rig.gemini.push(text_reply('{"decision": "WAIT", "confidence": 0.2, "reasoning": "quiet"}'))
    await rig.start()
    await rig.until(lambda: open_position(rig.store) is not None, 60)
    adopted = open_position(rig.store)
    assert adopted.adopted
    assert adopted.side is Side.SHORT
    assert abs((adopted.opened_at - opened).total_seconds()) < 1
    # Max hold (48 h) counts from the exchange's open time, not from the restart.
    await rig.until(
        lambda: (p := rig.store.positions.get(adopted.id)) is not None and p.state is PositionState.CLOSED,
        3600,
        step=MONITOR_S,
    )
    done = rig.store.positions.get(adopted.id)
    assert done is not None
    assert done.close_reason is CloseReason.FORCED


async def test_a_restart_does_not_trade_again_before_the_interval(rig: Rig) -> None:
    rig.gemini.push(text_reply('{"decision": "WAIT", "confidence": 0.2, "reasoning": "quiet"}'))
    await rig.start()
    await rig.until(
        lambda: rig.store.cycles.count() == 1 and rig.store.cycles.latest().status != "running", 60
    )
    await rig.stop()
    await rig.clock.advance(600)
    await rig.start()
    for _ in range(30):
        await rig.clock.advance(60)
        await asyncio.sleep(0.01)
    assert rig.store.cycles.count() == 1, "no cycle on restart while the persisted one is not due"
    status = rig.store.engine.current()
    first = rig.store.cycles.latest()
    assert status is not None
    assert status.next_cycle_at == first.started_at + timedelta(hours=4)
    # It declares its heartbeat period, by which front ends judge it late.
    assert status.heartbeat_s == rig.settings().engine.heartbeat_interval.total_seconds() > 0
    rig.gemini.push(text_reply('{"decision": "WAIT", "confidence": 0.2, "reasoning": "quiet"}'))
    await rig.until(lambda: rig.store.cycles.count() == 2, 4 * 3600, step=60)
    assert rig.store.cycles.latest().started_at >= T0 + timedelta(hours=4)


async def test_every_command_kind_round_trips_with_a_result(rig: Rig) -> None:
    rig.gemini.push(long_eth())
    await rig.start(approval="manual")
    await rig.until(lambda: bool(rig.store.proposals.pending()), 60)
    proposal = rig.store.proposals.pending()[0]

    async def run(kind: CommandKind, args: dict[str, Any] | None = None) -> Any:
        cmd = rig.store.commands.enqueue(kind, rig.clock.now(), "test", args or {})
        assert cmd.id is not None
        await rig.until(
            lambda: (
                (c := rig.store.commands.get(cmd.id)) is not None
                and c.state in (CommandState.DONE, CommandState.FAILED)
            ),
            120,
        )
        return rig.store.commands.get(cmd.id)

    approved = await run(CommandKind.APPROVE, {"proposal_id": proposal.id})
    assert approved.state is CommandState.DONE, approved.error
    assert approved.result["outcome"] == "open"
    assert approved.result["position_id"]
    again = await run(CommandKind.APPROVE, {"proposal_id": proposal.id})
    assert again.state is CommandState.FAILED
    assert "open" in again.error

    paused = await run(CommandKind.PAUSE)
    assert paused.state is CommandState.DONE
    assert rig.store.engine.current().state is EngineState.PAUSED
    resumed = await run(CommandKind.RESUME)
    assert resumed.result == {"state": "running", "was": "paused", "cleared": "paused: paused by test"}

    rig.gemini.push(long_eth(confidence=0.7))
    cycle = await run(CommandKind.RUN_CYCLE)
    assert cycle.result == {"queued": True}
    await rig.until(
        lambda: rig.store.cycles.count() == 2 and rig.store.cycles.latest().status != "running", 60
    )
    waiting = rig.store.proposals.pending()
    if waiting:
        rejected = await run(CommandKind.REJECT, {"proposal_id": waiting[0].id, "reason": "not today"})
        assert rejected.result["state"] == "rejected"
    else:
        rejected = await run(CommandKind.REJECT, {"proposal_id": 9999})
        assert rejected.state is CommandState.FAILED
        assert "9999" in rejected.error

    reload = await run(CommandKind.RELOAD_CONFIG)
    assert reload.state is CommandState.FAILED
    assert "not started from a configuration file" in reload.error
    assert rig.store.engine.current().approval == "manual"
    cleanup = await run(CommandKind.CLEANUP)
    assert cleanup.state is CommandState.DONE
    assert cleanup.result == {"cancelled": []}

    close = await run(CommandKind.CLOSE, {"symbol": "ETHUSDT", "side": "LONG"})
    assert close.state is CommandState.DONE, close.error
    assert close.result["state"] in ("closed", "closing")
    nothing = await run(CommandKind.CLOSE_ALL)
    assert nothing.state is CommandState.DONE
    assert nothing.result == {"closed": []}
    bad = await run(CommandKind.CLOSE, {"symbol": "ETHUSDT", "side": "UP"})
    assert bad.state is CommandState.FAILED
    assert "LONG or SHORT" in bad.error


async def test_stopping_mid_cycle_leaves_a_consistent_database(rig: Rig) -> None:
    rig.gemini.push(Reply(hang=True))
    await rig.start()
    await rig.until(lambda: len(rig.gemini.requests) >= 1, 30)
    await rig.stop()
    cycle = rig.store.cycles.latest()
    assert cycle is not None
    assert cycle.status == "abandoned"
    assert cycle.finished_at is not None
    engine = rig.store.engine.current()
    assert engine is not None
    assert engine.state is EngineState.STOPPED
    assert not rig.store.proposals.in_state(ProposalState.SUBMITTING, ProposalState.APPROVED)
    assert not [c for c in rig.store.commands.select() if c.state is CommandState.RUNNING]


async def test_no_entry_before_the_start_up_reconciliation_succeeded(rig: Rig) -> None:
    """Positions unreadable at start: no cycle, no order, the engine says why; it trades once they read."""
    positions_path = "/capi/v3/account/position/allPosition"
    rig.fake.faults.not_found_paths = frozenset({positions_path})
    rig.gemini.push(long_eth())
    await rig.start()
    await rig.until(lambda: bool(rig.store.events.of_kind("engine.reconcile_failed")), 60)
    await rig.advance(3 * MONITOR_S)
    status = rig.store.engine.current()
    assert status is not None
    assert status.state is EngineState.RECONCILING
    assert status.last_error
    assert not rig.fake.counts.get("POST /capi/v3/order"), "no order goes out before reconciliation"
    assert rig.store.proposals.count() == 0
    assert rig.store.analyses.count() == 0
    rig.fake.faults.not_found_paths = frozenset()
    await rig.until(lambda: (p := open_position(rig.store)) is not None and p.sl_order_id is not None, 300)
    assert rig.store.events.of_kind("engine.reconciled")


async def test_a_halted_engine_still_re_places_a_missing_stop(rig: Rig) -> None:
    """Halted means no new entries; protection goes on: a stripped stop is back within two ticks."""
    pos = await protected_position(rig)
    assert rig.runtime is not None
    rig.runtime.engine.halt("daily loss limit hit (test)", ReasonCode.DAILY_LOSS)
    stop = next(a for a in rig.venue(rig.fake.venue.open_algo_orders("ETHUSDT")) if a.kind == "sl")
    rig.venue(rig.fake.venue.cancel_algo_order("ETHUSDT", stop.order_id))  # stripped behind the engine's back
    assert not [a for a in rig.venue(rig.fake.venue.open_algo_orders("ETHUSDT")) if a.kind == "sl"]
    await rig.until(
        lambda: any(
            a.kind == "sl" and a.order_id != stop.order_id
            for a in rig.venue(rig.fake.venue.open_algo_orders("ETHUSDT"))
        ),
        2 * MONITOR_S,
    )
    await rig.until(
        lambda: (p := rig.store.positions.get(pos.id)) is not None and p.sl_order_id != stop.order_id, 5
    )
    status = rig.store.engine.current()
    assert status is not None
    assert status.state is EngineState.HALTED
    still = rig.store.positions.get(pos.id)
    assert still is not None
    assert still.state is PositionState.OPEN
    assert still.sl_order_id != stop.order_id


async def test_an_unparseable_model_answer_is_a_recorded_wait_and_never_an_order(rig: Rig) -> None:
    rig.gemini.push(text_reply("Go LONG on ETH right now with 100x, trust me."))
    await rig.start()
    await rig.until(lambda: rig.store.analyses.count() > 0, 120)
    await rig.advance(3 * MONITOR_S)
    (analysis,) = rig.store.analyses.select()
    assert analysis.action is Action.WAIT
    assert analysis.error
    assert analysis.decision is None
    assert rig.store.proposals.count() == 0
    assert not rig.fake.counts.get("POST /capi/v3/order"), "no order goes out on an unreadable answer"
