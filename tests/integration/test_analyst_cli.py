"""`smt analyse PAIR` end to end: real CLI, real SDK, fake Gemini server, fake market data."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.cli import analyst as analyst_cmd
from smt_engine.cli import main as cli
from smt_engine.domain import Action, AnalystKind, Candle
from smt_engine.store import Store
from tests.analyst_support import candles
from tests.fakes.gemini_server import FakeGeminiServer, server_error, text_reply

pytestmark = pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")

ANSWER = {
    "decision": "SHORT",
    "confidence": 0.74,
    "take_profit_percent": 4.0,
    "stop_loss_percent": 2.0,
    "hold_time_hours": 18,
    "tp_price": 92160,
    "sl_price": 97920,
    "key_catalyst": "ETF outflows",
    "risk_factors": ["short squeeze", "CPI surprise"],
    "market_sentiment": "BEARISH",
    "reasoning": "Spot ETFs saw three days of outflows [1] while funding turned positive.",
}


class FakeMarket:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.closed = False

    async def last_price(self, symbol: str) -> Decimal:
        self.calls.append(("last_price", symbol))
        return Decimal("96000")

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        self.calls.append(("candles", symbol, interval, str(limit)))
        return candles(start_price=97000, step_pct=-0.1, n=limit)

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def setup(
    tmp_path: Path, gemini: FakeGeminiServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, FakeMarket]:
    db = tmp_path / "smt.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[engine]
database = "{db}"

[analyst]
base_url = "{gemini.url}"
timeout = "2s"
min_spacing = "0s"
max_attempts = 1
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaCliTestKey-987654321")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    market = FakeMarket()
    monkeypatch.setattr(analyst_cmd, "market_for", lambda settings, clock: market)
    return config, db, market


def test_analyse_prints_decision_rationale_and_sources(
    setup: tuple[Path, Path, FakeMarket], gemini: FakeGeminiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config, db, market = setup
    gemini.push(
        text_reply(
            json.dumps(ANSWER),
            queries=["bitcoin etf outflows"],
            sources=[("Reuters", "https://reuters.com/btc"), ("CoinDesk", "https://coindesk.com/etf")],
        )
    )
    code = cli.main(["analyse", "btc", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "BTC (BTCUSDT) at 96000 USDT — analyst gemini (gemini-3.8-flash)" in out
    assert "Decision: SHORT, confidence 0.74 (grounded)" in out
    assert "Take-profit 4 %, stop-loss 2 %, hold 18 h" in out
    assert "Reasoning: Spot ETFs saw three days of outflows while funding turned positive.[1]" in out
    assert "  - short squeeze" in out
    assert "Search queries: bitcoin etf outflows" in out
    assert "  [1] Reuters (reuters.com) — https://reuters.com/btc" in out
    assert "  [2] CoinDesk (coindesk.com) — https://coindesk.com/etf" in out
    # Google's Search suggestions are shown with the grounded answer, as its terms ask.
    assert "Google Search suggestions:\n  btc — https://www.google.com/search?q=btc" in out
    assert "Usage: 812 in, 143 out, 400 thinking tokens, 1 search queries; cost $0.019291" in out
    assert "decided by the risk engine" in out
    assert ("candles", "BTCUSDT", "1h", "48") in market.calls
    assert market.closed
    (req,) = gemini.requests
    assert req.has_google_search
    assert "Live price: 96000 USDT" in req.prompt
    store = Store.open(db)
    try:
        (row,) = store.analyses.select()
    finally:
        store.close()
    assert row.action is Action.SHORT
    assert row.cycle_id is None
    assert row.pair == "BTC"


def test_analyse_counts_the_billed_search_result_tokens_as_input(
    setup: tuple[Path, Path, FakeMarket], gemini: FakeGeminiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _, _ = setup
    usage = {"promptTokenCount": 812, "toolUsePromptTokenCount": 2000, "candidatesTokenCount": 143}
    gemini.push(text_reply(json.dumps(ANSWER), queries=["bitcoin etf outflows"], usage=usage))
    assert cli.main(["analyse", "btc", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    # 2812 x $1.50/M + 143 x $7.50/M + 1 query x $0.014
    assert "Usage: 2812 in (2000 of them search results), 143 out, 0 thinking tokens, 1 search queries" in out
    assert "cost $0.019291" in out  # $0.004218 + $0.0010725 + $0.014, rounded up


def test_analyse_with_the_heuristic(
    setup: tuple[Path, Path, FakeMarket], gemini: FakeGeminiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config, db, _ = setup
    code = cli.main(["analyse", "SOL", "--heuristic", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 0
    assert "analyst heuristic (heuristic-v1)" in out
    assert "Reasoning: Heuristic:" in out
    assert gemini.requests == []
    store = Store.open(db)
    try:
        assert [r.analyst for r in store.analyses.select()] == [AnalystKind.HEURISTIC]
    finally:
        store.close()


def test_analyse_reports_a_failed_call(
    setup: tuple[Path, Path, FakeMarket], gemini: FakeGeminiServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _, _ = setup
    gemini.push(server_error(503))
    code = cli.main(["analyse", "ETH", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 1
    assert "Decision: WAIT" in out
    assert "Error: HTTP 503" in out


def test_analyse_rejects_an_unknown_pair(
    setup: tuple[Path, Path, FakeMarket], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _, _ = setup
    assert cli.main(["analyse", "PEPE", "--config", str(config)]) == 1
    assert "'PEPE' is not a configured pair" in capsys.readouterr().err
