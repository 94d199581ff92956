"""Every command kind, from the console and from the CLI, to the engine's real handler and back
(docs/operator-guide.md, section 6 "Watch it"): the engine answers with the kind's typed result, the row
reads back into that type, and the operator sees what the engine did (the console's toast, the CLI's
lines).

Each scenario sets up what its command acts on (a waiting proposal, an open position, an orphan, a
cooldown...) on the fake WEEX over HTTP with the real client; nothing here is a stand-in for a handler.
In the console the operator's own keys send it (the console has no key for a reload: that one is sent
as its actions send every command).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.commands import args as a
from smt_engine.commands import results as r
from smt_engine.commands.contract import CONTRACT, parse_result
from smt_engine.config import Settings
from smt_engine.domain import CloseReason, CommandKind, CommandState, EngineState, PositionState, Side
from smt_engine.store.records import Position
from smt_engine.trading.proposals import ProposalBook
from smt_tui.screens.confirm import ConfirmModal
from smt_tui.screens.entry_form import EntryForm
from smt_tui.screens.value_input import ValueInputModal
from smt_tui.state import Snapshot
from tests.integration.command_stage import Stage, Step, Wait, engine_lock
from tests.integration.venue_bench import ETH, SETTINGS, Bench, bench, open_long

__all__ = ["bench"]  # the fixture, imported


@dataclass
class Scenario:
    """One command as both front ends send it, and what the operator must see for the engine's answer."""

    args: a.CommandArgs
    label: str
    argv: list[str]
    toast: Callable[[r.CommandResult], str]
    """The engine's answer in words: the console's toast after the label, the CLI's first line after it
    queued the command."""
    prints: Callable[[r.CommandResult], list[str]] = field(default=lambda result: [])
    """What the CLI prints besides those words and the full result."""
    keys: list[Step] | None = None
    """What the operator presses in the console; None: the console has no key for it (sent as its
    actions send)."""


async def _waiting(stage: Stage) -> int:
    """A proposal waiting for the operator (manual approval), with no expiry the CLI's wall clock passes."""
    b = stage.bench
    b.settings = Settings.model_validate({**SETTINGS, "engine": {"approval": "manual"}})
    b.book = ProposalBook(b.store, b.clock, b.settings)
    stage.rebuild()
    proposal = await b.proposed()
    assert proposal.id is not None
    b.store.proposals.update(proposal.id, expires_at=None)
    return proposal.id


async def approve(stage: Stage) -> Scenario:
    pid = await _waiting(stage)
    return Scenario(
        a.ApproveArgs(proposal_id=pid),
        f"approve proposal #{pid}",
        ["approve", str(pid), "--wait"],
        lambda res: f"done: {_opened(res).detail}, position #{_opened(res).position_id}",
        lambda res: ["opened ETHUSDT LONG", f"(proposal #{pid}, position #{_opened(res).position_id})"],
        ["2", _selected(f"proposal:{pid}"), "a"],
    )


async def reject(stage: Stage) -> Scenario:
    pid = await _waiting(stage)
    return Scenario(
        a.RejectArgs(proposal_id=pid),
        f"reject proposal #{pid}",
        ["reject", str(pid), "--wait"],
        lambda res: "done: rejected",
        keys=["2", _selected(f"proposal:{pid}"), "r"],
    )


async def close(stage: Stage) -> Scenario:
    pid, _, _ = await open_long(stage.bench)
    return Scenario(
        a.CloseArgs(symbol=ETH, side=Side.LONG),
        "close ETHUSDT LONG",
        ["close", "ETHUSDT", "LONG"],
        lambda res: f"done: closed, position #{pid}",
        keys=["1", _selected(f"position:{pid}"), "x", _asks(ConfirmModal), "y"],
    )


async def close_all(stage: Stage) -> Scenario:
    await open_long(stage.bench)
    return Scenario(
        a.CloseAllArgs(),
        "close all (1)",
        ["close", "--all"],
        lambda res: "done: 1 position closed",
        keys=[
            Wait(lambda app: app.snapshot and len(app.snapshot.open_positions) == 1),
            "X",
            _asks(ConfirmModal),
            "y",
        ],
    )


async def cleanup(stage: Stage) -> Scenario:
    b = stage.bench
    await open_long(b)
    await b.client.close_position(ETH, Side.LONG, "outside-close-1")  # leaves its TP and SL behind
    await b.run(b.monitor.tick(startup=True))  # the close is booked; a start-up tick only flags
    return Scenario(
        a.CleanupArgs(),
        "clean up (2 orphan(s) flagged)",
        ["cleanup"],
        lambda res: "done: 2 orphan orders cancelled",  # the TP and the SL the close left behind
        keys=[
            Wait(lambda app: app.snapshot and len(app.snapshot.orphans) == 2),
            "c",
            _asks(ConfirmModal),
            "y",
        ],
    )


async def pause(stage: Stage) -> Scenario:
    return Scenario(
        a.PauseArgs(), "pause entries", ["pause"], lambda res: "done: paused", keys=[_applies("pause"), "p"]
    )


async def resume(stage: Stage) -> Scenario:
    stage.engine.set_state(EngineState.PAUSED, reason="paused by test")
    return Scenario(
        a.ResumeArgs(),
        "resume entries",
        ["resume"],
        lambda res: "done: running",
        keys=[_applies("resume"), "p"],
    )


async def run_cycle(stage: Stage) -> Scenario:
    return Scenario(
        a.RunCycleArgs(), "run cycle now", ["cycle"], lambda res: "done", keys=[_applies("run_cycle"), "n"]
    )


async def reload_config(stage: Stage) -> Scenario:
    return Scenario(a.ReloadArgs(), "reload configuration", ["reload"], lambda res: "done")


async def move_protection(stage: Stage) -> Scenario:
    pid, _, _ = await open_long(stage.bench)
    return Scenario(
        a.MoveProtectionArgs(symbol=ETH, side=Side.LONG, sl_price=Decimal("2970")),
        "move ETHUSDT stop-loss to 2970",
        ["move-stop", "ETH", "LONG", "2970"],
        lambda res: "done: ETHUSDT LONG stop-loss now 2970",
        keys=[
            "1",
            _selected(f"position:{pid}"),
            "m",
            _asks(ValueInputModal),
            "ctrl+a",
            "ctrl+k",
            *"2970",
            "enter",
        ],
    )


async def clear_cooldown(stage: Stage) -> Scenario:
    # A stop-loss just now (on the wall clock the CLI checks, after the bench's clock): a cooldown for both.
    at = datetime.now(UTC).replace(microsecond=0)
    stage.bench.store.positions.insert(
        Position(
            symbol=ETH,
            side=Side.LONG,
            size=Decimal(1),
            entry_price=Decimal(3000),
            opened_at=at - timedelta(hours=1),
            state=PositionState.CLOSED,
            leverage=10,
            updated_at=at,
            closed_at=at,
            close_reason=CloseReason.STOP_LOSS,
        )
    )
    until = at + stage.bench.settings.risk.stop_loss_cooldown
    await stage.engine.limits.publish(
        EngineState.RUNNING
    )  # the console shows the cooldowns the engine enforces
    return Scenario(
        a.ClearCooldownArgs(symbol=ETH),
        "clear ETHUSDT cooldown",
        ["cooldowns", "clear", "ETH"],
        lambda res: f"done: ETHUSDT cooldown (until {until:%Y-%m-%d %H:%M} UTC) cleared",
        keys=[_applies("clear_cooldown"), "k", _asks(ValueInputModal), "enter"],  # the one cooling pair
    )


async def enter(stage: Stage) -> Scenario:
    request = a.EnterArgs(pair="ETH", side=Side.LONG, margin=Decimal(50))
    return Scenario(
        request,
        f"enter {request.request.describe()}",
        ["enter", "ETH", "long", "--margin", "50", "--wait"],
        lambda res: f"done: {_opened(res).detail}, position #{_opened(res).position_id}",
        lambda res: ["opened ETHUSDT LONG", f"(proposal #{_opened(res).proposal_id}, position #"],
        ["e", _asks(EntryForm), "5", "0", "enter"],  # ETH, LONG and margin are the form's first choices
    )


def _selected(key: str) -> Wait:
    return Wait(lambda app: app.selected_key() == key)


def _asks(screen: type[object]) -> Wait:
    return Wait(lambda app: isinstance(app.screen, screen))


def _shows(seen: Callable[[Snapshot], bool]) -> Wait:
    return Wait(lambda app: app.snapshot is not None and seen(app.snapshot))


def _applies(action: str) -> Wait:
    return Wait(lambda app: app.check_action(action, ()) is True)


def _opened(result: r.CommandResult) -> r.OpenedResult:
    assert isinstance(result, r.OpenedResult)
    return result


SCENARIOS: dict[CommandKind, Callable[[Stage], Awaitable[Scenario]]] = {
    CommandKind.APPROVE: approve,
    CommandKind.REJECT: reject,
    CommandKind.CLOSE: close,
    CommandKind.CLOSE_ALL: close_all,
    CommandKind.CLEANUP: cleanup,
    CommandKind.PAUSE: pause,
    CommandKind.RESUME: resume,
    CommandKind.RUN_CYCLE: run_cycle,
    CommandKind.RELOAD_CONFIG: reload_config,
    CommandKind.MOVE_PROTECTION: move_protection,
    CommandKind.CLEAR_COOLDOWN: clear_cooldown,
    CommandKind.ENTER: enter,
}


@pytest.fixture
async def stage(bench: Bench, tmp_path: Path) -> AsyncIterator[Stage]:
    on_stage = Stage(bench, tmp_path)
    with engine_lock(on_stage):
        yield on_stage


def test_every_command_kind_has_a_scenario_and_a_contract() -> None:
    assert set(SCENARIOS) == set(CommandKind) == set(CONTRACT)


@pytest.mark.parametrize("front", ["console", "cli"])
@pytest.mark.parametrize("kind", list(CommandKind))
async def test_every_command_kind_reaches_the_real_handler_and_the_operator_sees_its_result(
    stage: Stage, kind: CommandKind, front: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = await SCENARIOS[kind](stage)
    assert scenario.args.kind is kind
    async with stage.serving():
        if front == "cli":
            code, out = await stage.cli(scenario.argv, capsys)
        else:
            notes = await stage.console(scenario.keys, scenario.args, scenario.label)
    (row,) = [c for c in stage.bench.store.commands.recent() if c.kind is kind]
    assert row.state is CommandState.DONE, row.error
    assert row.args == scenario.args.to_row()  # what the front end queued is what the engine read
    result = parse_result(kind, row.result)
    assert type(result) is CONTRACT[kind].result
    assert result.to_row() == row.result  # the stored row is the typed result, nothing more or less
    if front == "cli":
        assert code == 0, out
        said = out.splitlines()[1:3]  # after "queued ... as command #N": the same words, then the result
        assert said == [scenario.toast(result), f"result: {json.dumps(result.to_row())}"], out
        for line in scenario.prints(result):
            assert line in out
    else:
        said = [m for m, _ in notes if m.startswith(f"{scenario.label}: done")]
        assert said == [f"{scenario.label}: {scenario.toast(result)}"], notes
