"""Safety claims whose only tests could not fail (issue 21): each test here fails when its claim breaks.

- The monitor closes at market a position whose missing stop cannot be placed again (README, "No
  unprotected position": "a missing one is re-placed ... and if that fails the position is closed at
  market"); the entry path had the only test.
- The engine carries out the operator's REJECT: the proposal is rejected and the command done; a
  proposal that cannot be rejected fails the command with the reason.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from smt_engine.commands.errors import CommandRejected
from smt_engine.competition import competition_status
from smt_engine.config import Settings
from smt_engine.domain import (
    CloseReason,
    CommandKind,
    CommandState,
    EngineState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.exchange.base import OrderRequest, OrderStatus
from smt_engine.exchange.precision import round_stop
from smt_engine.store.records import Command, EngineStatus
from smt_engine.trading.orders import move_position
from smt_engine.trading.proposals import ProposalBook
from tests.command_support import RunRow, command_service, row_runner
from tests.integration.rig import Rig, long_eth
from tests.integration.venue_bench import ETH, SETTINGS, T0, Bench, bench, open_long

__all__ = ["bench"]  # the fixture, imported


async def test_the_monitor_closes_at_market_a_position_whose_stop_cannot_be_placed_again(
    bench: Bench,
) -> None:
    pid, _, sl_id = await open_long(bench)
    await bench.client.cancel_algo_order(ETH, sl_id)  # the stop went missing at the venue
    bench.fake.faults.paths = {"/capi/v3/placeTpSlOrder"}
    bench.fake.faults.next_5xx = 20  # and cannot be placed again
    report = await bench.run(bench.monitor.tick())
    assert report.ok
    assert report.stops_placed == []
    assert bench.posts("/capi/v3/placeTpSlOrder") >= 1, "a new stop was tried first"
    assert not [p for p in await bench.client.positions() if p.size > 0], "closed at the venue"
    pos = bench.store.positions.get(pid)
    assert pos is not None
    assert pos.state is PositionState.CLOSED
    assert pos.close_reason is CloseReason.UNPROTECTED
    assert bench.venue_status(pos.close_order_id or "") is OrderStatus.FILLED
    events = [
        e for e in bench.store.events.recent(100) if e.position_id == pid and e.kind == "position.closed"
    ]
    assert events
    assert events[0].level.value == "critical"


async def test_the_stop_guard_does_not_close_a_position_whose_stop_is_placed_again(bench: Bench) -> None:
    pid, _, sl_id = await open_long(bench)
    await bench.client.cancel_algo_order(ETH, sl_id)
    report = await bench.run(bench.monitor.tick())
    assert report.stops_placed == [pid]
    pos = bench.store.positions.get(pid)
    assert pos is not None
    assert pos.state is PositionState.OPEN
    stops = [a for a in await bench.client.open_algo_orders(ETH) if a.kind == "sl"]
    assert [(a.position_side, a.order_id) for a in stops] == [(Side.LONG, pos.sl_order_id)]


async def _command(rig: Rig, kind: CommandKind, args: dict[str, Any]) -> Any:
    cmd = rig.store.commands.enqueue(kind, rig.clock.now(), "test", args)
    assert cmd.id is not None
    await rig.until(
        lambda: (
            (c := rig.store.commands.get(cmd.id)) is not None
            and c.state in (CommandState.DONE, CommandState.FAILED)
        ),
        120,
    )
    return rig.store.commands.get(cmd.id)


async def test_the_engine_rejects_a_waiting_proposal_on_the_operators_command(rig: Rig) -> None:
    rig.gemini.push(long_eth())
    await rig.start(approval="manual")
    await rig.until(lambda: bool(rig.store.proposals.pending()), 60)
    proposal = rig.store.proposals.pending()[0]
    done = await _command(rig, CommandKind.REJECT, {"proposal_id": proposal.id, "reason": "not today"})
    assert done.state is CommandState.DONE, done.error
    assert done.result == {"proposal_id": proposal.id, "state": "rejected"}
    rejected = rig.store.proposals.get(proposal.id)
    assert rejected is not None
    assert rejected.state is ProposalState.REJECTED
    assert rejected.decided_by == "test"  # who and why are on the record
    said = next(e for e in rig.store.events.recent(200) if e.kind == "proposal.rejected")
    assert (said.proposal_id, said.data["actor"], said.data["reason"]) == (proposal.id, "test", "not today")
    assert rig.fake.counts["POST /capi/v3/order"] == 0, "nothing was sent for it"
    again = await _command(rig, CommandKind.REJECT, {"proposal_id": proposal.id})
    assert again.state is CommandState.FAILED
    assert "rejected" in again.error
    missing = await _command(rig, CommandKind.REJECT, {"proposal_id": 9999})
    assert missing.state is CommandState.FAILED
    assert "9999" in missing.error


def _service(bench: Bench) -> RunRow:
    """The engine's command service over the bench: a command row in, the row it stores out."""
    return row_runner(
        command_service(
            bench.settings,
            bench.store,
            bench.clock,
            bench.client,
            bench.book,
            bench.executor,
            bench.monitor,
        )
    )


def _cmd(kind: CommandKind, args: dict[str, Any] | None = None) -> Command:
    return Command(kind=kind, actor="test", created_at=T0, args=args or {})


async def test_the_operators_close_closes_at_the_venue_even_when_halted(bench: Bench) -> None:
    pid, _, _ = await open_long(bench)
    bench.store.engine.put(EngineStatus(mode=bench.settings.engine.mode, state=EngineState.HALTED))
    run = _service(bench)
    bad_side = _cmd(CommandKind.CLOSE, {"symbol": "ethusdt", "side": "UP"})
    with pytest.raises(CommandRejected, match="LONG or SHORT"):
        await run(bad_side)
    with pytest.raises(CommandRejected, match="no open SHORT position on ETHUSDT"):
        await run(_cmd(CommandKind.CLOSE, {"symbol": "ethusdt", "side": "short"}))
    result = await bench.run(run(_cmd(CommandKind.CLOSE, {"symbol": "ethusdt", "side": "long"})))
    pos = bench.store.positions.get(pid)
    assert pos is not None
    assert pos.state is PositionState.CLOSED
    assert pos.close_reason is CloseReason.MANUAL
    assert result == {"position_id": pid, "state": "closed", "close_order_id": pos.close_order_id}
    assert bench.venue_status(pos.close_order_id or "") is OrderStatus.FILLED
    assert not [p for p in await bench.client.positions() if p.size > 0]
    closed = next(e for e in bench.store.events.recent(100) if e.kind == "position.closed")
    assert closed.data["actor"] == "test"  # who closed it is on the record


async def test_the_operators_close_that_the_venue_refuses_fails_and_says_so(bench: Bench) -> None:
    pid, _, _ = await open_long(bench)
    bench.fake.faults.paths = {"/capi/v3/order"}  # the client closes with a reduce-only market order
    bench.fake.faults.rate_5xx = 1.0
    run = _service(bench)
    with pytest.raises(CommandRejected, match="ETHUSDT LONG: the close order was not accepted"):
        await bench.run(run(_cmd(CommandKind.CLOSE, {"symbol": ETH, "side": "LONG"})))
    with pytest.raises(CommandRejected, match="closed 0, could not close: ETHUSDT LONG"):
        await bench.run(run(_cmd(CommandKind.CLOSE_ALL)))
    pos = bench.store.positions.get(pid)
    assert pos is not None
    assert pos.state is PositionState.OPEN
    failed = [e for e in bench.store.events.recent(100) if e.kind == "position.close_failed"]
    assert failed
    assert all(e.position_id == pid and e.level.value == "critical" for e in failed)
    bench.fake.faults.rate_5xx = 0.0
    assert await bench.run(run(_cmd(CommandKind.CLOSE_ALL))) == {"closed": [pid]}
    closed = next(e for e in bench.store.events.recent(100) if e.kind == "position.closed")
    assert closed.data["actor"] == "test"
    assert not [p for p in await bench.client.positions() if p.size > 0]


async def test_the_operators_cleanup_cancels_orphans_and_fails_loudly_when_the_venue_is_unreadable(
    bench: Bench,
) -> None:
    _, tp_id, sl_id = await open_long(bench)
    await bench.client.close_position(ETH, Side.LONG, "outside-close-2")  # leaves TP and SL behind
    run = _service(bench)
    bench.fake.faults.paths = {"/capi/v3/account/position/allPosition"}
    bench.fake.faults.next_5xx = 10
    with pytest.raises(CommandRejected, match="exchange read failed, nothing cancelled"):
        await bench.run(run(_cmd(CommandKind.CLEANUP)))
    assert bench.venue_status(sl_id) is OrderStatus.UNTRIGGERED
    bench.fake.faults.next_5xx = 0
    # The books still hold the position (no tick has seen it go): its orders are not orphans yet, so a
    # venue answer that merely misses a position can never strip its stop.
    assert (await bench.run(run(_cmd(CommandKind.CLEANUP))))["cancelled"] == []
    assert bench.venue_status(sl_id) is OrderStatus.UNTRIGGERED
    await bench.run(bench.monitor.tick(startup=True))  # the close is booked; a start-up tick only flags
    result = await bench.run(run(_cmd(CommandKind.CLEANUP)))
    assert sl_id in result["cancelled"]
    assert bench.venue_status(sl_id) is OrderStatus.CANCELLED
    assert bench.venue_status(tp_id) in (OrderStatus.CANCELLED, OrderStatus.UNTRIGGERED)


async def test_a_reject_without_a_reason_is_recorded_as_the_operators(bench: Bench) -> None:
    bench.settings = Settings.model_validate({**SETTINGS, "engine": {"approval": "manual"}})
    bench.book = ProposalBook(bench.store, bench.clock, bench.settings)
    waiting = await bench.proposed()
    assert waiting.state is ProposalState.PROPOSED
    assert waiting.id is not None
    result = await _service(bench)(_cmd(CommandKind.REJECT, {"proposal_id": waiting.id}))
    assert result == {"proposal_id": waiting.id, "state": "rejected"}
    said = next(e for e in bench.store.events.recent(50) if e.kind == "proposal.rejected")
    assert (said.data["actor"], said.data["reason"]) == ("test", "rejected by operator")
    with pytest.raises(CommandRejected, match="no proposal #9999"):
        await _service(bench)(_cmd(CommandKind.APPROVE, {"proposal_id": 9999}))
    with pytest.raises(CommandRejected, match="proposal number"):
        await _service(bench)(_cmd(CommandKind.REJECT, {"proposal_id": "1"}))


async def test_a_position_that_came_without_a_stop_gets_the_phases_default_distance(bench: Bench) -> None:
    await bench.client.set_leverage(ETH, 10, "cross")
    await bench.client.place_order(OrderRequest(ETH, Side.SHORT, Decimal("0.5"), "outside-short-1"))
    report = await bench.run(bench.monitor.tick())
    pos = bench.store.positions.open_for(ETH, Side.SHORT)
    assert pos is not None
    assert pos.adopted
    assert report.stops_placed == [pos.id]
    pct = competition_status(bench.settings, bench.clock.now(), Decimal(1000)).default_sl_pct
    wanted = pos.entry_price * (1 + pct / 100)  # above a short's entry, by the phase's distance
    stop = round_stop(wanted, Decimal("0.01"), Side.SHORT)
    assert wanted - Decimal("0.01") < stop <= wanted  # on the tick, toward the entry
    assert [a.trigger_price for a in await bench.client.open_algo_orders(ETH) if a.kind == "sl"] == [stop]


async def test_a_position_held_past_max_hold_is_force_closed_by_the_monitor(bench: Bench) -> None:
    pid, _, _ = await open_long(bench)
    max_hold = competition_status(bench.settings, bench.clock.now(), Decimal(1000)).max_hold
    await bench.clock.advance(max_hold.total_seconds() - 60)
    early = await bench.run(bench.monitor.tick())
    assert early.forced == []
    assert bench.store.positions.get(pid).state is PositionState.OPEN
    await bench.clock.advance(120)
    report = await bench.run(bench.monitor.tick())
    assert report.forced == [pid]
    pos = bench.store.positions.get(pid)
    assert pos is not None
    assert pos.state is PositionState.CLOSED
    assert pos.close_reason is CloseReason.FORCED
    closed = next(e for e in bench.store.events.recent(100) if e.kind == "position.closed")
    assert (closed.position_id, closed.data["actor"]) == (pid, "monitor")


async def test_the_operators_approve_opens_the_position_or_says_why_not(bench: Bench) -> None:
    bench.settings = Settings.model_validate({**SETTINGS, "engine": {"approval": "manual"}})
    bench.book = ProposalBook(bench.store, bench.clock, bench.settings)
    bench.store.engine.put(EngineStatus(mode=bench.settings.engine.mode, state=EngineState.RUNNING))
    run = _service(bench)

    async def approve(pid: int | None) -> Any:
        return await bench.run(run(_cmd(CommandKind.APPROVE, {"proposal_id": pid})))

    drifted = await bench.proposed()
    bench.fake.set_price(ETH, Decimal("3300"))  # 10 % away from the proposal's price
    with pytest.raises(CommandRejected, match=rf"#{drifted.id} was not approved: denied \(price_drift\)"):
        await approve(drifted.id)
    bench.fake.set_price(ETH, Decimal("3000.00"))
    waiting = await bench.proposed()
    assert waiting.id is not None
    bench.fake.faults.paths = {"/capi/v3/account/balance"}
    bench.fake.faults.next_5xx = 10
    with pytest.raises(CommandRejected, match=f"cannot approve #{waiting.id} now: the exchange could not"):
        await approve(waiting.id)
    bench.fake.faults.next_5xx = 0
    result = await approve(waiting.id)
    pos = bench.store.positions.open_for(ETH, Side.LONG)
    assert pos is not None
    assert pos.proposal_id == waiting.id
    assert result == {
        "proposal_id": waiting.id,
        "outcome": "open",
        "position_id": pos.id,
        "detail": "open with TP/SL resting",
    }
    approved = bench.store.proposals.get(waiting.id)
    assert approved is not None
    assert approved.decided_by == "test"
    again = await bench.proposed()  # the same pair and side again: a duplicate of the open position
    assert again.state is ProposalState.DENIED
    with pytest.raises(CommandRejected, match=rf"proposal #{again.id}: denied -> approved is not allowed"):
        await approve(again.id)
    with pytest.raises(CommandRejected, match="open"):
        await approve(waiting.id)


async def test_a_missing_stop_whose_precision_is_unreadable_is_tried_and_raised_loudly(
    bench: Bench,
) -> None:
    await bench.client.set_leverage(ETH, 10, "cross")
    await bench.client.place_order(OrderRequest(ETH, Side.SHORT, Decimal("0.5"), "outside-short-2"))
    with bench.store.contracts.lock:  # a database that never learnt the precision, a fresh client
        bench.store.contracts.db.execute("DELETE FROM contracts")
    await bench.client.aclose()
    bench.restart()
    bench.fake.faults.paths = {"/capi/v3/market/exchangeInfo"}
    bench.fake.faults.rate_5xx = 1.0
    report = await bench.run(bench.monitor.tick())  # the tick goes on: nothing raised
    assert report.ok
    assert report.stops_placed == []
    assert bench.store.contracts.load(ETH) is None, "the precision was never read"
    # The client checks every order against the precision, so neither a stop nor the close can go out;
    # the operator is told at CRITICAL, and the next tick tries again.
    assert bench.posts("/capi/v3/placeTpSlOrder") == 0
    failed = [e for e in bench.store.events.recent(50) if e.kind == "position.close_failed"]
    assert failed
    assert failed[0].level.value == "critical"
    assert "unprotected" in failed[0].message


async def test_close_all_goes_past_a_position_already_closing(bench: Bench) -> None:
    long_id, _, _ = await open_long(bench)
    await bench.clock.advance(1)
    await bench.client.place_order(OrderRequest(ETH, Side.SHORT, Decimal("0.5"), "outside-short-3"))
    await bench.run(bench.monitor.tick())  # adopts the short, opened after the long
    short = bench.store.positions.open_for(ETH, Side.SHORT)
    assert short is not None
    assert short.id is not None
    move_position(bench.store, long_id, PositionState.CLOSING, actor="test", message="closing", at=T0)
    result = await bench.run(_service(bench)(_cmd(CommandKind.CLOSE_ALL)))
    assert result == {"closed": [short.id]}
    # Through bench.run like every call above: the client waits (its weight limiter) on the simulated
    # clock, which only the test advances; outside it this read depended on how much time had crept.
    held = await bench.run(bench.client.positions())
    assert [p.side for p in held if p.size > 0] == [Side.LONG]
