"""CLI commands that write what a running engine owns refuse while an engine holds the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from smt_engine.cli import main as cli
from smt_engine.cli import trading as trading_cmd
from smt_engine.exitcodes import ExitCode
from smt_engine.store import EngineLock, Store
from tests.unit.trading.conftest import CONTRACTS, PRICES
from tests.unit.trading.scripted import ScriptedExchange


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[engine]\nmode = "demo"\ndatabase = "{tmp_path / "smt.db"}"\napproval = "manual"\n')
    monkeypatch.delenv("SMT_CONFIG", raising=False)
    return path


@pytest.mark.parametrize(
    ("argv", "owned"),
    [
        (
            ["propose", "--pair", "ETH", "--side", "LONG", "--confidence", "0.8"],
            "the proposals and the paper",
        ),
        (["whales", "scan", "--once"], "the whale tables"),
    ],
)
def test_refused_while_an_engine_runs_and_nothing_is_written(
    argv: list[str],
    owned: str,
    config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    venue_opened: list[bool] = []
    monkeypatch.setattr(trading_cmd, "open_exchange", lambda *a: venue_opened.append(True))
    Store.open(tmp_path / "smt.db").close()
    with EngineLock(tmp_path / "smt.db"):  # what a running engine holds
        assert cli.main([*argv, "--config", str(config)]) == ExitCode.ALREADY_RUNNING
    err = capsys.readouterr().err
    assert "already running" in err
    assert owned in err
    assert not venue_opened
    store = Store.open(tmp_path / "smt.db", readonly=True)
    assert store.proposals.count() == 0
    assert store.cycles.count() == 0
    assert store.whales.count() == 0
    store.close()
    assert not list(tmp_path.glob("*.paper-account.json"))


def test_propose_holds_the_lock_while_it_writes(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    held: list[bool] = []
    venue = ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS))

    def open_exchange(*args: object) -> ScriptedExchange:
        held.append(EngineLock(tmp_path / "smt.db").is_held_elsewhere())
        return venue

    monkeypatch.setattr(trading_cmd, "open_exchange", open_exchange)
    argv = ["propose", "--pair", "ETH", "--side", "LONG", "--confidence", "0.8", "--config", str(config)]
    assert cli.main(argv) == ExitCode.OK
    assert held == [True], "an engine starting meanwhile would be refused"
    assert not EngineLock(tmp_path / "smt.db").is_held_elsewhere()
    assert "smt approve 1" in capsys.readouterr().out
