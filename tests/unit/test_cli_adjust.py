"""`smt move-stop`, `smt move-tp`, `smt close --size/--fraction`, `smt cooldowns [clear SYMBOL]` and the
cooldowns in `smt status`: checked before anything is queued, queued for the engine otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.domain import CloseReason, CommandKind, PositionState, Side
from smt_engine.exitcodes import ExitCode
from smt_engine.store import EngineLock, Store
from smt_engine.store.records import Position


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "smt.db"
    now = datetime.now(UTC)  # the CLI reads the wall clock: the stop-loss is an hour old
    store = Store.open(db)
    base = {"entry_price": Decimal(3000), "leverage": 10, "size": Decimal("0.1")}
    store.positions.insert(
        Position(
            symbol="ETHUSDT",
            side=Side.LONG,
            opened_at=now,
            state=PositionState.OPEN,
            updated_at=now,
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
            updated_at=now,
            close_reason=CloseReason.STOP_LOSS,
            closed_at=now - timedelta(hours=1),
            **base,  # type: ignore[arg-type]
        )
    )
    store.close()
    path = tmp_path / "config.toml"
    path.write_text(f'[engine]\ndatabase = "{db}"\n', encoding="utf-8")
    return path


def queued(config: Path) -> list[tuple[CommandKind, dict[str, str]]]:
    store = Store.open(config.parent / "smt.db")
    try:
        return [(c.kind, c.args) for c in store.commands.recent()]
    finally:
        store.close()


def test_a_stop_past_the_limit_is_refused_before_anything_is_queued(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["move-stop", "ETH", "long", "2700", "--config", str(config)]) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert "refused, nothing was sent: max_stop_distance:" in err
    assert "analyst.max_sl_pct" in err
    assert queued(config) == []


def test_a_move_and_a_partial_close_are_queued_for_the_running_engine(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = EngineLock(config.parent / "smt.db")
    lock.acquire()
    try:
        args = ["--config", str(config), "--timeout", "0"]
        assert main(["move-stop", "ETHUSDT", "LONG", "2980", *args]) == ExitCode.NO_RESULT
        assert main(["move-tp", "ETH", "LONG", "3150", *args]) == ExitCode.NO_RESULT
        assert main(["close", "ETH", "LONG", "--fraction", "0.5", *args]) == ExitCode.NO_RESULT
        assert main(["close", "ETH", "LONG", "--fraction", "1.5", *args]) == ExitCode.FAILED
        assert "must be below 1" in capsys.readouterr().err
    finally:
        lock.release()
    assert queued(config)[::-1] == [
        (CommandKind.MOVE_PROTECTION, {"symbol": "ETHUSDT", "side": "LONG", "sl_price": "2980"}),
        (CommandKind.MOVE_PROTECTION, {"symbol": "ETHUSDT", "side": "LONG", "tp_price": "3150"}),
        (CommandKind.CLOSE, {"symbol": "ETHUSDT", "side": "LONG", "fraction": "0.5"}),
    ]


def test_cooldowns_are_listed_in_status_and_by_name_and_only_an_active_one_can_be_cleared(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cooldowns", "--json", "--config", str(config)]) == ExitCode.OK
    [row] = json.loads(capsys.readouterr().out)
    assert row["symbol"] == "SOLUSDT"
    assert "stop-loss at" in row["why"]
    assert main(["status", "--json", "--config", str(config)]) == ExitCode.NOT_RUNNING
    assert json.loads(capsys.readouterr().out)["cooldowns"] == [row]
    assert main(["status", "--config", str(config)]) == ExitCode.NOT_RUNNING
    assert "cooldown    SOLUSDT no entry until" in capsys.readouterr().out
    assert main(["cooldowns", "clear", "BTC", "--config", str(config)]) == ExitCode.FAILED
    assert "BTCUSDT has no active stop-loss cooldown (active: SOLUSDT)" in capsys.readouterr().err
    assert queued(config) == []


def test_the_verbs_help_states_the_rules(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["move-stop", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "it is loosened only up to analyst.max_sl_pct from the entry" in out
    assert "places the new order before it cancels the old one" in out
    with pytest.raises(SystemExit):
        main(["close", "--help"])
    assert "the rest stays open, TP/SL resized" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("flag", ["--size", "--fraction"])
def test_an_empty_part_is_refused_never_taken_for_a_full_close(
    config: Path, flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--size "$SIZE"` with SIZE unset closes nothing (a full close takes no --size at all)."""
    lock = EngineLock(config.parent / "smt.db")
    lock.acquire()
    try:
        args = ["--config", str(config), "--timeout", "0"]
        assert main(["close", "ETH", "LONG", flag, "", *args]) == ExitCode.FAILED
        assert "refused, nothing was sent: args." in capsys.readouterr().err
        assert main(["close", "--all", flag, "", *args]) == ExitCode.FAILED
    finally:
        lock.release()
    assert queued(config) == []
