"""The one policy of every verb that queues an operator command, through `smt` itself: refused with
nothing queued when no engine holds the database, queued for the engine's next start with `--queue`,
sent and waited for as before when an engine runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.cli.queued import QUEUE_HELP
from smt_engine.domain import CloseReason, CommandKind, CommandState, PositionState, Side
from smt_engine.exitcodes import ExitCode
from smt_engine.store import EngineLock, Store
from smt_engine.store.records import Position
from tests.unit.trading.test_cli_trading import patch_venue

VERBS: dict[str, tuple[list[str], CommandKind]] = {
    "approve": (["approve", "1"], CommandKind.APPROVE),
    "reject": (["reject", "1", "--reason", "late"], CommandKind.REJECT),
    "enter": (["enter", "ETH", "long", "--margin", "50"], CommandKind.ENTER),
    "close": (["close", "ETH", "LONG"], CommandKind.CLOSE),
    "close part": (["close", "ETH", "LONG", "--fraction", "0.5"], CommandKind.CLOSE),
    "close --all": (["close", "--all"], CommandKind.CLOSE_ALL),
    "move-stop": (["move-stop", "ETH", "LONG", "2980"], CommandKind.MOVE_PROTECTION),
    "move-tp": (["move-tp", "ETH", "LONG", "3150"], CommandKind.MOVE_PROTECTION),
    "cooldowns clear": (["cooldowns", "clear", "SOL"], CommandKind.CLEAR_COOLDOWN),
    "pause": (["pause"], CommandKind.PAUSE),
    "resume": (["resume"], CommandKind.RESUME),
    "cycle": (["cycle"], CommandKind.RUN_CYCLE),
    "cleanup": (["cleanup"], CommandKind.CLEANUP),
    "reload": (["reload"], CommandKind.RELOAD_CONFIG),
}
WAITS_WHEN_ASKED = {"approve", "reject", "enter"}
"""Verbs that return once the command is queued unless given --wait; every other one waits."""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """What each verb acts on: a waiting proposal (#1), an open ETHUSDT LONG, a SOLUSDT stop-loss cooldown."""
    db = tmp_path / "smt.db"
    path = tmp_path / "config.toml"
    path.write_text(f'[engine]\ndatabase = "{db}"\napproval = "manual"\n', encoding="utf-8")
    monkeypatch.delenv("SMT_CONFIG", raising=False)
    patch_venue(monkeypatch)
    assert (
        main(["propose", "--pair", "ETH", "--side", "LONG", "--confidence", "0.8", "--config", str(path)])
        == 0
    )
    now = datetime.now(UTC)  # the CLI reads the wall clock: the stop-loss is an hour old
    base = {"entry_price": Decimal(3000), "leverage": 10, "size": Decimal("0.1"), "updated_at": now}
    store = Store.open(db)
    store.positions.insert(
        Position(
            symbol="ETHUSDT",
            side=Side.LONG,
            opened_at=now,
            state=PositionState.OPEN,
            sl_price=Decimal(2955),
            tp_price=Decimal(3090),
            **base,  # type: ignore[arg-type]
        )
    )
    store.positions.insert(
        Position(
            symbol="SOLUSDT",
            side=Side.SHORT,
            opened_at=now - timedelta(hours=2),
            state=PositionState.CLOSED,
            close_reason=CloseReason.STOP_LOSS,
            closed_at=now - timedelta(hours=1),
            **base,  # type: ignore[arg-type]
        )
    )
    store.close()
    capsys.readouterr()
    return path


@pytest.fixture
def engine(config: Path) -> Iterator[None]:
    """The lock a running engine holds on the database."""
    lock = EngineLock(config.parent / "smt.db")
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def smt(config: Path, verb: str, *extra: str) -> int:
    return main([*VERBS[verb][0], *extra, "--config", str(config)])


def commands(config: Path) -> list[tuple[CommandKind, CommandState]]:
    store = Store.open(config.parent / "smt.db")
    try:
        return [(c.kind, c.state) for c in store.commands.recent()]
    finally:
        store.close()


def test_every_command_kind_has_a_verb_under_the_policy() -> None:
    assert {kind for _, kind in VERBS.values()} == set(CommandKind)


@pytest.mark.parametrize("verb", list(VERBS))
def test_without_an_engine_a_verb_refuses_and_queues_nothing(
    config: Path, verb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert smt(config, verb) == ExitCode.FAILED
    err = " ".join(capsys.readouterr().err.split())
    assert f"no engine is running on {config.parent / 'smt.db'}: nothing was queued" in err
    assert "give --queue to leave it for the engine's next start" in err
    assert commands(config) == []


@pytest.mark.parametrize("verb", list(VERBS))
def test_with_queue_a_verb_queues_for_the_engines_next_start(
    config: Path, verb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert smt(config, verb, "--queue") == ExitCode.OK
    out = capsys.readouterr().out
    assert "as command #1" in out
    assert "no engine is running: the engine handles it when it starts" in out
    assert commands(config) == [(VERBS[verb][1], CommandState.PENDING)]


@pytest.mark.parametrize("queue", [[], ["--queue"]], ids=["plain", "queue"])
@pytest.mark.parametrize("verb", list(VERBS))
def test_with_an_engine_a_verb_sends_and_waits_as_before(
    config: Path, engine: None, verb: str, queue: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    wait = ["--wait"] if verb in WAITS_WHEN_ASKED else []
    assert smt(config, verb, *queue, *wait, "--timeout", "0") == ExitCode.NO_RESULT
    out = capsys.readouterr().out
    assert "as command #1" in out
    assert "no outcome after 0 s: command #1 is still pending; the engine still handles it" in out
    assert commands(config) == [(VERBS[verb][1], CommandState.PENDING)]


@pytest.mark.parametrize("verb", sorted(WAITS_WHEN_ASKED))
def test_with_an_engine_a_verb_without_wait_returns_once_queued(
    config: Path, engine: None, verb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert smt(config, verb) == ExitCode.OK
    assert "the engine handles it within seconds" in capsys.readouterr().out
    assert commands(config) == [(VERBS[verb][1], CommandState.PENDING)]


@pytest.mark.parametrize("verb", sorted({argv[0] for argv, _ in VERBS.values()}))
def test_every_queuing_verb_offers_queue_in_the_same_words(
    verb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([verb, "--help"])
    assert QUEUE_HELP in " ".join(capsys.readouterr().out.split())
