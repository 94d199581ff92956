"""Live mode starts only after `smt venue probe` passed for this key, host and SMT version; `--skip-probe`
starts anyway with a WARNING event and a warning health row (`smt status`, the console header)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.clock import WallClock
from smt_engine.config import load_settings
from smt_engine.domain import EventLevel, HealthStatus
from smt_engine.exchange.weex.probe_gate import PROBE_COMPONENT, PROBE_FACT, ProbeRequired
from smt_engine.exitcodes import ExitCode
from smt_engine.runtime import build_runtime
from smt_engine.secrets import SecretStore
from smt_engine.store import Store
from tests.fakes.weex_server import FakeWeex
from tests.integration.exchange.probe_support import configure, fake_keys, run_probe


@pytest.fixture
def fake() -> Iterator[FakeWeex]:
    server = FakeWeex(api_key="weex_gate_key_4321", secret="gate-secret-8765").start()
    server.ws.faults.ping_interval = 0.3
    yield server
    server.stop()


def _build(db: Path, *, skip: bool = False) -> None:
    """What `smt engine` does before it runs: build the live runtime (the gate sits in front of it)."""
    store = Store.open(db)
    try:
        runtime = build_runtime(load_settings(None), store, WallClock(), SecretStore(), skip_probe=skip)
        asyncio.run(runtime.aclose())
    finally:
        store.close()


def test_live_engine_refuses_to_start_without_a_probe(
    fake: FakeWeex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
    code = main(["engine"])
    err = capsys.readouterr().err
    assert code == ExitCode.CONFIG  # systemd does not restart into the same refusal
    assert "live mode needs a passing `smt venue probe`" in err
    assert "no probe has passed" in err
    assert fake.counts["POST /capi/v3/order"] == 0
    assert fake.counts["GET /capi/v3/account/balance"] == 0


def test_a_live_one_shot_cycle_is_refused_the_same_way(
    fake: FakeWeex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
    assert main(["run", "--once"]) == ExitCode.CONFIG
    assert "live mode needs a passing `smt venue probe`" in capsys.readouterr().err
    assert fake.counts["POST /capi/v3/order"] == 0


def test_a_passing_probe_lets_live_start_for_that_key_and_version_only(
    fake: FakeWeex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
    with pytest.raises(ProbeRequired):
        _build(db)
    code, _ = run_probe(capsys, tmp_path / "t.jsonl")
    assert code == 0
    _build(db)  # no refusal now
    store = Store.open(db)
    try:
        row = store.health.get(PROBE_COMPONENT)
        assert row is not None
        assert row.status is HealthStatus.OK
        stored = store.venue_facts.value(PROBE_FACT) or ""
        assert fake.api_key not in stored
        assert json.loads(stored)["version"] == "0.1.0"
    finally:
        store.close()
    # Another key (same host, same version) needs its own probe.
    monkeypatch.setenv("WEEX_API_KEY", "weex_other_key_0000")
    with pytest.raises(ProbeRequired, match="for another API key"):
        _build(db)
    monkeypatch.setenv("WEEX_API_KEY", fake.api_key)
    # Another WEEX host (e.g. a proxy or a new domain) is another venue to prove.
    monkeypatch.setenv("SMT_EXCHANGE__BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(ProbeRequired, match="was against http://127"):
        _build(db)
    monkeypatch.setenv("SMT_EXCHANGE__BASE_URL", fake.base_url)
    _build(db)
    # A new SMT version makes its own assumptions: probe again.
    monkeypatch.setattr("smt_engine.__version__", "0.2.0")
    with pytest.raises(ProbeRequired, match=r"for SMT 0\.1\.0"):
        _build(db)


def test_a_failed_probe_does_not_open_the_gate(
    fake: FakeWeex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
    fake.ws.faults.refuse_channels = frozenset({"fill"})
    code, _ = run_probe(capsys, tmp_path / "t.jsonl")
    assert code == ExitCode.FAILED
    with pytest.raises(ProbeRequired):
        _build(db)


def test_skip_probe_starts_with_a_warning_event_and_a_health_row_status_shows(
    fake: FakeWeex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = configure(monkeypatch, tmp_path, fake.base_url, fake.ws_url, fake_keys(fake))
    _build(db, skip=True)
    store = Store.open(db)
    try:
        events = store.events.of_kind("exchange.probe_skipped")
        assert len(events) == 1
        assert events[0].level is EventLevel.WARNING
        assert "--skip-probe" in events[0].message
        row = store.health.get(PROBE_COMPONENT)
        assert row is not None
        assert row.status is HealthStatus.WARN
    finally:
        store.close()
    capsys.readouterr()
    main(["status"])
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if PROBE_COMPONENT in x)
    assert "warn" in line
    assert "live without a passing venue probe (--skip-probe)" in line


def test_skip_probe_is_an_engine_and_run_option() -> None:
    from smt_engine.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["engine", "--skip-probe"]).skip_probe is True
    assert parser.parse_args(["run", "--once", "--skip-probe"]).skip_probe is True
    assert parser.parse_args(["engine"]).skip_probe is False
