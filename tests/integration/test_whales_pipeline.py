"""Whale cycles end to end against the fake Etherscan: discovery, incremental history, storage, CLI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import Bias
from smt_engine.exitcodes import ExitCode
from smt_engine.store import Store
from smt_engine.whales.source import EtherscanWhaleSource, SyntheticWhaleSource
from tests.fakes.etherscan_server import FakeEtherscan, token_tx, tx

KEY = "TESTKEY-123456"
BINANCE14 = "0x28c6c06298d514db089934071355e5743bf21d60"
BINANCE15 = "0x21a31ee1afc51d94c2efccaa2092ad1028285549"
COINBASE = "0x71660c4005ba85c37ccec55d0c4493e66fe775d3"
W1, W2, W3 = ("0x" + c * 40 for c in "123")
USER = "0x" + "9" * 40
WATCHED = 8  # exchange wallets marked "watch" in the shipped book


def populate(fake: FakeEtherscan) -> None:
    head = fake.chain.head
    add = fake.chain.add
    add("normal", tx(head - 100, W1, BINANCE14, 500 * 10**18))  # whale deposits to an exchange
    add("normal", tx(head - 200, BINANCE15, W2, 300 * 10**18))  # exchange pays a whale out
    add("normal", tx(head - 300, W3, COINBASE, 150 * 10**18))
    add("normal", tx(head - 400, BINANCE14, COINBASE, 9_000 * 10**18))  # exchange shuffle: no whale
    add("normal", tx(head - 500, USER, BINANCE14, 5 * 10**18))  # small
    add("normal", tx(head - 50_000, USER, W1, 900 * 10**18))  # W1's older history
    add(
        "erc20",
        token_tx(head - 40_000, USER, W1, 10**12, symbol="USDT", decimals=6, contract="0x" + "d" * 40),
    )
    fake.chain.balances[W1] = 1234 * 10**18


@pytest.fixture
def fake() -> Iterator[FakeEtherscan]:
    with FakeEtherscan(calls_per_second=1000) as server:
        populate(server)
        yield server


def settings_for(fake: FakeEtherscan, tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "engine": {"database": str(tmp_path / "smt.db")},
            "whales": {"etherscan_base_url": fake.url, "calls_per_second": 30},
        }
    )


async def test_cycle_discovers_classifies_stores_and_refetches_only_new_blocks(
    fake: FakeEtherscan, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path)
    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock(datetime.fromtimestamp(fake.chain.ts_of(fake.chain.head) + 5, UTC))
    source = EtherscanWhaleSource(settings, store, clock, KEY, backoff_base=0.01)
    first = await source.run_cycle("c1")

    assert first.errors == []
    assert [w.address for w in first.whales] == [W1, W2, W3]  # by volume; exchanges never whales
    assert {t.tx_hash for t in first.transfers} == {r["hash"] for r in fake.chain.rows["normal"][:4]}
    w1 = next(w for w in first.whales if w.address == W1)
    assert w1.features["incoming_volume_eth"] == 900
    assert w1.features["erc20_tx_count"] == 1
    assert w1.features["balance_eth_log"] == pytest.approx(7.1188, abs=1e-4)
    assert w1.classified_by == "bootstrap"
    assert w1.model_version.startswith("bootstrap-")
    by_address = {s.address: s for s in first.signals}
    assert by_address[W1].flow is not None
    assert by_address[W1].flow.value == "outflow"
    assert first.aggregate is not None
    assert first.aggregate.is_aggregate
    assert first.signal_for("ETH") is first.aggregate
    # BTC is not fed the ETH whale aggregate unless whales.btc_proxy asks for it.
    assert first.signal_for("BTC") is None
    assert first.signal_for("SOL") is None
    first.btc_proxy = True
    btc = first.signal_for("BTC")
    assert btc is not None
    assert btc.bias is first.aggregate.bias
    first.btc_proxy = False

    assert store.whale_transfers.count() == 4
    assert store.whales.count() == 3
    stored = store.whale_signals.for_cycle("c1")
    assert len(stored) == len(first.signals) + 1
    assert stored[0].is_aggregate

    end1 = fake.chain.head
    # Watched wallets: txlist, txlistinternal and tokentx (exchange flows); whales: all five kinds.
    assert fake.calls["txlist"] == WATCHED + 3
    assert fake.calls["tokentx"] == WATCHED + 3
    assert fake.calls["balancemulti"] == 1
    assert fake.calls["getblocknobytime"] == 3

    # One hour later, one new block range and one new transfer: only the new blocks are asked for.
    fake.reset_counts()
    fake.chain.head += 300
    fake.chain.add("normal", tx(fake.chain.head - 10, W1, BINANCE14, 200 * 10**18))
    await clock.advance(3600)
    second = await source.run_cycle("c2")
    lists = [
        c
        for c in fake.log
        if c["action"] in ("txlist", "txlistinternal", "tokentx", "tokennfttx", "token1155tx")
    ]
    assert len(lists) == 3 * WATCHED + 5 * 3
    assert {int(c["startblock"]) for c in lists} == {end1 + 1}
    assert {int(c["endblock"]) for c in lists} == {fake.chain.head}
    assert next(w for w in second.whales if w.address == W1).volume_eth == 700
    assert store.whale_transfers.count() == 5
    await source.aclose()


async def test_key_error_is_recorded_not_raised(fake: FakeEtherscan, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path)
    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock(datetime.fromtimestamp(fake.chain.ts_of(fake.chain.head), UTC))
    source = EtherscanWhaleSource(settings, store, clock, "WRONG-KEY-4242", backoff_base=0.01)
    result = await source.run_cycle("c1")
    assert result.aggregate is None
    assert result.signal_for("ETH") is None
    assert "Invalid API Key" in result.errors[0]
    assert "WRONG-KEY-4242" not in result.errors[0]
    await source.aclose()


async def test_synthetic_source_is_a_live_deterministic_feed(tmp_path: Path) -> None:
    settings = Settings()
    runs = []
    for name in ("a", "b"):
        store = Store.open(tmp_path / f"{name}.db")
        clock = SimulatedClock(datetime(2026, 1, 20, tzinfo=UTC))
        source = SyntheticWhaleSource(settings, store, clock, seed=5, whales=10)
        first = await source.run_cycle("c1")
        await clock.advance(4 * 3600)
        second = await source.run_cycle("c2")
        runs.append((first, second, store))
    (a1, a2, store), (b1, b2, _) = runs
    assert a1.transfers
    assert a1.whales
    assert a1.aggregate is not None
    assert [w.address for w in a1.whales] == [w.address for w in b1.whales]
    assert [(s.bias, s.confidence) for s in a2.signals] == [(s.bias, s.confidence) for s in b2.signals]
    assert {t.cycle_id for t in store.whale_transfers.recent()} <= {"c1", "c2"}
    assert {t.tx_hash for t in a2.transfers} != {t.tx_hash for t in a1.transfers}  # time moves the feed
    by = {w.classified_by for w in a1.whales + a2.whales}
    assert by == {"bootstrap", "label"}  # simulated whales, and real labelled addresses acting as labelled
    labelled = [w for w in a1.whales + a2.whales if w.classified_by == "label"]
    assert all(
        w.label and w.whale_class in ("fund_market_maker", "staking", "mev_bot", "bridge") for w in labelled
    )
    assert a1.aggregate.bias in set(Bias)
    flows = store.health.get("whales.flows")  # the simulator reads every watched wallet whole
    assert flows is not None
    assert flows.status.value == "ok"
    assert flows.data["incomplete"] == []
    assert {f.wallets for f in store.exchange_flows.for_cycle("c2")} == {WATCHED}


def test_cli_scan_once_against_the_fake(
    fake: FakeEtherscan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from smt_engine.cli.main import main

    fake.chain.genesis_ts = int(time.time()) - 12 * fake.chain.head  # the CLI runs on the wall clock
    for rows in fake.chain.rows.values():
        for row in rows:
            row["timeStamp"] = str(fake.chain.ts_of(int(row["blockNumber"])))
    db = tmp_path / "smt.db"
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[engine]\nmode = "paper"\ndatabase = "{db}"\n[whales]\netherscan_base_url = "{fake.url}"\n'
        "calls_per_second = 30\n"
    )
    monkeypatch.setenv("ETHERSCAN_API_KEY", KEY)
    monkeypatch.setenv("SMT_CONFIG", str(cfg))
    assert main(["whales", "scan", "--once", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "4 large transfers, 3 whales" in out
    assert W1 in out
    assert W2 in out
    assert W3 in out
    assert BINANCE14 not in out.split("whales\n", 1)[1]
    assert "ETH whale signal:" in out
    assert "BTC whale signal:" not in out
    store = Store.open(db)
    cycle = store.cycles.latest()
    assert cycle is not None
    assert cycle.status == "done"
    assert cycle.trigger == "scan"
    assert store.whales.count() == 3
    assert len(store.whale_signals.for_cycle(cycle.id)) >= 1
    assert KEY not in out
    health = store.health.get("whales.etherscan")
    assert health is not None
    assert health.status.value == "ok"
    calls = health.data["calls_today"]
    assert calls == sum(fake.calls.values())
    assert health.data["daily_limit"] == 100_000
    capsys.readouterr()
    assert main(["status", "--config", str(cfg)]) == ExitCode.NOT_RUNNING
    assert f"etherscan   {calls} of 100000 calls on " in capsys.readouterr().out


async def test_daily_count_survives_a_restart_and_the_daily_reply_is_loud(
    fake: FakeEtherscan, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path)
    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock(datetime.fromtimestamp(fake.chain.ts_of(fake.chain.head), UTC))
    first = EtherscanWhaleSource(settings, store, clock, KEY, backoff_base=0.01)
    await first.run_cycle("c1")
    await first.aclose()
    used = store.health.get("whales.etherscan").data["calls_today"]  # type: ignore[union-attr]
    assert used > 0
    second = EtherscanWhaleSource(settings, store, clock, KEY, backoff_base=0.01)
    assert second.client.limiter.used_today == used
    fake.fail_next(1, "rate_limit_daily")
    result = await second.run_cycle("c2")
    await second.aclose()
    assert any("Max daily rate limit reached" in e for e in result.errors)
    health = store.health.get("whales.etherscan")
    assert health is not None
    assert health.status.value == "down"
    assert "daily call limit reached" in health.detail
    degraded = [e.data["component"] for e in store.events.recent(10) if e.kind == "health.degraded"]
    assert sorted(degraded) == ["whales.etherscan", "whales.flows"]


async def test_a_whale_whose_history_needs_more_pages_still_sees_its_deposit(tmp_path: Path) -> None:
    whale = "0x" + "5" * 40
    with FakeEtherscan(calls_per_second=1000) as fake:
        head = fake.chain.head
        for i in range(25):  # older history: more than one page of 10
            fake.chain.add("normal", tx(head - 100_000 + i, USER, whale, 10**18))
        deposit = fake.chain.add("normal", tx(head - 100, whale, BINANCE14, 500 * 10**18))
        settings = Settings.model_validate(
            {
                "engine": {"database": str(tmp_path / "smt.db")},
                "whales": {
                    "etherscan_base_url": fake.url,
                    "calls_per_second": 30,
                    "max_records_per_request": 10,
                },
            }
        )
        store = Store.open(tmp_path / "smt.db")
        clock = SimulatedClock(datetime.fromtimestamp(fake.chain.ts_of(head) + 5, UTC))
        source = EtherscanWhaleSource(settings, store, clock, KEY, backoff_base=0.01, max_pages=1)
        result = await source.run_cycle("c1")
        await source.aclose()
    state = store.whale_history.sync_state(whale, "normal")
    assert state is not None
    assert state.to_block < head
    assert [w.address for w in result.whales] == [whale]
    signal = next(s for s in result.signals if s.address == whale)
    assert signal.outflow_eth == 500
    assert deposit["hash"] in {t.tx_hash for t in result.transfers}


def test_flows_have_a_history_shown_by_smt_whales_flows(
    fake: FakeEtherscan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import json

    from smt_engine.cli.main import main

    usdt = "0xdac17f958d2ee523a2206206994597c13d831ec7"
    settings = settings_for(fake, tmp_path)
    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock(datetime.fromtimestamp(fake.chain.ts_of(fake.chain.head) + 5, UTC))
    source = EtherscanWhaleSource(settings, store, clock, KEY, backoff_base=0.01)

    async def cycles() -> None:
        for i in range(3):
            fake.chain.head += 300
            fake.chain.add(
                "erc20",
                token_tx(
                    fake.chain.head - 5,
                    USER,
                    BINANCE14,
                    (i + 1) * 10**12,
                    symbol="USDT",
                    decimals=6,
                    contract=usdt,
                ),
            )
            await clock.advance(3600)
            await source.run_cycle(f"c{i}")
        await source.aclose()

    asyncio.run(cycles())
    series = store.exchange_flows.series("USDT", 1, clock.now() + timedelta(seconds=1), 10)
    assert [f.net for f in series] == [Decimal(3_000_000), Decimal(2_000_000), Decimal(1_000_000)]
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[engine]\ndatabase = "{tmp_path / "smt.db"}"\n')
    assert main(["whales", "flows", "--window", "1", "--json", "--config", str(cfg)]) == 0
    lines = json.loads(capsys.readouterr().out)
    assert [entry["net"]["USDT"] for entry in lines] == ["1000000.000000", "2000000.000000", "3000000.000000"]
    assert main(["whales", "flows", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "exchange net flows over 6 h" in out
    assert "+6,000,000.00" in out
