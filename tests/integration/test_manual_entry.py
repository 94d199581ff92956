"""Manual entry end to end: a running engine (real WEEX client) against the fake WEEX, in paper and live.

An entry is gated, recorded as an ``operator`` proposal approved by the operator, and executed with TP
and SL resting; one past a limit is refused with the gate's reason and sends no order; bad arguments
are refused when the engine runs the command.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from smt_engine.domain import CommandKind, CommandState, OrderKind, ProposalState
from smt_engine.store.records import Command
from tests.fakes.gemini_server import text_reply
from tests.integration.rig import Rig

ORDER = "/capi/v3/order"
WAIT = '{"decision": "WAIT", "confidence": 0.2, "reasoning": "quiet"}'


async def started(rig: Rig, mode: str, **risk: Any) -> None:
    """An engine in ``mode`` whose first cycle (a WAIT) is over: nothing but the operator trades."""
    rig.gemini.push(text_reply(WAIT))
    await rig.start(settings=rig.settings("manual", engine={"mode": mode}, risk=dict(risk)))
    await rig.until(
        lambda: rig.store.cycles.count() == 1 and rig.store.cycles.latest().status != "running", 60
    )


async def run(rig: Rig, args: dict[str, Any], actor: str = "cli:alice") -> Command:
    cmd = rig.store.commands.enqueue(CommandKind.ENTER, rig.clock.now(), actor, args)
    assert cmd.id is not None
    await rig.until(
        lambda: (
            (c := rig.store.commands.get(cmd.id)) is not None
            and c.state in (CommandState.DONE, CommandState.FAILED)
        ),
        120,
    )
    done = rig.store.commands.get(cmd.id)
    assert done is not None
    return done


def orders_sent(rig: Rig) -> int:
    return sum(1 for method, path, _ in rig.fake.requests if method == "POST" and path.startswith(ORDER))


def resting(rig: Rig) -> set[OrderKind]:
    return {o.kind for o in rig.store.orders.select() if o.kind in (OrderKind.TP, OrderKind.SL)}


@pytest.mark.parametrize("mode", ["paper", "live"])
async def test_an_entry_opens_with_tp_and_sl_resting_as_the_operators_proposal(rig: Rig, mode: str) -> None:
    await started(rig, mode)
    done = await run(rig, {"pair": "ETH", "side": "LONG", "margin": "50", "tp_pct": "3", "sl_pct": "1.5"})
    assert done.state is CommandState.DONE, done.error
    assert done.result["outcome"] == "open"
    assert done.result["position_id"]
    proposal = rig.store.proposals.get(done.result["proposal_id"])
    assert proposal is not None
    assert proposal.state is ProposalState.OPEN
    assert proposal.source == "operator"
    assert proposal.decided_by == "cli:alice"
    assert proposal.margin <= Decimal(50)
    assert proposal.leverage == 20
    assert proposal.tp_pct == Decimal(3)
    assert proposal.sl_pct == Decimal("1.5")
    assert resting(rig) == {OrderKind.TP, OrderKind.SL}
    (position,) = rig.store.positions.open_positions()
    assert position.proposal_id == proposal.id
    assert position.size == proposal.size
    # The same audit trail as an approval: proposed, approved by the operator, submitting, open.
    moves = [
        e.kind
        for e in rig.store.events.select()
        if e.proposal_id == proposal.id and e.kind.startswith("proposal.")
    ]
    assert moves == ["proposal.proposed", "proposal.approved", "proposal.submitting", "proposal.open"]
    approved = next(e for e in rig.store.events.of_kind("proposal.approved") if e.proposal_id == proposal.id)
    assert approved.data["actor"] == "cli:alice"
    edge = [g for g in proposal.gates if g["gate"] == "no_proven_edge"]
    if mode == "live":  # not gated, and said so: in the gates and in an event naming the operator
        assert edge == [
            {
                "gate": "no_proven_edge",
                "passed": True,
                "halt": False,
                "detail": "not applied: an operator's own entry is not a signal source",
            }
        ]
        (event,) = rig.store.events.of_kind("risk.edge_not_applied")
        assert "cli:alice" in event.message
        assert event.proposal_id == proposal.id
    else:
        assert edge == []
        assert not rig.store.events.of_kind("risk.edge_not_applied")


@pytest.mark.parametrize("mode", ["paper", "live"])
async def test_an_entry_above_the_single_position_limit_is_refused_with_the_gates_reason(
    rig: Rig, mode: str
) -> None:
    await started(rig, mode)
    before = orders_sent(rig)
    done = await run(rig, {"pair": "ETH", "side": "SHORT", "margin": "400"})  # cap: 25 % of 1000
    assert done.state is CommandState.FAILED
    assert "max_single_position" in done.error
    assert "cap 250" in done.error
    (proposal,) = rig.store.proposals.select()
    assert proposal.state is ProposalState.DENIED
    assert proposal.reason_codes == ["max_single_position"]
    assert proposal.source == "operator"
    assert proposal.decided_by == "risk"
    assert orders_sent(rig) == before
    assert not rig.store.orders.select()


async def test_an_entry_past_max_open_positions_is_refused_and_sends_nothing(rig: Rig) -> None:
    await started(rig, "paper", max_open_positions=1)
    first = await run(rig, {"pair": "ETH", "side": "LONG", "size": "0.05"})
    assert first.state is CommandState.DONE, first.error
    opened = rig.store.proposals.get(first.result["proposal_id"])
    assert opened is not None
    assert (opened.tp_pct, opened.sl_pct) == (Decimal(5), Decimal("2.5"))
    before = orders_sent(rig)
    second = await run(rig, {"pair": "ETH", "side": "SHORT", "size": "0.05"})
    assert second.state is CommandState.FAILED
    assert "max_open_positions: 1 open, limit 1" in second.error
    assert orders_sent(rig) == before


async def test_a_requested_size_is_floored_to_the_step_never_raised(rig: Rig) -> None:
    await started(rig, "paper")
    contract = rig.fake.venue.table["ETHUSDT"]
    asked = contract.step_size * 7 + contract.step_size / 2
    done = await run(rig, {"pair": "ETH", "side": "LONG", "size": str(asked)})
    assert done.state is CommandState.DONE, done.error
    proposal = rig.store.proposals.get(done.result["proposal_id"])
    assert proposal is not None
    assert proposal.size == contract.step_size * 7


async def test_a_size_below_the_step_is_refused_never_raised_to_the_minimum(rig: Rig) -> None:
    await started(rig, "paper")
    before = orders_sent(rig)
    done = await run(rig, {"pair": "ETH", "side": "LONG", "size": "0.0004"})  # step 0.001
    assert done.state is CommandState.FAILED
    assert "min_order_size: size 0 (step 0.001" in done.error
    assert orders_sent(rig) == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"pair": "ETH", "side": "UP", "margin": "50"}, "side: 'UP' is not a side; give LONG or SHORT"),
        ({"pair": "DOGE", "side": "LONG", "margin": "50"}, "pair: DOGE is not a configured pair"),
        ({"pair": "ETH", "side": "LONG"}, "margin/size: give exactly one"),
        ({"pair": "ETH", "side": "LONG", "margin": "-5"}, "margin: '-5' must be a positive number"),
        ({"pair": "ETH", "side": "LONG", "size": "1e999999"}, "size: '1e999999' is too large"),
        ({"pair": "ETH", "side": "LONG", "size": "0.1", "sl_pct": "80"}, "sl_pct: 80% is outside the limits"),
    ],
)
async def test_bad_arguments_are_refused_when_the_engine_runs_them(
    rig: Rig, args: dict[str, Any], words: str
) -> None:
    await started(rig, "paper")
    before = orders_sent(rig)
    done = await run(rig, args)
    assert done.state is CommandState.FAILED
    assert words in done.error
    assert not rig.store.proposals.select()
    assert orders_sent(rig) == before


async def test_an_entry_on_a_paused_engine_is_refused_by_the_engine_state_gate(rig: Rig) -> None:
    """`smt enter` queues while the engine runs, paused or not: the engine's own gate refuses it."""
    await started(rig, "paper")
    pause = rig.store.commands.enqueue(CommandKind.PAUSE, rig.clock.now(), "cli:alice", {})
    await rig.until(
        lambda: (c := rig.store.commands.get(pause.id or 0)) is not None and c.state is CommandState.DONE,
        60,
    )
    before = orders_sent(rig)
    done = await run(rig, {"pair": "ETH", "side": "LONG", "size": "0.05"})
    assert done.state is CommandState.FAILED
    assert "engine_state: engine is paused" in (done.error or "")
    assert orders_sent(rig) == before
    assert not rig.store.orders.select()
