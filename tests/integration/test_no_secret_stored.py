"""Deliver 6 canary: venues and models that echo our keys in their errors leave no key anywhere.

A real engine (paper venue over the synthetic market, the Gemini SDK against a local fake) runs on
a simulated clock while the venue answers chosen calls with errors that quote the WEEX key, secret
and passphrase, and the model server answers with an error quoting the Gemini key. Every path that
writes text is driven: start-up reconciliation and monitor ticks, the signal cycle, an operator
command, AI-log uploads and the analyst; the WEEX private websocket refuses the subscription and then
pushes error frames, both quoting the credentials; the notification webhook fails with a body quoting
its URL's token and the API key. Afterwards the database file, its WAL, the process log, `smt status`
(text and JSON) and the notifications delivered are scanned for each canary.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from smt_engine.cli.main import main
from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import CommandKind, CommandState, EngineState
from smt_engine.exchange.base import AuthError
from smt_engine.exchange.factory import make_exchange, stream_reports
from smt_engine.exchange.weex.streams import Credentials
from smt_engine.exchange.weex.supervisor import StreamSupervisor
from smt_engine.exitcodes import ExitCode
from smt_engine.logsetup import setup_logging
from smt_engine.notify.channels import load_channels
from smt_engine.notify.notifier import Notifier
from smt_engine.runtime import build_runtime
from smt_engine.secrets import MASK, SecretName, SecretStore
from smt_engine.store import Store
from smt_engine.trading.pushed import PushedFills
from tests.fakes.gemini_server import FakeGeminiServer, Reply
from tests.fakes.webhook_server import FakeWebhook
from tests.fakes.weex_server import FakeWeex

T0 = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)
CANARIES = {
    SecretName.WEEX_API_KEY: "canaryKEY-7f3a9c1e5b",
    SecretName.WEEX_API_SECRET: "canarySECRET-2d8e4f6a0c",
    SecretName.WEEX_API_PASSPHRASE: "canaryPASS-9b1c3e5d7f",
    SecretName.GEMINI_API_KEY: "canaryGEMINI-4a6c8e0b2d",
}
HOOK_TOKEN = "canaryHOOK-6e8a0c2b4d"  # the credential part of the notification URL
CANARY_VALUES = (*CANARIES.values(), HOOK_TOKEN)
HANG_GUARD = 120.0  # real seconds: only a guard against a hang, never a speed requirement


def echo_error() -> AuthError:
    """What a careless venue sends back: the credentials of the request, quoted."""
    key, secret, phrase = (
        CANARIES[n]
        for n in (SecretName.WEEX_API_KEY, SecretName.WEEX_API_SECRET, SecretName.WEEX_API_PASSPHRASE)
    )
    return AuthError(
        f"invalid signature for ACCESS-KEY={key} ACCESS-PASSPHRASE={phrase} (secret {secret})",
        code="40012",
        raw={"msg": f"key {key}", key: phrase},
    )


class EchoingVenue:
    """The paper venue, except that the methods named in ``failing`` raise a key-echoing error.

    ``"method:SYMBOL"`` fails that method for one symbol only.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failing: set[str] = set()
        self.echoes = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            if name in self.failing or (args and f"{name}:{args[0]}" in self.failing):
                self.echoes += 1
                raise echo_error()
            return await target(*args, **kwargs)

        return call


def gemini_echo() -> Reply:
    message = f"API key not valid: {CANARIES[SecretName.GEMINI_API_KEY]}. Please pass a valid API key."
    return Reply(status=400, body={"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})


async def until(clock: SimulatedClock, predicate: Callable[[], bool], sim_seconds: float) -> None:
    elapsed = 0.0
    while not predicate():
        if elapsed > sim_seconds:
            raise AssertionError(f"condition not met within {sim_seconds} simulated seconds")
        await clock.advance(1.0)
        elapsed += 1.0
        for _ in range(20):
            await asyncio.sleep(0.005)
            if predicate():
                break


async def until_real(clock: SimulatedClock, predicate: Callable[[], bool]) -> None:
    """For work paced by real round trips (the websocket's reconnects), with the simulated clock creeping
    (50 ms per 10 ms real): the streams' back-off runs on the engine's clock."""
    async with asyncio.timeout(HANG_GUARD):
        while not predicate():
            await clock.advance(0.05)
            await asyncio.sleep(0.01)


def settings_for(tmp: Path, gemini_url: str) -> Settings:
    return Settings.model_validate(
        {
            "engine": {
                "mode": "demo",
                "approval": "auto",
                "database": str(tmp / "smt.db"),
                "monitor_interval": "15s",
                "command_poll_interval": "1s",
            },
            "pairs": {"tier1": ["ETH", "BTC"], "tier2": []},
            "whales": {"enabled": False},
            "analyst": {
                "base_url": gemini_url,
                "timeout": 3,
                "min_spacing": 0,
                "requests_per_minute": 600,
                "backoff_initial": 0.01,
                "backoff_max": 0.05,
                "fallback": "heuristic",
            },
            "ailog": {"enabled": True, "max_attempts": 2},
            "notify": {"poll_interval": "1s", "timeout": "60s", "stream_down_after": "30s"},
        }
    )


def scan(blobs: dict[str, bytes]) -> dict[str, list[str]]:
    """Where each canary was found (empty when clean)."""
    found: dict[str, list[str]] = {}
    for where, blob in blobs.items():
        for value in CANARY_VALUES:
            if value.encode() in blob:
                found.setdefault(where, []).append(value)
    return found


async def test_key_echoing_errors_leave_no_secret_in_db_wal_logs_or_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log_stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log_stream)
    handler = setup_logging("debug", "json")
    clock = SimulatedClock(T0)
    key, secret, phrase = (
        CANARIES[n]
        for n in (SecretName.WEEX_API_KEY, SecretName.WEEX_API_SECRET, SecretName.WEEX_API_PASSPHRASE)
    )
    try:
        with (
            FakeGeminiServer() as gemini,
            FakeWeex(api_key=key, secret=secret, passphrase=phrase) as weex,
            FakeWebhook() as hook,
        ):
            hook_url = hook.json_url(f"/n/{HOOK_TOKEN}")
            env = {n.env_var: v for n, v in CANARIES.items()} | {SecretName.NOTIFY_URLS.env_var: hook_url}
            secrets = SecretStore(env=env, use_keyring=False)
            settings = settings_for(tmp_path, gemini.url)
            store = Store.open(tmp_path / "smt.db")
            # The live venue looks its keys up at start (exchange.factory); the paper venue needs none,
            # so look them up the same way here: that is what registers them for masking.
            for name in (SecretName.WEEX_API_KEY, SecretName.WEEX_API_SECRET, SecretName.WEEX_API_PASSPHRASE):
                assert secrets.get(name) == CANARIES[name]
            venue = EchoingVenue(make_exchange(settings, store, clock, secrets))
            runtime = build_runtime(settings, store, clock, secrets, exchange=venue)
            # The demo neither notifies nor streams; give this engine both, as a live one has them.
            runtime.engine.notifier = Notifier(settings, store, clock, load_channels(secrets))
            runtime.engine.streams = StreamSupervisor(
                clock,
                reports=stream_reports(store, clock),
                pushed=PushedFills(),
                ws_url=weex.ws_url,
                credentials=Credentials(key, secret, phrase),
                symbols=[],
                heartbeat=HANG_GUARD,
                backoff_max=0.5,
            )
            weex.ws.faults.echo_refusals, weex.ws.faults.echo_frames = 1_000_000, 2
            hook.down = True
            hook.fail_body = json.dumps({"error": f"bad token {HOOK_TOKEN} for {key}"}).encode()
            gemini.push(*(gemini_echo() for _ in range(12)))

            # 1. start-up reconciliation (the monitor) fails with the echo; so does the first notification.
            venue.failing = {"positions", "balance"}
            task = asyncio.create_task(runtime.engine.run())
            await until(clock, lambda: venue.echoes >= 2 and bool(store.engine.current().last_error), 60)
            await until(clock, lambda: any(n.last_error for n in store.notifications.recent()), 60)
            # 2. reconciliation recovers; the first cycle's market read of one pair and the analyst fail
            #    with echoes (the other pair is analysed), the AI-log uploads of its decisions fail with
            #    the echo too.
            venue.failing = {"candles:ETHUSDT", "upload_ai_log"}
            await until(clock, lambda: store.engine.current().state is EngineState.RUNNING, 120)
            # 3. the private stream (started with the engine running) is refused with the credentials
            #    quoted, long enough to be notified as down; then it subscribes and receives two error
            #    frames quoting them.
            await until_real(clock, lambda: weex.ws.echoed >= 2)
            await until(
                clock, lambda: any(n.kind == "stream_down" for n in store.notifications.recent()), 120
            )
            weex.ws.faults.echo_refusals = 0
            await until_real(clock, lambda: len(store.events.of_kind("stream.error")) >= 2)
            await until(clock, lambda: store.cycles.count() >= 1 and store.cycles.latest().finished_at, 300)
            await until(clock, lambda: any(r.last_error for r in store.ailogs.select()), 120)
            # 4. an operator command whose venue calls echo.
            venue.failing = {
                "positions",
                "balance",
                "close_position",
                "open_orders",
                "open_algo_orders",
                "upload_ai_log",
            }
            command = store.commands.enqueue(CommandKind.CLOSE_ALL, clock.now(), "test")
            await until(
                clock,
                lambda: store.commands.get(command.id).state in (CommandState.DONE, CommandState.FAILED),
                60,
            )
            # 5. a monitor tick while running fails with the echo.
            before = venue.echoes
            await until(clock, lambda: venue.echoes > before + 2, 60)
            last_error = store.engine.current().last_error
            # 6. the webhook comes back: what waited in the outbox is delivered.
            hook.down = False
            await until(clock, lambda: any("stream" in d.title for d in hook.delivered), 600)
            runtime.engine.stop()
            await asyncio.wait_for(task, 300)  # hang guard only
            await runtime.aclose()

            db = tmp_path / "smt.db"
            wal = db.with_name(db.name + "-wal")
            blobs = {"db": db.read_bytes(), "wal": wal.read_bytes() if wal.exists() else b""}
            assert blobs["wal"], "the scan must see the WAL while the writer is still open"
            store.close()
    finally:
        logging.getLogger().removeHandler(handler)

    # The probe really echoed: the venue and the model answered with the keys, and the errors were kept.
    assert venue.echoes >= 6
    assert gemini.requests
    assert gemini.requests[0].headers.get("x-goog-api-key") == CANARIES[SecretName.GEMINI_API_KEY]
    assert last_error
    assert MASK in last_error
    check = Store.open(tmp_path / "smt.db", readonly=True)
    try:
        assert any(a.error and MASK in a.error for a in check.analyses.select())
        assert any(MASK in (r.last_error or "") for r in check.ailogs.select())
        assert any(MASK in e.message for e in check.events.select())
        assert all(MASK in e.message for e in check.events.of_kind("stream.auth_refused"))
        assert any(MASK in e.message for e in check.events.of_kind("stream.error"))
        assert any(n.last_error for n in check.notifications.recent())
    finally:
        check.close()

    # The stream and the webhook really echoed, and what was delivered is what the scan reads.
    assert weex.ws.echoed >= 4
    assert hook.refused >= 1
    assert any("stream" in d.title and MASK in d.message for d in hook.delivered)
    blobs["notifications"] = json.dumps([d.body for d in hook.delivered]).encode()
    blobs["db-after-close"] = (tmp_path / "smt.db").read_bytes()
    blobs["log"] = log_stream.getvalue().encode()
    assert b"***" in blobs["log"]

    config = tmp_path / "config.toml"
    config.write_text(f'[engine]\ndatabase = "{tmp_path / "smt.db"}"\n', encoding="utf-8")
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    capsys.readouterr()
    assert main(["status", "--config", str(config)]) == ExitCode.NOT_RUNNING
    assert main(["status", "--json", "--config", str(config)]) == ExitCode.NOT_RUNNING
    status_out = capsys.readouterr().out
    assert "last error" in status_out
    assert MASK in status_out
    blobs["status"] = status_out.encode()

    assert scan(blobs) == {}
