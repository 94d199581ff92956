"""The scorecard on a 240-minute headless demo: the engine records prices and scores; the CLI reads them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from smt_engine.store import Store

GROUPS = {"overall", "analyst_model", "pair", "tier", "signal_agreement"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("scorecard") / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", "demo", "--headless", "--minutes", "240", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return db


def smt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_demo_records_the_prices_it_sees(demo_db: Path) -> None:
    store = Store.open(demo_db, readonly=True)
    try:
        cycles = store.cycles.count()
        assert store.prices.count() == cycles * 8  # every pair's last price, every cycle
        assert store.candles.count("interval = '5m'") > 0 and store.candles.count("interval = '1h'") > 0
        # Only closed bars: nothing closes after it was seen.
        assert store.candles.count("close_time > seen_at") == 0
        assert all(c.steps.get("scorecard", {}).get("status") == "ok" for c in store.cycles.select())
    finally:
        store.close()


def test_scorecard_json_returns_every_group_with_its_counts(demo_db: Path) -> None:
    result = smt("scorecard", "--json", "--db", str(demo_db))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["groups"]) == GROUPS
    assert report["scores"] > 0
    store = Store.open(demo_db, readonly=True)
    try:
        scores = store.scores.since()
    finally:
        store.close()
    assert report["scores"] == len(scores)
    for name, rows in report["groups"].items():
        assert rows, name
        # Within each grouping, the counts add up to every score.
        assert sum(r["n"] for r in rows) == len(scores), name
        for r in rows:
            assert r["n"] == r["directional"] + r["waits"] and 0 <= r["hits"] <= r["n"]
            assert sum(c["n"] for c in r["calibration"]) == r["directional"]
    subjects = {r["subject"] for r in report["groups"]["overall"]}
    assert subjects == {"analysis", "signal", "proposal"}
    # 240 demo minutes: 1h scores exist; nothing is scored at 24h (no look-ahead).
    horizons = {r["horizon"] for r in report["groups"]["overall"]}
    assert "1h" in horizons and "24h" not in horizons
    # No score is due after the last cycle that could have computed it.
    assert all(s.due_at <= s.scored_at for s in scores)


def test_scorecard_text_and_since(demo_db: Path) -> None:
    text = smt("scorecard", "--db", str(demo_db))
    assert text.returncode == 0 and "Calibration" in text.stdout and "Pair:" in text.stdout
    later = smt("scorecard", "--json", "--since", "2030-01-01", "--db", str(demo_db))
    assert json.loads(later.stdout)["scores"] == 0
    bad = smt("scorecard", "--since", "yesterday", "--db", str(demo_db))
    assert bad.returncode == 1 and "--since 'yesterday'" in bad.stderr
