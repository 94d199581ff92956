"""CLI parity with the console: `approve --wait` prints the outcome, `status` exits non-zero without an
engine, and a `--json` command prints JSON on errors too."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smt_engine.cli import context as cli_context
from smt_engine.commands.args import ApproveArgs
from smt_engine.commands.results import ApproveResult
from smt_engine.domain import PositionState, ProposalState, Side
from smt_engine.exitcodes import ExitCode
from smt_engine.store import Store
from smt_engine.store.records import Position
from tests.unit.trading.test_cli_trading import db, patch_venue, run

NOW = datetime(2026, 1, 20, 12, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[engine]\ndatabase = "{tmp_path / "smt.db"}"\napproval = "manual"\n')
    monkeypatch.delenv("SMT_CONFIG", raising=False)
    return path


def _engine_answers(store_path: Path, *, fail: str | None = None) -> threading.Thread:
    """A stand-in engine: claims the next command, reads it through the command contract and completes it
    with the approval's typed result (opening the position), or fails it. The real handler behind the CLI
    is driven in tests/integration/test_command_contract.py."""

    def work() -> None:
        store = Store.open(store_path)
        try:
            for _ in range(500):
                command = store.commands.claim_next(NOW)
                if command is None:
                    threading.Event().wait(0.02)
                    continue
                assert command.id is not None
                if fail:
                    store.commands.fail(command.id, NOW, fail)
                    return
                pid = ApproveArgs.parse(command.args).proposal_id
                store.proposals.update(pid, state=ProposalState.OPEN)
                position = store.positions.insert(
                    Position(
                        symbol="ETHUSDT",
                        side=Side.LONG,
                        size=Decimal("1.5"),
                        entry_price=Decimal(2000),
                        opened_at=NOW,
                        state=PositionState.OPEN,
                        leverage=20,
                        updated_at=NOW,
                        tp_price=Decimal(2100),
                        sl_price=Decimal(1950),
                        proposal_id=pid,
                    )
                )
                opened = ApproveResult(
                    proposal_id=pid, outcome="open", position_id=position.id, detail="opened"
                )
                store.commands.complete(command.id, NOW, opened.to_row())
                return
        finally:
            store.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def _proposed(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    patch_venue(monkeypatch)
    assert run(config, "propose", "--pair", "ETH", "--side", "LONG", "--confidence", "0.8") == 0
    monkeypatch.setattr(cli_context, "engine_running", lambda database: True)


def test_approve_wait_prints_the_opened_position(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    _proposed(config, monkeypatch)
    capsys.readouterr()
    engine = _engine_answers(config.parent / "smt.db")
    assert run(config, "approve", "1", "--wait", "--timeout", "60") == 0
    engine.join(timeout=60)
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        "done: opened, position #1",
        'result: {"proposal_id": 1, "outcome": "open", "position_id": 1, "detail": "opened"}',
        "opened ETHUSDT LONG 1.5 @ 2000, TP 2100 / SL 1950 (proposal #1, position #1)",
    ]


def test_approve_wait_reports_a_refusal_with_exit_1(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    _proposed(config, monkeypatch)
    capsys.readouterr()
    engine = _engine_answers(
        config.parent / "smt.db", fail="proposal #1 was not approved: denied (price_drift)"
    )
    assert run(config, "approve", "1", "--wait") == 1
    engine.join(timeout=60)
    assert "failed: proposal #1 was not approved: denied (price_drift)" in capsys.readouterr().out


def test_approve_wait_without_an_engine_queues_nothing(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    patch_venue(monkeypatch)
    run(config, "propose", "--pair", "ETH", "--side", "LONG", "--confidence", "0.8")
    assert run(config, "approve", "1", "--wait") == 1
    assert "no engine is running" in capsys.readouterr().err
    assert db(config).commands.pending() == []


def test_approve_wait_gives_up_after_its_timeout(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    _proposed(config, monkeypatch)
    assert run(config, "approve", "1", "--wait", "--timeout", "0") == ExitCode.NO_RESULT
    assert "no outcome after 0 s: command #1 is still pending" in capsys.readouterr().out


def test_status_exits_non_zero_without_an_engine_and_json_errors_are_json(config: Path, capsys: Any) -> None:
    assert run(config, "status", "--json") == ExitCode.NOT_RUNNING  # no database yet: still JSON
    out = json.loads(capsys.readouterr().out)
    assert out["state"] == "not running"
    assert "no database yet" in out["detail"]
    Store.open(config.parent / "smt.db").close()
    assert run(config, "status", "--json") == ExitCode.NOT_RUNNING
    assert json.loads(capsys.readouterr().out)["running"] is False
    assert run(config, "status") == ExitCode.NOT_RUNNING
