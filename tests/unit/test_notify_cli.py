"""`smt notify test` and `smt notify outbox` against a local webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smt_engine.cli.main import main
from smt_engine.domain import EventLevel
from smt_engine.store import Store
from smt_engine.store.notifications import Notification
from tests.fakes.webhook_server import FakeWebhook

TOKEN = "CliT0kenQ9rZ2xV7"


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as server:
        yield server


def test_notify_test_sends_one_to_each_channel(
    hook: FakeWebhook, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NOTIFY_URLS", f"{hook.json_url('/a/' + TOKEN)} {hook.json_url('/b/' + TOKEN)}")
    assert main(["notify", "test"]) == 0
    assert [d.path for d in hook.delivered] == [f"/a/{TOKEN}", f"/b/{TOKEN}"]
    assert hook.delivered[0].title == "SMT: test notification"
    out = capsys.readouterr()
    assert out.out.count(" sent") == 2
    assert TOKEN not in out.out + out.err


def test_notify_test_fails_loudly_when_a_channel_refuses(
    hook: FakeWebhook, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NOTIFY_URLS", hook.json_url("/a/" + TOKEN))
    hook.down = True
    assert main(["notify", "test", "--json"]) == 1
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert result["ok"] is False
    assert "503" in result["channels"][0]["error"]
    assert TOKEN not in out.out + out.err


def test_notify_test_without_urls_says_how_to_set_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notify", "test"]) == 1
    assert "smt keys set notify_urls" in capsys.readouterr().err


def test_notify_test_names_a_bad_url_without_printing_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NOTIFY_URLS", f"nosuch://{TOKEN}@example.org")
    assert main(["notify", "test"]) == 1
    err = capsys.readouterr().err
    assert "#1 of 1" in err
    assert TOKEN not in err


def test_notify_outbox_lists_state_attempts_and_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "smt.db"
    monkeypatch.setenv("SMT_ENGINE__DATABASE", str(db))
    store = Store.open(db)
    store.notifications.enqueue(
        Notification(
            kind="halted",
            level=EventLevel.CRITICAL,
            channel="json:0123abcd",
            topic="halt:halt",
            title="SMT: engine HALTED, entries refused",
            body="daily loss",
            dedup_key="event:1",
            created_at=datetime(2026, 11, 30, 12, tzinfo=UTC),
            attempts=3,
            last_error="json:0123abcd: error=503",
        )
    )
    store.close()
    assert main(["notify", "outbox"]) == 0
    line = capsys.readouterr().out.strip()
    assert "pending" in line
    assert "x3" in line
    assert "HALTED" in line
    assert "error=503" in line
    assert main(["notify", "outbox", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["state"], row["attempts"], row["channel"]) == ("pending", 3, "json:0123abcd")
