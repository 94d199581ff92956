"""`smt enter`: checked before anything is queued, queued for a running engine (or with --queue), the
outcome told."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from smt_engine.cli import context as cli_context
from smt_engine.cli import main as cli
from smt_engine.domain import CommandKind, CommandState
from smt_engine.exitcodes import ExitCode
from smt_engine.store import Store


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[engine]\ndatabase = "{tmp_path / "smt.db"}"\n')
    monkeypatch.delenv("SMT_CONFIG", raising=False)
    return path


def run(config: Path, *argv: str) -> int:
    return cli.main([*argv, "--config", str(config)])


def db(config: Path) -> Store:
    return Store.open(config.parent / "smt.db")


@pytest.fixture
def engine_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_context, "engine_running", lambda database: True)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["PEPE", "long", "--margin", "50"], "pair: PEPE is not a configured pair; choose one of ETH, BTC"),
        (["ETH", "long", "--margin", "50", "--sl-pct", "80"], "sl_pct: 80% is outside the limits"),
        (["ETH", "long", "--size", "0.1", "--tp-pct", "0.01"], "tp_pct: 0.01% is outside the limits"),
        (
            ["ETH", "long", "--margin", "1e999999"],
            "margin: '1E+999999' is too large; give the margin in USDT",
        ),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_queued(
    config: Path, engine_up: None, capsys: Any, argv: list[str], words: str
) -> None:
    assert run(config, "enter", *argv) == 1
    err = capsys.readouterr().err
    assert words in err
    assert "nothing was queued" in err
    assert db(config).commands.count() == 0


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["ETH", "long"], "one of the arguments --margin --size is required"),
        (["ETH", "long", "--margin", "5", "--size", "1"], "not allowed with argument"),
        (["ETH", "up", "--margin", "5"], "invalid choice: 'UP'"),
        (["ETH", "long", "--margin", "-5"], "'-5' must be a positive number"),
    ],
)
def test_the_parser_refuses_a_wrong_shape(config: Path, capsys: Any, argv: list[str], words: str) -> None:
    with pytest.raises(SystemExit) as stop:
        run(config, "enter", *argv)
    assert stop.value.code == 2
    assert words in capsys.readouterr().err


def test_nothing_is_queued_when_no_engine_runs(config: Path, capsys: Any) -> None:
    assert run(config, "enter", "ETH", "long", "--margin", "50") == 1
    assert "no engine is running" in capsys.readouterr().err
    assert db(config).commands.count() == 0


def test_an_entry_is_queued_with_its_arguments_as_text(config: Path, engine_up: None, capsys: Any) -> None:
    assert run(config, "enter", "eth", "short", "--size", "0.25", "--tp-pct", "3", "--sl-pct", "1.5") == 0
    assert "queued entry ETH SHORT size 0.25 as command #1" in capsys.readouterr().out
    (command,) = db(config).commands.pending()
    assert command.kind is CommandKind.ENTER
    assert command.actor.startswith("cli")
    assert command.args == {"pair": "ETH", "side": "SHORT", "size": "0.25", "tp_pct": "3", "sl_pct": "1.5"}


def answer(store: Store, fail: str) -> threading.Thread:
    """A stand-in engine: claims the entry and fails it, as the real one does when a gate refuses."""

    def work() -> None:
        from datetime import UTC, datetime

        for _ in range(500):
            command = store.commands.claim_next(datetime.now(UTC))
            if command is not None:
                assert command.id is not None
                store.commands.fail(command.id, datetime.now(UTC), fail)
                return
            threading.Event().wait(0.01)

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_wait_prints_the_gate_that_refused(config: Path, engine_up: None, capsys: Any) -> None:
    store = db(config)
    refusal = "entry refused (proposal #4): max_single_position: margin 400 USDT (notional 8000), cap 250"
    thread = answer(store, fail=refusal)
    code = run(config, "enter", "ETH", "long", "--margin", "400", "--wait", "--timeout", "30")
    thread.join()
    assert code == 1
    assert f"failed: {refusal}" in capsys.readouterr().out
    assert store.commands.recent()[0].state is CommandState.FAILED


def test_wait_says_when_no_outcome_came(config: Path, engine_up: None, capsys: Any) -> None:
    code = run(config, "enter", "ETH", "long", "--margin", "40", "--wait", "--timeout", "0")
    assert code == ExitCode.NO_RESULT
    assert "no outcome after 0 s: command #1 is still pending" in capsys.readouterr().out


def test_help_states_the_gates(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        cli.main(["enter", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "runs the risk gates on the margin or size you give" in text
    assert "--margin USDT" in text
    assert "--size N" in text
    assert "--wait" in text
    assert "Refused, with nothing queued, when no engine is running, unless you give --queue" in text
