"""`smt whales backfill` against the fake Etherscan: the plan (calls a day, ETA) before it starts, hourly
net flows per asset measured as the engine measures them, stopped by the daily budget and resumed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.store import Store
from tests.fakes.etherscan_server import TOKENS, WATCHED, FakeEtherscan, token_tx, tx

KEY = "TESTKEY-123456"
USER = "0x" + "77" * 20
BINANCE14, COINBASE10, KRAKEN13, OKX = WATCHED[0], WATCHED[2], WATCHED[3], WATCHED[4]


def populate(fake: FakeEtherscan) -> datetime:
    """Transfers around a 24 h range starting three days before the chain's head; returns its start."""
    head_ts = int(time.time()) // 3600 * 3600
    fake.chain.genesis_ts = head_ts - 12 * fake.chain.head  # block boundaries fall on whole hours
    start = datetime.fromtimestamp(head_ts, UTC) - timedelta(days=3)

    def block(at: datetime) -> int:
        return fake.chain.block_of(int(at.timestamp()))

    def add(kind: str, row: dict[str, str]) -> None:
        row["timeStamp"] = str(fake.chain.ts_of(int(row["blockNumber"])))
        fake.chain.add(kind, row)

    usdt, usdc = TOKENS["USDT"][0], TOKENS["USDC"][0]
    at = start + timedelta(hours=2, minutes=30)  # the hour ending at +3 h
    add("erc20", token_tx(block(at), USER, BINANCE14, 1000 * 10**6, symbol="USDT", decimals=6, contract=usdt))
    add("normal", tx(block(start + timedelta(hours=2, minutes=10)), KRAKEN13, USER, 5 * 10**18))
    # Exchange to exchange: not a flow into or out of exchanges.
    add("normal", tx(block(start + timedelta(hours=5, minutes=15)), BINANCE14, COINBASE10, 100 * 10**18))
    # Exactly on the hour: it belongs to the hour that ends then.
    add(
        "erc20",
        token_tx(
            block(start + timedelta(hours=10)),
            USER,
            OKX,
            500 * 10**6,
            symbol="USDC",
            decimals=6,
            contract=usdc,
        ),
    )
    add("normal", tx(block(start - timedelta(hours=2)), USER, BINANCE14, 7 * 10**18))  # before the range
    return start


def config(tmp_path: Path, fake: FakeEtherscan, daily_limit: int) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[engine]\ndatabase = "{tmp_path / "smt.db"}"\nsignal_interval = "24h"\n'
        f'[whales]\netherscan_base_url = "{fake.url}"\ncalls_per_second = 30\n'
        f"daily_call_limit = {daily_limit}\n"
    )
    return cfg


def backfill(cfg: Path, start: datetime) -> int:
    end = start + timedelta(hours=24)
    return main(
        [
            "whales",
            "backfill",
            "--from",
            f"{start:%Y-%m-%dT%H:%M}",
            "--to",
            f"{end:%Y-%m-%dT%H:%M}",
            "--config",
            str(cfg),
        ]
    )


def test_backfill_plans_stops_within_the_budget_and_resumes_to_hourly_flows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ETHERSCAN_API_KEY", KEY)
    with FakeEtherscan(calls_per_second=1000) as fake:
        start = populate(fake)
        # The engine keeps 63 calls x 1 cycle a day x 2 = 126; 12 are left, fewer than the 2 + 8 x 3 needed.
        assert backfill(config(tmp_path, fake, 126 + 12), start) != 0
        captured = capsys.readouterr()
        plan = captured.out
        assert "8 exchange wallets x 3 lists" in plan
        assert "24 h" in plan
        assert "budget: 12 calls a day (138 allowed, 126 kept for the engine)" in plan
        assert "ETA: at least 1 s" in plan
        assert "run the same command again" in captured.err
        used_first = sum(fake.calls.values())
        assert used_first <= 12
        store = Store.open(tmp_path / "smt.db")
        try:
            assert store.flow_history.count() == 0  # nothing half-written
        finally:
            store.close()

        # The next UTC day's budget (here: a larger allowance) finishes it; nothing read twice.
        fake.reset_counts()
        assert backfill(config(tmp_path, fake, 100_000), start) == 0
        assert "wrote 120 hourly flow rows" in capsys.readouterr().out
        assert sum(fake.calls.values()) == 2 + 8 * 3 - (used_first - 2)

    store = Store.open(tmp_path / "smt.db")
    try:
        rows = {
            (r.hour - start, r.asset): r for r in store.flow_history.between(start, start + timedelta(days=1))
        }
    finally:
        store.close()
    assert len(rows) == 24 * 5
    h = timedelta(hours=1)
    assert rows[(3 * h, "USDT")].net == Decimal(1000)
    assert rows[(3 * h, "USDT")].transfers == 1
    assert rows[(3 * h, "ETH")].net == Decimal(-5)
    assert rows[(3 * h, "ETH")].outflow == Decimal(5)
    assert rows[(6 * h, "ETH")].net == 0
    assert rows[(6 * h, "ETH")].transfers == 0
    assert rows[(10 * h, "USDC")].net == Decimal(500)
    assert rows[(10 * h, "USDT")].net == 0
    assert all(r.wallets == 8 for r in rows.values())
    assert sum(r.transfers for r in rows.values()) == 3  # the transfer before the range is not counted


def test_backfill_refuses_a_range_the_engine_would_prune(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ETHERSCAN_API_KEY", KEY)
    with FakeEtherscan(calls_per_second=1000) as fake:
        populate(fake)
        old = datetime.now(UTC) - timedelta(days=200)
        assert backfill(config(tmp_path, fake, 100_000), old) != 0
    err = capsys.readouterr().err
    assert "older than whales.history_retention_days (120)" in err
    assert "set whales.history_retention_days = 201" in err
