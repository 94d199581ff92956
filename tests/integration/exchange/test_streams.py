"""WEEX websockets over real sockets against the fake WEEX: pushes, pings, reconnects, faults, and the
engine closing a position on a pushed TP fill without waiting for its poll."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import CloseReason, EventLevel, HealthStatus, PositionState, Side
from smt_engine.exchange.base import OrderRequest
from smt_engine.exchange.factory import stream_reports
from smt_engine.exchange.weex.streams import Credentials, StreamMessage, WeexStream
from smt_engine.exchange.weex.supervisor import StreamSupervisor
from smt_engine.store import Store
from smt_engine.trading.pushed import PushedFills
from tests.fakes.gemini_server import FakeGeminiServer
from tests.fakes.weex_server import FakeWeex
from tests.integration.exchange.conftest import client_for
from tests.integration.test_engine import ETH_PRICE, T0, Rig, protected_position

HANG_GUARD = 120.0  # real seconds; a guard against hangs on a loaded machine, never a speed requirement
POLL = timedelta(minutes=10)  # the engine rig's monitor poll: a close sooner came from the stream
# Simulated time creeps while a test waits on real round-trips, faster the idler the machine: a close
# well inside the poll, not within a fixed minute, is what shows it did not wait for the poll.
SOON = POLL.total_seconds() / 2


async def until(predicate: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(HANG_GUARD):
        while not predicate():  # noqa: ASYNC110 - the conditions live in other threads and the database
            await asyncio.sleep(0.01)


async def until_sim(rig: Rig, predicate: Callable[[], bool], what: str) -> float:
    """Let simulated time creep (50 ms per 10 ms real) while waiting: enough for the engine's short
    waits, far from the 10-minute poll. Returns the simulated seconds that passed."""
    start = rig.clock.now()
    async with asyncio.timeout(HANG_GUARD):
        while not predicate():
            await rig.clock.advance(0.05)
            await asyncio.sleep(0.01)
    return (rig.clock.now() - start).total_seconds()


class Pushes:
    def __init__(self) -> None:
        self.messages: list[StreamMessage] = []
        self.connected = 0

    async def __call__(self, message: StreamMessage) -> None:
        self.messages.append(message)

    async def on_connected(self) -> None:
        self.connected += 1

    def channels(self) -> list[str]:
        return [m.channel for m in self.messages]


@pytest.fixture
async def private(fake: FakeWeex) -> AsyncIterator[tuple[WeexStream, Pushes]]:
    pushes = Pushes()
    stream = WeexStream(
        fake.ws_url,
        ["orders", "fill", "positions", "account"],
        credentials=Credentials(fake.api_key, fake.secret, fake.passphrase),
        on_message=pushes,
        on_connected=pushes.on_connected,
        heartbeat=HANG_GUARD,  # only the stall test is about silence: a slow loop must not reconnect
        backoff=0.01,
        backoff_max=0.05,
    )
    task = asyncio.create_task(stream.run())
    yield stream, pushes
    await stream.stop()
    task.cancel()


async def test_order_fill_and_position_pushes_follow_the_venue(
    fake: FakeWeex, private: tuple[WeexStream, Pushes]
) -> None:
    stream, pushes = private
    await until(lambda: stream.state.up, "connected")

    client = client_for(fake)

    await client.place_order(
        OrderRequest(
            "BTCUSDT", Side.LONG, Decimal("0.01"), "ws-1", tp_price=Decimal(97000), sl_price=Decimal(90000)
        )
    )
    await until(lambda: "positions" in pushes.channels(), "entry pushed")
    fake.set_price("BTCUSDT", Decimal(97500))
    await until(lambda: pushes.channels().count("positions") == 2, "close pushed")
    orders = [r for m in pushes.messages if m.channel == "orders" for r in m.rows]
    tp = [r for r in orders if r["type"] == "TAKE_PROFIT_MARKET"]
    assert [r["status"] for r in tp] == ["UNTRIGGERED", "FILLED"]
    fills = [r for m in pushes.messages if m.channel == "fill" for r in m.rows]
    assert len(fills) == 2
    assert Decimal(fills[1]["realizePnl"]) > 0
    opened, closed = [m for m in pushes.messages if m.channel == "positions"]
    assert closed.rows[0]["size"] == "0"
    assert closed.rows[0]["id"] == opened.rows[0]["id"]
    assert closed.rows[0]["cumCloseSize"] == opened.rows[0]["size"] == "0.01"
    accounts = [r for m in pushes.messages if m.channel == "account" for r in m.rows]
    assert accounts, "the balance moved: WEEX pushes the account"
    assert accounts[-1]["coin"] == "USDT", "the balance moved: WEEX pushes the account"
    assert stream.state.malformed == 0
    assert stream.state.connects == 1
    await client.aclose()


async def test_the_delay_knob_holds_pushes_back(fake: FakeWeex, private: tuple[WeexStream, Pushes]) -> None:
    stream, pushes = private
    await until(lambda: stream.state.up, "connected")
    fake.ws.faults.delay = 0.3

    client = client_for(fake)
    started = asyncio.get_running_loop().time()
    await client.place_order(OrderRequest("BTCUSDT", Side.LONG, Decimal("0.01"), "ws-delay"))
    await until(lambda: "orders" in pushes.channels(), "the delayed push")
    assert asyncio.get_running_loop().time() - started >= 0.3  # a lower bound: never a speed requirement
    await client.aclose()


async def test_a_failing_handler_does_not_kill_the_stream(
    fake: FakeWeex, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    async def explode(message: StreamMessage) -> None:
        calls.append(message.channel)
        raise RuntimeError("handler bug")

    stream = WeexStream(
        fake.ws_url,
        ["orders"],
        credentials=Credentials(fake.api_key, fake.secret, fake.passphrase),
        on_message=explode,
        heartbeat=HANG_GUARD,
        backoff=0.01,
        backoff_max=0.05,
    )
    task = asyncio.create_task(stream.run())
    await until(lambda: stream.state.up, "connected")
    client = client_for(fake)
    await client.place_order(OrderRequest("BTCUSDT", Side.LONG, Decimal("0.01"), "ws-bug"))
    await until(lambda: calls and stream.state.connects == 2 and stream.state.up, "reconnected")
    assert not task.done()
    assert calls == ["orders"]
    assert any("failed unexpectedly" in r.getMessage() for r in caplog.records)
    await stream.stop()
    task.cancel()
    await client.aclose()


async def test_server_pings_are_answered(fake: FakeWeex, private: tuple[WeexStream, Pushes]) -> None:
    fake.ws.faults.ping_interval = 0.05
    await until(lambda: fake.ws.pongs >= 2, "two pongs")


async def test_a_dropped_stream_reconnects_and_asks_for_reconciliation(
    fake: FakeWeex, private: tuple[WeexStream, Pushes]
) -> None:
    stream, pushes = private
    await until(lambda: pushes.connected == 1, "first connection")
    fake.ws.drop()
    await until(lambda: pushes.connected == 2 and stream.state.up, "reconnected")
    assert stream.state.connects == 2


async def test_a_stalled_stream_is_reconnected_after_its_heartbeat(fake: FakeWeex) -> None:
    pushes = Pushes()
    stream = WeexStream(
        fake.ws_url,
        ["orders"],
        credentials=Credentials(fake.api_key, fake.secret, fake.passphrase),
        on_message=pushes,
        on_connected=pushes.on_connected,
        heartbeat=1.0,
        backoff=0.01,
        backoff_max=0.05,
    )
    fake.ws.faults.ping_interval = 0.1  # pings keep a live connection from looking silent
    task = asyncio.create_task(stream.run())
    await until(lambda: pushes.connected == 1, "first connection")
    fake.ws.stall()  # the fake neither pushes nor pings on a stalled connection
    # A loaded machine may add heartbeat reconnects of its own: at least one, never none.
    await until(lambda: pushes.connected >= 2, "reconnected after silence")
    assert fake.ws.handshakes >= 2
    await stream.stop()
    task.cancel()


async def test_a_malformed_frame_is_recorded_and_skipped(
    fake: FakeWeex, private: tuple[WeexStream, Pushes]
) -> None:
    stream, pushes = private
    await until(lambda: stream.state.up, "connected")
    fake.ws.faults.malformed_next = 1

    client = client_for(fake)

    await client.place_order(OrderRequest("BTCUSDT", Side.LONG, Decimal("0.01"), "ws-2"))
    await until(lambda: "positions" in pushes.channels(), "the push after the bad frame")
    assert stream.state.malformed == 1
    assert stream.state.up
    assert stream.state.connects == 1
    await client.aclose()


async def test_refused_auth_is_a_clear_error_and_a_down_health_row(fake: FakeWeex, tmp_path: Path) -> None:
    fake.ws.faults.refuse_auth = True
    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock(T0)
    supervisor = StreamSupervisor(
        clock,
        reports=stream_reports(store, clock),
        pushed=PushedFills(),
        ws_url=fake.ws_url,
        credentials=Credentials(fake.api_key, fake.secret, fake.passphrase),
        symbols=[],
        heartbeat=HANG_GUARD,
        backoff_max=0.05,
    )
    task = asyncio.create_task(supervisor.run())
    await until(lambda: store.health.get("exchange.stream.private") is not None, "health row")
    row = store.health.get("exchange.stream.private")
    assert row is not None
    assert row.status is HealthStatus.DOWN
    assert "authentication refused by WEEX (HTTP 401)" in row.detail
    (event,) = store.events.of_kind("health.degraded")
    assert event.level is EventLevel.ERROR
    fake.ws.faults.refuse_auth = False
    # The back-off runs on the engine's clock: let simulated time pass while waiting.
    async with asyncio.timeout(HANG_GUARD):
        while not (
            (r := store.health.get("exchange.stream.private")) is not None and r.status is HealthStatus.OK
        ):
            await clock.advance(0.05)
            await asyncio.sleep(0.01)
    assert store.events.of_kind("health.recovered")
    await supervisor.stop()
    task.cancel()


async def test_bad_credentials_are_refused_by_the_fake(fake: FakeWeex) -> None:
    stream = WeexStream(
        fake.ws_url,
        ["orders"],
        credentials=Credentials(fake.api_key, "wrong-secret", fake.passphrase),
        on_message=Pushes(),
        heartbeat=HANG_GUARD,
        backoff_max=0.05,
    )
    task = asyncio.create_task(stream.run())
    await until(lambda: stream.state.auth_refused, "refused")
    assert not stream.state.up
    await stream.stop()
    task.cancel()


async def test_public_tickers_update_stream_prices(fake: FakeWeex, tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    supervisor = StreamSupervisor(
        clock,
        reports=stream_reports(Store.open(tmp_path / "smt.db"), clock),
        pushed=PushedFills(),
        ws_url=fake.ws_url,
        credentials=None,
        symbols=["ETHUSDT"],
        heartbeat=HANG_GUARD,
        backoff_max=0.05,
    )
    task = asyncio.create_task(supervisor.run())
    fake.set_price("ETHUSDT", Decimal("3210.5"))
    await until(
        lambda: (p := supervisor.prices.get("ETHUSDT")) is not None and p[0] == Decimal("3210.5"), "tick"
    )
    await supervisor.stop()
    task.cancel()


# --------------------------------------------------------------------------- the engine


class StreamRig(Rig):
    """The engine rig with a 10-minute poll: within a test only a stream push can trigger the monitor.

    The heartbeat (the keep-alive ping interval) runs on the rig's simulated clock: generous, except in
    the test about a stalled stream, which shortens it so two unanswered pings come soon."""

    heartbeat = timedelta(seconds=HANG_GUARD)
    stream_down_poll = POLL  # the faster poll while the stream is down, off unless a test sets it

    def settings(self, approval: str = "auto") -> Settings:
        settings = super().settings(approval)
        settings.engine.monitor_interval = POLL
        settings.engine.monitor_interval_stream_down = self.stream_down_poll
        settings.exchange.stream_heartbeat = self.heartbeat
        settings.exchange.stream_backoff_max = timedelta(seconds=1)
        return settings


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[StreamRig]:
    clock = SimulatedClock(T0)
    with FakeWeex(clock=clock, prices={"ETHUSDT": ETH_PRICE}) as fake, FakeGeminiServer() as gemini:
        fake.ws.faults.ping_interval = 0.2
        r = StreamRig(tmp_path, fake, gemini, clock)
        try:
            yield r
        finally:
            await r.stop()


def monitor_idle(rig: Rig) -> bool:
    assert rig.runtime is not None
    streams = rig.runtime.engine.streams
    return not (streams is not None and streams.wake.is_set()) and not rig.runtime.engine.lock.locked()


def closed(rig: Rig, position_id: int) -> bool:
    p = rig.store.positions.get(position_id)
    return p is not None and p.state is PositionState.CLOSED


async def test_a_pushed_tp_fill_closes_the_position_without_waiting_for_a_poll(rig: StreamRig) -> None:
    pos = await protected_position(rig)
    await until(lambda: rig.fake.ws.connected() == 1, "stream up")
    before = rig.clock.now()
    rig.fake.set_price("ETHUSDT", pos.tp_price + Decimal(5), high=pos.tp_price + Decimal(10))
    # The next poll is 10 simulated minutes away: only the push can start the close path.
    elapsed = await until_sim(rig, lambda: closed(rig, pos.id), "closed on the push")
    assert elapsed < SOON
    assert rig.clock.now() - before < POLL / 2
    done = rig.store.positions.get(pos.id)
    assert done is not None
    assert done.close_reason is CloseReason.TAKE_PROFIT
    assert done.realized_pnl
    # The close is booked from the push as soon as the position list confirms it, while the tick's
    # other requests (the sibling's cancel among them) are still out; the client keeps its time (its
    # limiter's waits) on the simulated clock, so that clock keeps moving here too.
    await until_sim(
        rig, lambda: not rig.venue(rig.fake.venue.open_algo_orders("ETHUSDT")), "sibling cancelled"
    )
    health = rig.store.health.get("exchange.stream.private")
    assert health is not None
    assert health.status is HealthStatus.OK
    assert health.data["up"] is True
    assert rig.runtime is not None
    assert rig.runtime.engine.streams is not None
    flat = rig.runtime.engine.streams.pushed.flat_since("ETHUSDT", pos.side)
    assert flat is not None, "the venue's flat push reached the monitor's inbox"
    assert flat >= pos.opened_at, "the venue's flat push reached the monitor's inbox"


async def test_a_fill_while_the_stream_is_stalled_is_reconciled_on_reconnect(rig: StreamRig) -> None:
    rig.heartbeat = timedelta(seconds=1)
    pos = await protected_position(rig)
    await until(lambda: rig.fake.ws.connected() == 1, "stream up")
    rig.fake.ws.faults.ping_interval = 60.0
    rig.fake.ws.stall()
    await until_sim(rig, lambda: monitor_idle(rig), "the entry's pushes handled")
    handshakes = rig.fake.ws.handshakes
    rig.fake.set_price("ETHUSDT", pos.tp_price + Decimal(5), high=pos.tp_price + Decimal(10))
    await until_sim(rig, lambda: rig.fake.ws.handshakes > handshakes, "the heartbeat's reconnect")
    elapsed = await until_sim(rig, lambda: closed(rig, pos.id), "closed by the reconciliation")
    assert elapsed < SOON
    assert rig.fake.ws.handshakes > handshakes
    done = rig.store.positions.get(pos.id)
    assert done is not None
    assert done.close_reason is CloseReason.TAKE_PROFIT
    warned = [e for e in rig.store.events.of_kind("health.degraded") if "stream.private" in e.message]
    assert warned, "the stream going down is a WARNING event"


async def test_a_fill_while_the_stream_is_dropped_is_reconciled_on_reconnect(rig: StreamRig) -> None:
    pos = await protected_position(rig)
    await until(lambda: rig.fake.ws.connected() == 1, "stream up")
    await until_sim(rig, lambda: monitor_idle(rig), "the entry's pushes handled")
    rig.fake.ws.faults.cut = True  # no reconnect can succeed while the fill happens
    rig.fake.ws.drop()
    await until(
        lambda: (
            (h := rig.store.health.get("exchange.stream.private")) is not None
            and h.status is HealthStatus.WARN
        ),
        "stream reported down",
    )
    rig.fake.set_price("ETHUSDT", pos.tp_price + Decimal(5), high=pos.tp_price + Decimal(10))
    await until_sim(rig, lambda: rig.fake.call(rig.fake.venue.positions()) == [], "filled on the venue")
    assert not closed(rig, pos.id), "nothing was pushed and no poll came due"
    rig.fake.ws.faults.cut = False
    elapsed = await until_sim(rig, lambda: closed(rig, pos.id), "closed by the reconciliation on reconnect")
    assert elapsed < SOON
    done = rig.store.positions.get(pos.id)
    assert done is not None
    assert done.close_reason is CloseReason.TAKE_PROFIT
    assert done.realized_pnl
    assert [row for row in rig.store.ailogs.select() if row.stage == "Position Closed"], "AI log queued"


async def test_while_the_stream_is_down_the_monitor_polls_at_the_stream_down_period(rig: StreamRig) -> None:
    """No push can come while the private stream is cut: the monitor polls every
    ``monitor_interval_stream_down`` instead of every ``monitor_interval`` (docs/configuration.md)."""
    rig.stream_down_poll = timedelta(seconds=2)
    pos = await protected_position(rig)
    await until(lambda: rig.fake.ws.connected() == 1, "stream up")
    await until_sim(rig, lambda: monitor_idle(rig), "the entry's pushes handled")
    rig.fake.ws.faults.cut = True
    rig.fake.ws.drop()
    await until(
        lambda: (
            (h := rig.store.health.get("exchange.stream.private")) is not None
            and h.status is HealthStatus.WARN
        ),
        "stream reported down",
    )
    await until_sim(rig, lambda: monitor_idle(rig), "the reconnect attempt's wake handled")
    rig.fake.set_price("ETHUSDT", pos.tp_price + Decimal(5), high=pos.tp_price + Decimal(10))
    elapsed = await until_sim(rig, lambda: closed(rig, pos.id), "closed by the stream-down poll")
    assert rig.fake.ws.connected() == 0, "closed while the stream was still down, so by a poll"
    assert elapsed < SOON, f"{elapsed} s: the stream-down period, not the {POLL} poll"
    done = rig.store.positions.get(pos.id)
    assert done is not None
    assert done.close_reason is CloseReason.TAKE_PROFIT


async def test_after_a_tick_stopped_with_a_pushed_close_unconfirmed_the_next_comes_at_the_short_period(
    rig: StreamRig,
) -> None:
    """``Monitor.recheck_soon`` (a sibling cancelled on the pushed word, the list unread): the engine's
    next poll is ``monitor_interval_stream_down`` away though the stream is up, and the normal one after."""
    rig.stream_down_poll = timedelta(seconds=2)
    await protected_position(rig)
    await until(lambda: rig.fake.ws.connected() == 1, "stream up")
    assert rig.runtime is not None
    engine = rig.runtime.engine
    assert engine._monitor_period() == POLL.total_seconds()
    engine.monitor.recheck_soon = True
    assert engine._monitor_period() == 2.0
    engine.monitor.recheck_soon = False
    assert engine._monitor_period() == POLL.total_seconds()


async def test_attached_tp_reported_only_by_order_detail_is_kept_once(rig: StreamRig) -> None:
    """WEEX may list an attached TP nowhere but on ``/order``: its id arrives on the private stream and
    the client confirms it by order detail, so no second TP is placed and it is never an orphan."""
    rig.fake.faults.attached_tp_in_history = False
    pos = await protected_position(rig)
    assert pos.tp_order_id is not None
    assert pos.sl_order_id is not None
    await until_sim(rig, lambda: monitor_idle(rig), "settled")
    await rig.clock.advance(11 * 60)  # one full poll of the monitor (orphan cleanup included)
    await until_sim(rig, lambda: monitor_idle(rig), "tick done")
    tps = [o for o in rig.fake.venue._acct.orders if o.kind == "tp"]
    assert len(tps) == 1, "one TP, still live"
    assert tps[0].status.is_open, "one TP, still live"
    assert tps[0].order_id == pos.tp_order_id
    assert rig.fake.counts["POST /capi/v3/placeTpSlOrder"] == 0


async def test_an_attached_tp_learned_from_the_stream_survives_a_restart_without_it(rig: StreamRig) -> None:
    """The TP id a push taught the client is in the database; a restart in REST-only mode confirms it by
    id from there, so it is neither placed again nor left unknown to the close path."""
    rig.fake.faults.attached_tp_in_history = False
    pos = await protected_position(rig)
    assert pos.tp_order_id is not None
    await until_sim(rig, lambda: monitor_idle(rig), "settled")
    await rig.stop()
    rig.fake.ws.faults.cut = True
    rig.fake.ws.drop()
    settings = rig.settings()
    settings.exchange.streams = False
    await rig.start(settings=settings)
    await rig.clock.advance(11 * 60)
    await until_sim(rig, lambda: monitor_idle(rig), "tick done")
    assert rig.runtime is not None
    legs = await rig.runtime.exchange.open_algo_orders("ETHUSDT")
    assert pos.tp_order_id in {leg.order_id for leg in legs if leg.kind == "tp"}
    tps = [o for o in rig.fake.venue._acct.orders if o.kind == "tp"]
    assert len(tps) == 1
    assert tps[0].status.is_open
    assert tps[0].order_id == pos.tp_order_id
    assert rig.fake.counts["POST /capi/v3/placeTpSlOrder"] == 0


async def test_attached_tp_in_history_is_kept_once_with_the_stream_cut(rig: StreamRig) -> None:
    """REST only from the start: the attached TP is found where ccxt's recordings show it (order history),
    so it is recorded once, never placed again, never cancelled as an orphan."""
    rig.fake.ws.faults.cut = True
    pos = await protected_position(rig)
    assert rig.fake.ws.connected() == 0
    assert pos.tp_order_id is not None
    assert pos.sl_order_id is not None
    await rig.clock.advance(11 * 60)
    await until_sim(rig, lambda: monitor_idle(rig), "tick done")
    tps = [o for o in rig.fake.venue._acct.orders if o.kind == "tp"]
    assert len(tps) == 1
    assert tps[0].status.is_open
    assert tps[0].order_id == pos.tp_order_id
    assert rig.fake.counts["POST /capi/v3/placeTpSlOrder"] == 0


async def test_live_tickers_come_from_the_public_stream(rig: StreamRig) -> None:
    """Live mode (a ``WeexClient``) subscribes the traded pairs' tickers: a price pushed by the fake is
    the client's ticker at once, with no REST ticker request; without a fresh push REST answers."""
    settings = rig.settings()
    runtime = await rig.start_unrun(settings=settings)
    streams = runtime.engine.streams
    assert streams is not None
    (public,) = (s for s in streams.streams if not s.private)
    assert public.channels == ["ETHUSDT@ticker"]
    task = asyncio.create_task(streams.run())
    try:
        # The fake pushes a ticker when the price changes: change it once the subscription is in place.
        await until(lambda: public.state.up, "public stream subscribed")
        rig.fake.set_price("ETHUSDT", Decimal("3123.4"))
        await until(lambda: streams.prices.get("ETHUSDT") is not None, "ticker pushed")
        rest_before = rig.fake.counts["GET /capi/v3/market/ticker/24hr"]
        ticker = await runtime.exchange.ticker("ETHUSDT")
        assert ticker.last == Decimal("3123.4")
        assert rig.fake.counts["GET /capi/v3/market/ticker/24hr"] == rest_before
        health = rig.store.health.get("exchange.stream.public")
        assert health is not None
        assert health.status is HealthStatus.OK
        await rig.clock.advance(60)  # the pushed price is now stale: REST answers
        await runtime.exchange.ticker("ETHUSDT")
        assert rig.fake.counts["GET /capi/v3/market/ticker/24hr"] == rest_before + 1
    finally:
        await streams.stop()
        task.cancel()
