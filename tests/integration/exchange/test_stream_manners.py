"""Websocket manners towards WEEX, on a simulated clock: the handshake cap both streams share, a back-off
that keeps growing against a server that acks and closes, protocol keep-alive that keeps a quiet
connection for 10 minutes and drops a deaf one, one private channel per SUBSCRIBE, the server's ping
interval in health, and a private handshake signed on the server's clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from smt_engine.clock import SimulatedClock, WallClock
from smt_engine.domain import EventLevel
from smt_engine.exchange.factory import stream_reports
from smt_engine.exchange.weex.streams import Credentials, StreamMessage, WeexStream
from smt_engine.exchange.weex.supervisor import StreamSupervisor
from smt_engine.store import Store
from smt_engine.trading.pushed import PushedFills
from tests.fakes.weex_server import FakeWeex
from tests.integration.exchange.conftest import client_for

HANG_GUARD = 60.0  # real seconds: a guard against hangs, never a speed requirement
T0 = datetime(2026, 12, 6, tzinfo=UTC)


async def ignore(_message: StreamMessage) -> None:
    return None


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(HANG_GUARD):
        while not predicate():  # noqa: ASYNC110 - the fake runs on its own thread
            await asyncio.sleep(0.005)


async def run_clock(clock: SimulatedClock, seconds: float, step: float, on_step: Callable[[], None]) -> None:
    """Let ``seconds`` of simulated time pass in ``step``s, giving real I/O a moment at each step."""
    end = clock.now().timestamp() + seconds
    while clock.now().timestamp() < end:
        await clock.advance(step)
        await asyncio.sleep(0.003)
        on_step()


async def heartbeat(clock: SimulatedClock, seconds: float = 30.0) -> None:
    """One keep-alive period, once the keep-alive has gone to sleep for it: advancing before it sleeps
    (it may start a moment after the stream says it is up) would leave its ping a period behind."""
    due = clock.now() + timedelta(seconds=seconds)
    await until(lambda: clock.next_deadline == due)
    await clock.advance(seconds)


def sim(clock: SimulatedClock) -> dict[str, Any]:
    return {"sleep": clock.sleep, "monotonic": lambda: clock.now().timestamp()}


async def test_a_server_that_acks_and_closes_meets_the_shared_handshake_cap(
    fake: FakeWeex, tmp_path: Path
) -> None:
    fake.ws.faults.close_after_ack = True
    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock(T0)
    supervisor = StreamSupervisor(
        clock,
        reports=stream_reports(store, clock),
        pushed=PushedFills(),
        ws_url=fake.ws_url,
        credentials=Credentials(fake.api_key, fake.secret, fake.passphrase),
        symbols=["BTCUSDT", "ETHUSDT"],
        heartbeat=30.0,
        backoff_max=0.5,  # without the cap: a handshake every ~0.5 s per stream, ~1,200 in 5 minutes
        handshakes_per_window=40,
    )
    task = asyncio.create_task(supervisor.run())
    seen: list[tuple[float, int]] = []
    await run_clock(clock, 900, 0.5, lambda: seen.append((clock.now().timestamp(), fake.ws.handshakes)))
    await supervisor.stop()
    task.cancel()
    start = T0.timestamp()
    for window_start in range(0, 600, 50):  # every 5-minute window of the 15 minutes
        lo = start + window_start
        before = max((n for t, n in seen if t <= lo), default=0)
        within = max(n for t, n in seen if t <= lo + 300) - before
        assert within <= 40 + 1, f"{within} handshakes in the 5 minutes from +{window_start}s"
    assert 40 <= fake.ws.handshakes <= 3 * 40 + 2, "the cap binds and then lets the streams retry"
    warned = store.events.of_kind("stream.handshake_cap")
    assert warned
    assert warned[0].level is EventLevel.WARNING
    assert "REST polling" in warned[0].message


async def test_the_back_off_keeps_growing_after_short_lived_connections(fake: FakeWeex) -> None:
    fake.ws.faults.close_after_ack = True
    clock = SimulatedClock(T0)
    stream = WeexStream(
        fake.ws_url,
        ["BTCUSDT@ticker"],
        on_message=ignore,
        heartbeat=30.0,
        backoff=0.5,
        backoff_max=60.0,
        **sim(clock),
    )
    task = asyncio.create_task(stream.run())
    await run_clock(clock, 300, 0.25, lambda: None)
    await stream.stop()
    task.cancel()
    # 0.5 s doubling to 60 s (jitter 0.5-1.5x): at most ~16 handshakes in 5 minutes; the old rule
    # (start over after any subscribed connection) made ~600.
    assert 5 <= fake.ws.handshakes <= 20, fake.ws.handshakes


async def test_a_quiet_server_answering_protocol_pings_keeps_one_connection_for_10_minutes(
    fake: FakeWeex,
) -> None:
    fake.ws.faults.ping_interval = 3600.0  # no application pings, no pushes: only protocol pongs
    clock = SimulatedClock(T0)
    stream = WeexStream(
        fake.ws_url, ["BTCUSDT@ticker"], on_message=ignore, heartbeat=30.0, backoff=0.5, **sim(clock)
    )
    task = asyncio.create_task(stream.run())
    await until(lambda: stream.state.up)
    for tick in range(1, 21):  # 20 heartbeats of 30 s: 10 minutes
        await heartbeat(clock)
        await until(lambda n=tick: stream.state.pongs >= n)  # type: ignore[misc]
    assert stream.state.up
    assert stream.state.connects == 1
    assert fake.ws.handshakes == 1
    assert stream.state.pongs == 20
    # A deaf connection (no pong to the keep-alive) is dropped after two missed pings, not before.
    fake.ws.stall()
    await heartbeat(clock)
    await heartbeat(clock)
    await asyncio.sleep(0.05)
    assert fake.ws.handshakes == 1, "one unanswered ping is tolerated (ccxt's maxPingPongMisses 2)"
    await heartbeat(clock)
    await until(lambda: not stream.state.up)
    assert "no pong to 2 pings" in stream.state.detail
    await run_clock(clock, 5, 0.5, lambda: None)
    await until(lambda: fake.ws.handshakes == 2 and stream.state.up)
    await stream.stop()
    task.cancel()


async def test_private_channels_go_one_per_subscribe_and_unknown_ones_are_refused(fake: FakeWeex) -> None:
    private = WeexStream(
        fake.ws_url,
        ["orders", "fill", "positions", "account"],
        credentials=Credentials(fake.api_key, fake.secret, fake.passphrase),
        on_message=ignore,
        heartbeat=HANG_GUARD,
    )
    public = WeexStream(
        fake.ws_url, ["BTCUSDT@ticker", "ETHUSDT@ticker"], on_message=ignore, heartbeat=HANG_GUARD
    )
    tasks = [asyncio.create_task(s.run()) for s in (private, public)]
    await until(lambda: private.state.up and public.state.up)
    assert sorted(fake.ws.subscribes, key=len) == [
        ["orders"],
        ["fill"],
        ["positions"],
        ["account"],
        ["BTCUSDT@ticker", "ETHUSDT@ticker"],
    ]
    bogus = WeexStream(fake.ws_url, ["NOPEUSDT@ticker"], on_message=ignore, heartbeat=HANG_GUARD, backoff=5.0)
    tasks.append(asyncio.create_task(bogus.run()))
    await until(lambda: bool(fake.ws.refused))
    await until(lambda: "refused" in bogus.state.detail)
    assert fake.ws.refused == ["NOPEUSDT@ticker"]
    assert not bogus.state.up
    for s in (private, public, bogus):
        await s.stop()
    for t in tasks:
        t.cancel()


async def test_the_server_ping_interval_is_observed_and_in_health(fake: FakeWeex, tmp_path: Path) -> None:
    fake.ws.faults.ping_interval = 0.1
    store = Store.open(tmp_path / "smt.db")
    clock = WallClock()
    supervisor = StreamSupervisor(
        clock,
        reports=stream_reports(store, clock),
        pushed=PushedFills(),
        ws_url=fake.ws_url,
        credentials=None,
        symbols=["BTCUSDT"],
        heartbeat=HANG_GUARD,
        backoff_max=1,
    )
    task = asyncio.create_task(supervisor.run())

    def observed() -> bool:
        row = store.health.get("exchange.stream.public")
        return row is not None and row.data.get("server_ping_interval_s") is not None

    await until(observed)
    row = store.health.get("exchange.stream.public")
    assert row is not None
    assert row.data["server_ping_interval_s"] > 0
    assert "WEEX pings every" in row.detail
    await until(lambda: fake.ws.pongs >= 2)
    assert all(form.get("method") == "PONG" and form.get("id") for form in fake.ws.pong_forms)
    await supervisor.stop()
    task.cancel()


async def test_the_private_handshake_is_signed_on_the_servers_clock(fake: FakeWeex) -> None:
    skew = 90_000  # the host clock is 90 s behind WEEX's: outside the 30 s window
    fake.server_time_offset_ms = skew
    client = client_for(fake)
    drifted = WeexStream(
        fake.ws_url,
        ["orders"],
        credentials=Credentials(fake.api_key, fake.secret, fake.passphrase),
        on_message=ignore,
        heartbeat=HANG_GUARD,
        backoff=5.0,
    )
    corrected = WeexStream(
        fake.ws_url,
        ["orders"],
        credentials=client.stream_credentials(),
        on_message=ignore,
        heartbeat=HANG_GUARD,
    )
    tasks = [asyncio.create_task(s.run()) for s in (drifted, corrected)]
    await until(lambda: drifted.state.auth_refused)
    await until(lambda: corrected.state.up)
    assert fake.counts["GET /capi/v3/market/time"] >= 1, "the offset is measured before the handshake"
    assert abs(int(client.timestamp()) - (time.time() * 1000 + skew)) < 10_000
    assert abs(client.server_offset().total_seconds() * 1000 - skew) < 10_000, "what pushes are aged by"
    for s in (drifted, corrected):
        await s.stop()
    for t in tasks:
        t.cancel()
    await client.aclose()


async def test_a_clock_that_drifts_after_the_first_handshake_is_measured_again_not_refused_forever(
    fake: FakeWeex,
) -> None:
    client = client_for(fake)
    stream = WeexStream(
        fake.ws_url,
        ["orders"],
        credentials=client.stream_credentials(),
        on_message=ignore,
        heartbeat=HANG_GUARD,
        backoff=0.05,
    )
    task = asyncio.create_task(stream.run())
    await until(lambda: stream.state.up)
    synced = fake.counts["GET /capi/v3/market/time"]
    fake.server_time_offset_ms = 90_000  # WEEX's clock now 90 s ahead of the offset measured at start
    fake.ws.drop()
    await until(lambda: stream.state.auth_refused)  # signed with the stale offset: 401
    await until(lambda: stream.state.up and stream.state.connects == 2)
    assert fake.counts["GET /capi/v3/market/time"] > synced, "the refusal made it measure the offset again"
    await stream.stop()
    task.cancel()
    await client.aclose()
