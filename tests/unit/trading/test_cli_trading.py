"""`smt propose / approve / reject / proposals` with the venue replaced by the scripted double."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smt_engine.cli import context as cli_context
from smt_engine.cli import main as cli
from smt_engine.cli import trading as trading_cmd
from smt_engine.domain import CommandKind, ProposalState
from smt_engine.exchange.base import ExchangeUnavailable
from smt_engine.store import Store
from tests.unit.trading.conftest import CONTRACTS, PRICES
from tests.unit.trading.scripted import Script, ScriptedExchange


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "smt.db"
    path = tmp_path / "config.toml"
    path.write_text(f'[engine]\ndatabase = "{db}"\napproval = "manual"\n')
    monkeypatch.delenv("SMT_CONFIG", raising=False)
    return path


def patch_venue(monkeypatch: pytest.MonkeyPatch, script: Script | None = None) -> ScriptedExchange:
    ex = ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS), script=script or Script())
    monkeypatch.setattr(trading_cmd, "open_exchange", lambda *a: ex)
    return ex


def run(config: Path, *argv: str) -> int:
    return cli.main([*argv, "--config", str(config)])


def db(config: Path) -> Store:
    return Store.open(config.parent / "smt.db")


def test_propose_runs_the_gates_and_waits(config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    ex = patch_venue(monkeypatch)
    assert run(config, "propose", "--pair", "eth", "--side", "long", "--confidence", "0.8") == 0
    out = capsys.readouterr().out
    assert "margin 150 USDT, notional 3000 USDT at 20x" in out
    assert "no engine is running" in out
    assert "smt approve 1" in out
    assert ex.count("place_order") == 0
    assert ex.count("aclose") == 1
    store = db(config)
    p = store.proposals.get(1)
    assert p is not None
    assert p.state is ProposalState.PROPOSED
    assert p.source == "manual"
    assert (p.tp_pct, p.sl_pct) == (Decimal(5), Decimal("2.5"))  # phase defaults when not given


def test_propose_denied_exits_nonzero_with_reasons(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    patch_venue(monkeypatch)
    code = run(config, "propose", "--pair", "ETH", "--side", "SHORT", "--confidence", "0.5", "--tp-pct", "2")
    assert code == 1
    out = capsys.readouterr().out
    assert "DENIED: min_confidence, reward_risk" in out


def test_propose_without_balance_makes_nothing(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    patch_venue(monkeypatch, Script(balance_error=ExchangeUnavailable("timeout")))
    assert run(config, "propose", "--pair", "ETH", "--side", "LONG", "--confidence", "0.8") == 1
    assert "balance could not be read" in capsys.readouterr().err
    assert db(config).proposals.count() == 0


def test_propose_on_an_implausible_price_makes_nothing(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Refused like an approval or an operator entry on that price: no proposal is recorded."""
    ex = patch_venue(monkeypatch)
    real = ex.candles

    async def reference_far(symbol: str, interval: str, limit: int) -> list[Any]:
        bars = await real(symbol, interval, limit)
        return [b.__class__(b.open_time, b.open, b.high, b.low, Decimal(3000), b.volume) for b in bars]

    ex.candles = reference_far  # type: ignore[method-assign]
    assert run(config, "propose", "--pair", "ETH", "--side", "LONG", "--confidence", "0.8") == 1
    assert "no proposal made: ETHUSDT: price 2000 refused (" in capsys.readouterr().err
    assert db(config).proposals.count() == 0
    assert ex.count("aclose") == 1
    assert ex.count("balance") == 0


def test_approve_and_reject_queue_commands(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    patch_venue(monkeypatch)
    run(config, "propose", "--pair", "ETH", "--side", "LONG", "--confidence", "0.8")
    run(config, "propose", "--pair", "BTC", "--side", "LONG", "--confidence", "0.7")
    capsys.readouterr()
    assert run(config, "approve", "1") == 1  # no engine: refused unless the operator asks to queue
    assert "no engine is running" in capsys.readouterr().err
    assert db(config).commands.pending() == []
    assert run(config, "approve", "1", "--queue") == 0
    out = capsys.readouterr().out
    assert "queued approve of proposal #1 (ETH LONG) as command #1" in out
    assert (
        "no engine is running: the engine handles it when it starts, unless the proposal has expired" in out
    )

    monkeypatch.setattr(cli_context, "engine_running", lambda database: True)
    assert run(config, "reject", "2", "--reason", "too late") == 0
    assert "the engine handles it within seconds" in capsys.readouterr().out

    commands = db(config).commands.pending()
    assert [(c.kind, c.args) for c in commands] == [
        (CommandKind.APPROVE, {"proposal_id": 1}),
        (CommandKind.REJECT, {"proposal_id": 2, "reason": "too late"}),
    ]
    assert run(config, "approve", "99") == 1
    assert "no proposal #99" in capsys.readouterr().err


def test_proposals_neither_creates_nor_migrates_a_database(config: Path, capsys: Any) -> None:
    assert run(config, "proposals") == 1
    assert "no database here" in capsys.readouterr().err
    assert not (config.parent / "smt.db").exists()


def test_proposals_table_shows_both_units(config: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    patch_venue(monkeypatch)
    db(config).close()
    assert run(config, "proposals") == 0
    assert "no proposals yet" in capsys.readouterr().out
    run(config, "propose", "--pair", "ETH", "--side", "LONG", "--confidence", "0.8")
    capsys.readouterr()
    assert run(config, "proposals") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:9] == [
        "id",
        "created",
        "(UTC)",
        "pair",
        "side",
        "conf",
        "margin",
        "notional",
        "lev",
    ]
    row = lines[1].split()
    assert row[0] == "1"
    assert "150.00" in row
    assert "3000.00" in row
    assert "20x" in row
    assert "proposed" in row
