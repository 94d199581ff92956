"""Safety claims whose only tests could not fail (issue 21): each test here fails when its claim breaks.

- The monitor closes at market a position whose missing stop cannot be placed again (README, "No
  unprotected position": "a missing one is re-placed ... and if that fails the position is closed at
  market"); the entry path had the only test.
- The engine carries out the operator's REJECT: the proposal is rejected and the command done; a
  proposal that cannot be rejected fails the command with the reason.
"""

from __future__ import annotations

from typing import Any

from smt_engine.domain import CloseReason, CommandKind, CommandState, PositionState, ProposalState, Side
from smt_engine.exchange.base import OrderStatus
from tests.integration.rig import Rig, long_eth
from tests.integration.venue_bench import ETH, Bench, bench, open_long

__all__ = ["bench"]  # the fixture, imported


async def test_the_monitor_closes_at_market_a_position_whose_stop_cannot_be_placed_again(
    bench: Bench,
) -> None:
    pid, _, sl_id = await open_long(bench)
    await bench.client.cancel_algo_order(ETH, sl_id)  # the stop went missing at the venue
    bench.fake.faults.paths = {"/capi/v3/placeTpSlOrder"}
    bench.fake.faults.next_5xx = 20  # and cannot be placed again
    report = await bench.run(bench.monitor.tick())
    assert report.ok and report.stops_placed == []
    assert bench.posts("/capi/v3/placeTpSlOrder") >= 1, "a new stop was tried first"
    assert not [p for p in await bench.client.positions() if p.size > 0], "closed at the venue"
    pos = bench.store.positions.get(pid)
    assert pos is not None and pos.state is PositionState.CLOSED
    assert pos.close_reason is CloseReason.UNPROTECTED
    assert bench.venue_status(pos.close_order_id or "") is OrderStatus.FILLED
    events = [
        e for e in bench.store.events.recent(100) if e.position_id == pid and e.kind == "position.closed"
    ]
    assert events and events[0].level.value == "critical"


async def test_the_stop_guard_does_not_close_a_position_whose_stop_is_placed_again(bench: Bench) -> None:
    pid, _, sl_id = await open_long(bench)
    await bench.client.cancel_algo_order(ETH, sl_id)
    report = await bench.run(bench.monitor.tick())
    assert report.stops_placed == [pid]
    pos = bench.store.positions.get(pid)
    assert pos is not None and pos.state is PositionState.OPEN
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
    assert rejected is not None and rejected.state is ProposalState.REJECTED
    assert rig.fake.counts["POST /capi/v3/order"] == 0, "nothing was sent for it"
    again = await _command(rig, CommandKind.REJECT, {"proposal_id": proposal.id})
    assert again.state is CommandState.FAILED and "rejected" in again.error
    missing = await _command(rig, CommandKind.REJECT, {"proposal_id": 9999})
    assert missing.state is CommandState.FAILED and "9999" in missing.error
