"""`smt status` shows every component's health row, e.g. a websocket that is down."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.clock import SimulatedClock
from smt_engine.domain import HealthStatus
from smt_engine.exitcodes import ExitCode
from smt_engine.health import report_health
from smt_engine.store import Store


def test_status_prints_stream_health(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "smt.toml"
    db = tmp_path / "smt.db"
    config.write_text(f'[engine]\ndatabase = "{db}"\n')
    store = Store.open(db)
    clock = SimulatedClock(datetime(2026, 1, 20, 14, 2, tzinfo=UTC))
    report_health(
        store,
        clock,
        "exchange.stream.private",
        HealthStatus.WARN,
        "down: silent for 30s (heartbeat) (REST polling only)",
        {"up": False, "last_message_at": None},
    )
    report_health(store, clock, "exchange.rest", HealthStatus.OK, "ok")
    store.close()
    capsys.readouterr()
    assert main(["status", "--config", str(config)]) == ExitCode.NOT_RUNNING
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("health")]
    assert any(
        "exchange.stream.private" in line
        and "warn" in line
        and "since 2026-01-20 14:02:00" in line
        and "REST polling only" in line
        for line in lines
    ), lines
    assert main(["status", "--config", str(config), "--json"]) == ExitCode.NOT_RUNNING
    data = json.loads(capsys.readouterr().out)
    stream = next(h for h in data["health"] if h["component"] == "exchange.stream.private")
    assert stream["status"] == "warn"
    assert stream["data"]["up"] is False
