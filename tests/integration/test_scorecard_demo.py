"""The scorecard on a 240-minute headless demo: the engine records prices and scores; the CLI reads them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smt_engine.backtest.replay import replay_cycle
from smt_engine.cli import main as cli
from smt_engine.demo import demo_settings
from smt_engine.domain import ApprovalMode
from smt_engine.store import Store
from tests.fakes.weex_server import FakeWeex

GROUPS = {"overall", "analyst_model", "pair", "tier", "signal_agreement"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("scorecard") / "demo.db"
    result = subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", "demo", "--headless", "--minutes", "240", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return db


def counts(store: Store) -> dict[str, int]:
    return {
        "proposals": store.proposals.count(),
        "events": store.events.count(),
        "orders": store.orders.count(),
        "cycles": store.cycles.count(),
        "analyses": store.analyses.count(),
        "scores": store.scores.count(),
    }


def smt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smt_engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only
        check=False,
    )


def test_the_demo_records_the_prices_it_sees(demo_db: Path) -> None:
    store = Store.open(demo_db, readonly=True)
    try:
        cycles = store.cycles.count()
        assert store.prices.count() == cycles * 8  # every pair's last price, every cycle
        assert store.candles.count("interval = '5m'") > 0
        assert store.candles.count("interval = '1h'") > 0
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
            assert r["n"] == r["directional"] + r["waits"]
            assert 0 <= r["hits"] <= r["n"]
            assert sum(c["n"] for c in r["calibration"]) == r["directional"]
    subjects = {r["subject"] for r in report["groups"]["overall"]}
    assert subjects == {"analysis", "signal", "flow", "proposal"}  # each flow (asset, window) on its own
    # 240 demo minutes: 1h scores exist; nothing is scored at 24h (no look-ahead).
    horizons = {r["horizon"] for r in report["groups"]["overall"]}
    assert "1h" in horizons
    assert "24h" not in horizons
    # No score is due after the last cycle that could have computed it.
    assert all(s.due_at <= s.scored_at for s in scores)


def test_scorecard_text_and_since(demo_db: Path) -> None:
    text = smt("scorecard", "--db", str(demo_db))
    assert text.returncode == 0
    assert "Calibration" in text.stdout
    assert "Pair:" in text.stdout
    later = smt("scorecard", "--json", "--since", "2030-01-01", "--db", str(demo_db))
    assert json.loads(later.stdout)["scores"] == 0
    bad = smt("scorecard", "--since", "yesterday", "--db", str(demo_db))
    assert bad.returncode == 1
    assert "--since 'yesterday'" in bad.stderr


# --------------------------------------------------------------------------- what-if replay


def demo_config(path: Path, db: Path, *, extra: str = "", exchange_url: str | None = None) -> Path:
    """A configuration with the demo's risk-relevant settings (competition window, final-days hold)."""
    settings = demo_settings(db, approval=ApprovalMode.AUTO)
    text = f"""
[engine]
database = "{db}"
{'mode = "live"' if exchange_url else ""}

[competition]
start = {settings.competition.start.isoformat()}
end = {settings.competition.end.isoformat()}

[risk]
final_days_max_hold = "1h"
{extra}

[exchange]
{f'base_url = "{exchange_url}"' if exchange_url else ""}
"""
    path.write_text(text, encoding="utf-8")
    return path


def test_replay_with_the_recorded_settings_reproduces_every_cycle(demo_db: Path) -> None:
    store = Store.open(demo_db, readonly=True)
    try:
        settings = demo_settings(demo_db, approval=ApprovalMode.AUTO)
        cycles = store.cycles.select(order_by="started_at")
        assert cycles
        for cycle in cycles:
            result = replay_cycle(store, settings, cycle.id)
            assert result.inputs == "recorded", cycle.id  # the gates' own inputs, not a reconstruction
            recorded = store.history.proposals_of_cycle(cycle.id)
            assert len(result.rows) == len(recorded), cycle.id
            assert not [r for r in result.rows if r.differs], (cycle.id, [r.as_dict() for r in result.rows])
            for row in result.rows:
                assert row.replay_codes == row.recorded_codes, (cycle.id, row.as_dict())
    finally:
        store.close()


def test_replay_with_fewer_open_positions_shows_the_denials_and_touches_no_exchange(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    store = Store.open(demo_db, readonly=True)
    try:
        # A cycle whose entry was taken while another position was already open (as its gates saw it).
        cycle_id = next(
            c.id
            for c in store.cycles.select(order_by="started_at")
            if c.steps["proposals"]["risk_inputs"]["open_positions"]
            and any(p.state.value != "denied" for p in store.history.proposals_of_cycle(c.id))
        )
        before = counts(store)
    finally:
        store.close()
    with FakeWeex() as weex:
        config = demo_config(
            tmp_path / "what-if.toml", demo_db, extra="max_open_positions = 1", exchange_url=weex.base_url
        )
        assert cli.main(["replay", cycle_id, "--config", str(config), "--db", str(demo_db), "--json"]) == 0
        assert weex.requests == []  # nothing was asked of the exchange
    captured = capsys.readouterr()
    assert "migration" not in captured.err  # only the real database is named, and it is only read
    result = json.loads(captured.out)
    flipped = [p for p in result["proposals"] if p["differs"]]
    assert flipped
    assert all(p["replay"]["state"] == "denied" for p in flipped)
    assert all("max_open_positions" in p["replay"]["codes"] for p in flipped)
    assert all(p["recorded"]["state"] != "denied" for p in flipped)

    assert cli.main(["replay", cycle_id, "--config", str(config), "--db", str(demo_db)]) == 0
    text = capsys.readouterr().out
    assert "no exchange touched" in text
    assert "would differ (marked *)" in text
    assert f"* {flipped[0]['pair']}" in text
    # The database was only read.
    store = Store.open(demo_db, readonly=True)
    try:
        assert counts(store) == before
    finally:
        store.close()


def test_a_cycle_recorded_before_risk_inputs_existed_is_replayed_as_reconstructed(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.db"
    shutil.copy(demo_db, old)
    store = Store.open(old)
    try:
        cycle = next(
            c for c in store.cycles.select(order_by="started_at") if store.history.proposals_of_cycle(c.id)
        )
        steps = {
            **cycle.steps,
            "proposals": {k: v for k, v in cycle.steps["proposals"].items() if k != "risk_inputs"},
        }
        store.cycles.update(cycle.id, steps=steps)
        result = replay_cycle(store, demo_settings(old, approval=ApprovalMode.AUTO), cycle.id)
        recorded = store.history.proposals_of_cycle(cycle.id)
    finally:
        store.close()
    assert result.inputs == "reconstructed"
    assert result.at == cycle.started_at
    assert len(result.rows) == len(recorded) > 0
    assert cli.main(["replay", cycle.id, "--db", str(old), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["inputs"] == "reconstructed"
    assert cli.main(["replay", cycle.id, "--db", str(old)]) == 0
    assert "Inputs reconstructed" in capsys.readouterr().out


def test_replay_of_an_unknown_cycle_is_a_clear_error(
    demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["replay", "nope", "--db", str(demo_db)]) == 1
    assert "no cycle 'nope' in this database" in capsys.readouterr().err
