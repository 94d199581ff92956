"""`smt backtest` end to end on stored history: the table with baselines, --json, the chart, no data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.store import Store
from tests.fakes.candle_history import random_walk

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "smt.db"
    store = Store.open(path)
    for symbol in ("ETHUSDT", "SOLUSDT"):
        store.market_history.write(symbol, "1h", random_walk(symbol, T0, 24 * 20, 5), "synthetic", T0)
    store.close()
    return path


def test_table_lists_every_source_beside_the_baselines(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--db", str(db), "--pairs", "ETH,SOL", "--chart"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")}
    assert {"heuristic", "always_long", "always_short", "random", "no_trade"} <= rows
    assert "Records per pair (outcome" in out
    # the columns of one row come from two horizons: the table says which is which
    assert "hit (LONG/SHORT right), outcome mean, its interval and Brier: at the outcome" in out
    assert "Note: no stored exchange-flow cycles in this span: the flow signal was not backtested" in out
    assert "Equity by source (USDT)" in out  # the chart


def test_json_holds_figures_portfolio_and_the_stored_run(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", "--db", str(db), "--json", "--seed", "4"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["seed"] == 4
    assert set(report["data"]["pairs"]) == {"ETH", "SOL"}
    heur = report["sources"]["heuristic"]
    assert heur["deterministic"]
    assert set(heur["figures"]) == {"ETH", "SOL", "ALL"}
    assert {"return_pct", "max_drawdown_pct", "turnover", "equity"} <= set(heur["portfolio"])
    store = Store.open(db)
    assert store.backtest_records.last_run() is not None
    assert store.backtest_records.latest("heuristic", "ETH", "outcome") is not None


def test_no_history_says_which_command_fills_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--db", str(tmp_path / "empty.db")]) != 0
    assert "run `smt data fetch` or `smt data import FILE` first" in capsys.readouterr().err
