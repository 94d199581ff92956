"""The command contract at rest: rows as older engines and clients wrote them still read into the typed
arguments and results; a row that does not fit is reported with the reason, never guessed at or crashed
on; the one client refuses to queue when no engine runs unless asked to (docs/operator-guide.md)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, get_type_hints

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.commands import args as a
from smt_engine.commands import results as r
from smt_engine.commands.client import CommandClient, read_outcome
from smt_engine.commands.contract import CONTRACT, ResultMismatch, parse_args, parse_result
from smt_engine.commands.errors import CommandRejected, NoEngine
from smt_engine.commands.service import CommandService, Handler
from smt_engine.domain import CommandKind, CommandState, EngineState, PositionState, ProposalState, Side
from smt_engine.store import Store
from smt_engine.store.records import Command
from tests.unit.trading.test_mutants_operator import desk

NOW = datetime(2026, 1, 20, 12, tzinfo=UTC)

# Rows exactly as the engine and its clients wrote them before the contract was typed.
OLD_ARGS: dict[CommandKind, dict[str, Any]] = {
    CommandKind.APPROVE: {"proposal_id": 4},
    CommandKind.REJECT: {"proposal_id": 4, "reason": "not today"},
    CommandKind.CLOSE: {"symbol": "ETHUSDT", "side": "LONG", "fraction": "0.5"},
    CommandKind.CLOSE_ALL: {},
    CommandKind.CLEANUP: {},
    CommandKind.PAUSE: {},
    CommandKind.RESUME: {},
    CommandKind.RUN_CYCLE: {},
    CommandKind.RELOAD_CONFIG: {},
    CommandKind.MOVE_PROTECTION: {"symbol": "ETHUSDT", "side": "SHORT", "tp_price": "2800.5"},
    CommandKind.CLEAR_COOLDOWN: {"symbol": "SOLUSDT"},
    CommandKind.ENTER: {"pair": "ETH", "side": "LONG", "margin": "25", "sl_pct": "1.5"},
}
OLD_RESULTS: dict[CommandKind, dict[str, Any]] = {
    CommandKind.APPROVE: {
        "proposal_id": 4,
        "outcome": "open",
        "position_id": 9,
        "detail": "open, TP/SL set",
    },
    CommandKind.REJECT: {"proposal_id": 4, "state": "rejected"},
    CommandKind.CLOSE: {
        "message": "ETHUSDT LONG: closed 0.5 at 3010, 0.5 stays open",
        "position_id": 9,
        "closed_size": "0.5",
        "remaining_size": "0.5",
        "realized_pnl": None,
        "part_position_id": 10,
        "legs_resized": ["sl", "tp"],
    },
    CommandKind.CLOSE_ALL: {"closed": [9, 11]},
    CommandKind.CLEANUP: {"cancelled": ["a1", "a2", "a3"]},
    CommandKind.PAUSE: {"state": "paused", "note": "already paused"},
    CommandKind.RESUME: {"state": "running", "was": "halted", "cleared": "halted: daily loss"},
    CommandKind.RUN_CYCLE: {"queued": True},
    CommandKind.RELOAD_CONFIG: {"changed": ["risk"], "applied": {"risk": "in effect"}, "needs_restart": []},
    CommandKind.MOVE_PROTECTION: {
        "message": "ETHUSDT SHORT take-profit now 2800.5",
        "position_id": 9,
        "leg": "tp",
        "price": "2800.5",
        "order_id": "77",
    },
    CommandKind.CLEAR_COOLDOWN: {"message": "SOLUSDT cooldown (until ...) cleared", "symbol": "SOLUSDT"},
    CommandKind.ENTER: {"proposal_id": 5, "outcome": "open", "position_id": 12, "detail": "open"},
}


def test_every_kind_has_old_rows_to_read() -> None:
    assert set(OLD_ARGS) == set(OLD_RESULTS) == set(CommandKind) == set(CONTRACT)


@pytest.mark.parametrize("kind", list(CommandKind))
def test_old_rows_read_into_the_kinds_types_and_write_back_the_same(kind: CommandKind) -> None:
    args = parse_args(kind, OLD_ARGS[kind])
    assert type(args) is CONTRACT[kind].args
    assert args.kind is kind
    assert args.to_row() == OLD_ARGS[kind]
    result = parse_result(kind, OLD_RESULTS[kind])
    assert type(result) is CONTRACT[kind].result
    assert result.to_row() == {k: v for k, v in OLD_RESULTS[kind].items() if v is not None}


def test_typed_values_are_values_not_text() -> None:
    close = parse_args(CommandKind.CLOSE, OLD_ARGS[CommandKind.CLOSE])
    assert isinstance(close, a.CloseArgs)
    assert close.partial
    assert close.fraction == Decimal("0.5")
    assert close.side is Side.LONG
    resume = parse_result(CommandKind.RESUME, OLD_RESULTS[CommandKind.RESUME])
    assert isinstance(resume, r.ResumeResult)
    assert resume.was is EngineState.HALTED
    reject = parse_result(CommandKind.REJECT, OLD_RESULTS[CommandKind.REJECT])
    assert isinstance(reject, r.RejectResult)
    assert reject.state is ProposalState.REJECTED
    closed = r.CloseResult(position_id=3, state=PositionState.CLOSED, close_order_id="c9")
    assert closed.to_row() == {"position_id": 3, "state": "closed", "close_order_id": "c9"}


def test_what_the_operator_reads_for_each_answer() -> None:
    said = {kind: parse_result(kind, OLD_RESULTS[kind]).says() for kind in CommandKind}
    assert said == {
        CommandKind.APPROVE: "open, TP/SL set, position #9",
        CommandKind.REJECT: "rejected",
        CommandKind.CLOSE: "ETHUSDT LONG: closed 0.5 at 3010, 0.5 stays open",
        CommandKind.CLOSE_ALL: "2 positions closed",
        CommandKind.CLEANUP: "3 orphan orders cancelled",
        CommandKind.PAUSE: "paused",
        CommandKind.RESUME: "running",
        CommandKind.RUN_CYCLE: "",
        CommandKind.RELOAD_CONFIG: "",
        CommandKind.MOVE_PROTECTION: "ETHUSDT SHORT take-profit now 2800.5",
        CommandKind.CLEAR_COOLDOWN: "SOLUSDT cooldown (until ...) cleared",
        CommandKind.ENTER: "open, position #12",
    }
    assert r.CleanupResult(cancelled=["x"]).says() == "1 orphan order cancelled"
    assert r.CloseAllResult(closed=[]).says() == "0 positions closed"


@pytest.mark.parametrize(
    ("kind", "raw", "reason"),
    [
        (CommandKind.APPROVE, {"proposal_id": "4"}, "args.proposal_id must be a proposal number"),
        (CommandKind.CLOSE, {"symbol": "ETH", "side": "UP"}, "args.side must be LONG or SHORT"),
        (CommandKind.CLOSE, {"side": "LONG"}, "args.symbol is required, e.g. ETHUSDT"),
        (CommandKind.CLOSE, {"symbol": "ETH", "side": "LONG", "size": "1", "fraction": "0.5"}, "not both"),
        (CommandKind.MOVE_PROTECTION, {"symbol": "ETH", "side": "LONG"}, "exactly one of args.sl_price"),
        (CommandKind.ENTER, {"pair": "ETH", "side": "LONG"}, "entry refused: margin/size: give exactly one"),
        (CommandKind.PAUSE, {"force": True}, "args.force is not an argument of pause"),
    ],
)
def test_arguments_that_do_not_fit_are_refused_with_the_reason(
    kind: CommandKind, raw: dict[str, Any], reason: str
) -> None:
    with pytest.raises(CommandRejected, match=reason.replace(".", r"\.").replace("(", r"\(")):
        parse_args(kind, raw)


def test_a_stored_result_that_does_not_fit_is_reported_never_raised() -> None:
    with pytest.raises(ResultMismatch, match="the engine's pause result does not fit"):
        parse_result(CommandKind.PAUSE, {"message": "entries paused"})
    row = Command(
        kind=CommandKind.PAUSE,
        actor="cli:alice",
        created_at=NOW,
        state=CommandState.DONE,
        result={"message": "entries paused"},
        id=3,
    )
    outcome = read_outcome(row)
    assert outcome is not None
    assert not outcome.done
    assert outcome.says().startswith("failed: the engine's pause result does not fit (state: Field required)")
    failed = Command(
        kind=CommandKind.CLEANUP, actor="x", created_at=NOW, state=CommandState.FAILED, error="no"
    )
    assert read_outcome(failed) == read_outcome(failed)
    assert read_outcome(failed).says() == "failed: no"
    pending = Command(kind=CommandKind.CLEANUP, actor="x", created_at=NOW)
    assert read_outcome(pending) is None


def test_the_client_queues_only_for_a_running_engine_unless_asked(store: Store) -> None:
    running = False
    client = CommandClient(store, lambda: running, lambda: NOW, "cli:alice")
    with pytest.raises(NoEngine, match="no engine is running; nothing was sent"):
        client.send(a.PauseArgs())
    assert store.commands.pending() == []
    queued = client.send(a.RejectArgs(proposal_id=4), queue_without_engine=True)
    running = True
    sent = client.send(a.CloseArgs(symbol="eth", side=Side.SHORT, size=Decimal("0.50")))
    assert [(c.kind, c.args, c.actor) for c in store.commands.pending()] == [
        (CommandKind.REJECT, {"proposal_id": 4}, "cli:alice"),
        (CommandKind.CLOSE, {"symbol": "ETHUSDT", "side": "SHORT", "size": "0.50"}, "cli:alice"),
    ]
    assert queued.id is not None
    assert sent.id is not None
    store.commands.complete(sent.id, NOW, {"position_id": 2, "state": "closed", "close_order_id": "c"})
    done = client.wait(sent.id, timeout=0)
    assert done is not None
    assert done.result == r.CloseResult(position_id=2, state=PositionState.CLOSED, close_order_id="c")
    assert client.wait(queued.id, timeout=0) is None
    assert client.state(queued.id) == "pending"


def misregistered(handlers: Mapping[CommandKind, Handler]) -> list[str]:
    """Each handler whose annotated arguments or result type is not its kind's (``CONTRACT``)."""
    wrong = []
    for kind, handler in handlers.items():
        hints = get_type_hints(handler)
        takes = hints[next(iter(inspect.signature(handler).parameters))]
        types = CONTRACT[kind]
        if (takes, hints["return"]) != (types.args, types.result):
            wrong.append(f"{kind.value}: {takes.__name__} -> {hints['return'].__name__}")
    return wrong


def service(store: Store) -> CommandService:
    return desk(store, SimulatedClock(NOW))[0].service


def test_every_kind_has_a_handler_typed_for_it(store: Store) -> None:
    handlers = service(store).handlers
    assert set(handlers) == set(CommandKind)
    assert misregistered(handlers) == []


def test_a_handler_registered_under_the_wrong_kind_is_found(store: Store) -> None:
    built = service(store)
    built.handlers = {**built.handlers, CommandKind.APPROVE: built.trading.reject}
    assert misregistered(built.handlers) == ["approve: RejectArgs -> RejectResult"]
