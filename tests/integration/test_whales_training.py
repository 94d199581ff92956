"""`smt whales train --labels FILE` end to end against the fake Etherscan: fetch, features, holdout by
address, CatBoost, bundle with metrics and label source; interrupted by the daily limit, then resumed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.whales.classifier import WhaleClassifier
from tests.fakes.etherscan_server import FakeEtherscan, token_tx, tx

KEY = "TESTKEY-123456"
BINANCE14 = "0x28c6c06298d514db089934071355e5743bf21d60"
BEACON = "0x00000000219ab540356cbb839cbe05303d7705fa"
ROUTER = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
CLASSES = ("exchange", "staking", "dex_defi_trader", "fund")  # "fund" is a category: fund_market_maker
PER_CLASS = 3


def address(cls: int, i: int) -> str:
    return f"0x{(cls + 1) * 0x1000 + i:040x}"


def populate(fake: FakeEtherscan) -> list[tuple[str, str]]:
    head = fake.chain.head
    add = fake.chain.add
    labels = []
    for c, name in enumerate(CLASSES):
        for i in range(PER_CLASS):
            a = address(c, i)
            labels.append((a, name))
            fake.chain.balances[a] = (c * 100 + i) * 10**18
            for k in range(6 + i):
                block = head - 1000 * (k + 1) - c * 10 - i
                user = f"0x{0xFEED0000 + k * 7 + c:040x}"
                if name == "exchange":  # deposits in, swept to the hot wallet
                    add("normal", tx(block, user, a, (k + 1) * 10**17))
                    add("normal", tx(block + 1, a, BINANCE14, (k + 1) * 10**17))
                elif name == "staking":
                    add("normal", tx(block, a, BEACON, 32 * 10**18, gas_used=55_000))
                elif name == "dex_defi_trader":
                    add("normal", tx(block, a, ROUTER, 2 * 10**18, gas_used=180_000))
                    add(
                        "erc20",
                        token_tx(block, ROUTER, a, 4000 * 10**6, symbol="USDT", decimals=6, contract=USDT),
                    )
                else:  # a fund moving size between exchanges and partners
                    add("normal", tx(block, BINANCE14, a, 900 * 10**18))
                    add(
                        "erc20",
                        token_tx(block, a, BINANCE14, 5 * 10**12, symbol="USDT", decimals=6, contract=USDT),
                    )
    return labels


def setup(fake: FakeEtherscan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    fake.chain.genesis_ts = int(time.time()) - 12 * fake.chain.head  # the CLI runs on the wall clock
    labels = populate(fake)
    for rows in fake.chain.rows.values():
        for row in rows:
            row["timeStamp"] = str(fake.chain.ts_of(int(row["blockNumber"])))
    labels_file = tmp_path / "labels.csv"
    labels_file.write_text("address,label\n" + "".join(f"{a},{c}\n" for a, c in labels))
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[engine]\ndatabase = "{tmp_path / "smt.db"}"\n'
        f'[whales]\netherscan_base_url = "{fake.url}"\ncalls_per_second = 30\n'
    )
    monkeypatch.setenv("ETHERSCAN_API_KEY", KEY)
    return labels_file, cfg, tmp_path / "model"


def new_day(tmp_path: Path) -> None:
    """The UTC day changes: the recorded day's count no longer applies."""
    from datetime import UTC, datetime, timedelta

    from smt_engine.clock import SimulatedClock
    from smt_engine.domain import HealthStatus
    from smt_engine.health import report_health
    from smt_engine.store import Store

    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock(datetime.now(UTC))
    yesterday = (clock.now() - timedelta(days=1)).date().isoformat()
    report_health(store, clock, "whales.etherscan", HealthStatus.OK, "", {"day": yesterday, "calls_today": 1})
    store.close()


def train(labels: Path, cfg: Path, out: Path) -> int:
    args = [
        "whales",
        "train",
        "--labels",
        str(labels),
        "--out",
        str(out),
        "--iterations",
        "40",
        "--depth",
        "3",
    ]
    return main([*args, "--holdout", "0.34", "--seed", "1", "--config", str(cfg)])


def test_train_on_labels_interrupted_then_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    n = len(CLASSES) * PER_CLASS
    with FakeEtherscan(calls_per_second=1000, daily_limit=2 + 1 + 5 * 5) as fake:
        labels, cfg, out = setup(fake, tmp_path, monkeypatch)
        # The day's allowance runs out after five addresses: the run stops, loudly, keeping what it has.
        assert train(labels, cfg, out) != 0
        err = capsys.readouterr().err
        assert "Max daily rate limit reached" in err
        assert "5 of 12 addresses fetched" in err
        assert "run the same command" in err
        assert "[" in err
        assert "fetching 0x" in err
        progress = json.loads((out / "fetch-progress.json").read_text())
        assert len(progress["done"]) == 5

        fake.daily_limit = 100_000
        new_day(tmp_path)
        fake.reset_counts()
        assert train(labels, cfg, out) == 0
        resumed = {c["address"] for c in fake.log if c.get("action") == "txlist"}
        assert resumed == {a for a in (address(c, i) for c in range(4) for i in range(3))} - set(
            progress["done"]
        )
        assert fake.calls["getblocknobytime"] == 0  # the same block range as the first run
    captured = capsys.readouterr()
    assert f"[{'#' * 30}] {n}/{n} done" in captured.err
    assert "holdout macro-F1" in captured.out

    meta = json.loads((out / "whale_classifier.json").read_text())
    assert meta["bootstrap"] is False
    assert not meta["model_version"].startswith("bootstrap")
    provenance = meta["training"]["provenance"]
    assert provenance["source"] == "etherscan"
    assert provenance["labels_file"] == str(labels)
    assert len(provenance["labels_sha256"]) == 64
    assert meta["training"]["rows"] == n
    assert meta["training"]["holdout_rows"] == len(CLASSES)
    assert set(meta["classes"]) == {"exchange", "staking", "dex_defi_trader", "fund_market_maker"}
    assert "balance_eth_log" in meta["training"]["params"]["ignored_features"]
    dataset = (out / "dataset.csv").read_text().splitlines()
    assert len(dataset) == n + 1
    assert dataset[0].startswith("address,label,total_txs")
    clf = WhaleClassifier.load(out)
    assert clf.bundle is not None
    assert not clf.bundle.bootstrap
    assert clf.description.startswith("model ")


def test_a_bad_labels_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("address,label\n0x" + "ab" * 20 + ",Miner\n")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[engine]\ndatabase = "{tmp_path / "smt.db"}"\n')
    monkeypatch.setenv("ETHERSCAN_API_KEY", KEY)
    assert train(labels, cfg, tmp_path / "m") != 0
    assert "labels.csv:2: label 'miner' is not one of" in capsys.readouterr().err


def test_train_on_labels_refuses_beside_an_engine_and_starts_from_the_days_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from smt_engine.clock import SimulatedClock
    from smt_engine.domain import HealthStatus
    from smt_engine.exitcodes import ExitCode
    from smt_engine.health import report_health
    from smt_engine.store import EngineLock, Store

    with FakeEtherscan(calls_per_second=1000) as fake:
        labels, cfg, out = setup(fake, tmp_path, monkeypatch)
        lock = EngineLock(tmp_path / "smt.db")
        lock.acquire()  # an engine runs on this database (and this key)
        try:
            assert train(labels, cfg, out) == ExitCode.ALREADY_RUNNING
        finally:
            lock.release()
        assert "stop it first, or train from --dataset" in capsys.readouterr().err
        assert sum(fake.calls.values()) == 0  # not one Etherscan call beside the engine

        # The engine already spent all but 4 of the day's calls: training spends only those 4, and the
        # engine's next start counts them.
        store = Store.open(tmp_path / "smt.db")
        clock = SimulatedClock(datetime.now(UTC))
        data = {"day": clock.now().date().isoformat(), "calls_today": 100_000 - 4}
        report_health(store, clock, "whales.etherscan", HealthStatus.OK, "engine", data)
        store.close()
        assert train(labels, cfg, out) != 0
        assert "daily call limit of 100000 reached" in capsys.readouterr().err
        assert sum(fake.calls.values()) == 4
        store = Store.open(tmp_path / "smt.db")
        row = store.health.get("whales.etherscan")
        assert row is not None
        assert row.status is HealthStatus.DOWN
        assert row.data["calls_today"] == 100_000
        assert "last by smt whales train" in row.detail
        store.close()
