"""`smt db scrub`: secrets an older SMT stored in clear are masked in place, and gone from the file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.domain import AnalystKind, EngineState, EventLevel, Mode
from smt_engine.exitcodes import ExitCode
from smt_engine.secrets import MASK
from smt_engine.store import EngineLock, Store
from smt_engine.store.records import Analysis, Cycle, EngineStatus

AT = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)
# Planted before it is registered (what an older SMT wrote); registration is for the process, so each
# test plants its own.
KEY = "scrubCanaryKey-7f3a91"
OTHER_KEY = "scrubCanaryKey-0b52ce"
NAMES = ("WEEX_API_KEY", "WEEX_API_SECRET", "WEEX_API_PASSPHRASE", "ETHERSCAN_API_KEY", "GEMINI_API_KEY")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in (*NAMES, "NOTIFY_URLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("smt_engine.secrets.SecretStore._keyring_get", lambda self, name: None)
    monkeypatch.delenv("SMT_CONFIG", raising=False)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[engine]\nmode = "paper"\ndatabase = "{tmp_path / "smt.db"}"\n[logging]\nlevel = "error"\n'
    )
    return path


def plant(db: Path, key: str = KEY) -> None:
    echo = f'venue said: {{"apiKey": "{key}"}}'
    store = Store.open(db)
    store.engine.put(EngineStatus(mode=Mode.PAPER, state=EngineState.RUNNING, last_error=echo))
    store.cycles.insert(Cycle(id="c1", started_at=AT, steps={"market": {"error": echo}}))
    store.analyses.insert(
        Analysis(cycle_id="c1", pair="ETH", analyst=AnalystKind.GEMINI, model="m", created_at=AT, error=echo)
    )
    store.events.append(AT, EventLevel.ERROR, "probe", echo)
    store.events.append(AT, EventLevel.INFO, "clean", "nothing secret here")
    store.close()


def on_disk(db: Path) -> bytes:
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_scrub_masks_every_planted_value_and_leaves_no_trace_on_disk(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "smt.db"
    plant(db)
    assert KEY.encode() in on_disk(db)
    monkeypatch.setenv("WEEX_API_KEY", KEY)
    assert main(["db", "scrub", "--json", "--config", str(config)]) == ExitCode.OK
    out = json.loads(capsys.readouterr().out)
    assert out["changed"] == 4
    assert out["tables"] == {"analyses": 1, "cycles": 1, "engine": 1, "events": 1}
    assert KEY.encode() not in on_disk(db)
    store = Store.open(db, readonly=True)
    assert store.engine.current().last_error == f'venue said: {{"apiKey": "{MASK}"}}'
    cycle = store.cycles.get("c1")
    assert cycle is not None
    assert cycle.steps["market"]["error"] == f'venue said: {{"apiKey": "{MASK}"}}'
    assert [a.error for a in store.analyses.for_cycle("c1")] == [f'venue said: {{"apiKey": "{MASK}"}}']
    assert [e.message for e in store.events.after(0, 10)] == [
        f'venue said: {{"apiKey": "{MASK}"}}',
        "nothing secret here",
    ]
    store.close()
    # A second run finds nothing left to change.
    assert main(["db", "scrub", "--config", str(config)]) == ExitCode.OK
    assert capsys.readouterr().out.startswith(f"{db}: 0 stored value(s) masked\n")


def test_scrub_is_refused_while_an_engine_runs_and_changes_nothing(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "smt.db"
    plant(db, OTHER_KEY)
    monkeypatch.setenv("WEEX_API_KEY", OTHER_KEY)
    with EngineLock(db):
        assert main(["db", "scrub", "--config", str(config)]) == ExitCode.ALREADY_RUNNING
    assert "stop the engine before scrubbing" in capsys.readouterr().err
    assert OTHER_KEY.encode() in on_disk(db)


def test_scrub_with_no_secret_set_or_no_database_says_so(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "scrub", "--config", str(config)]) == ExitCode.FAILED
    assert "no database here, nothing to scrub" in capsys.readouterr().err
    assert not (tmp_path / "smt.db").exists(), "scrub never creates a database"
    Store.open(tmp_path / "smt.db").close()
    assert main(["db", "scrub", "--config", str(config)]) == ExitCode.FAILED
    assert "no secret is set" in capsys.readouterr().err
