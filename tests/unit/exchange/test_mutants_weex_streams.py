"""The WEEX websocket stream on its own ("The exchange is the source of truth": a push is read at once, a
dropped stream reconnects with back-off and asks for reconciliation; "No price sizes money unchecked": a
push that cannot be read is counted and skipped, never read as a figure).

A connection runs against a scripted WEEX on 127.0.0.1 (the frames alone are read in
``test_mutants_weex_frames.py``); the reconnect loop runs on scripted sessions and a sleep that only
records. Every wait is bounded, so a mutant that spins or hangs fails fast; no assertion depends on how
long anything took."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any, cast

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.http11 import Request, Response

from smt_engine.exchange.base import ExchangeError
from smt_engine.exchange.weex import streams
from smt_engine.exchange.weex.handshakes import HandshakeBudget
from smt_engine.exchange.weex.streams import (
    Credentials,
    StreamAuthRefused,
    StreamMessage,
    StreamState,
    WeexStream,
    ws_sign,
)
from tests.unit.exchange.test_mutants_weex_frames import AT, STAMP, TICKER

GUARD = 10.0  # real seconds: a guard against a hang, never a speed requirement


# ---------------------------------------------------------------- _handle


class Sent:
    """The client side of a connection as ``_handle`` uses it: every frame it sends is kept."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        self.frames.append(json.loads(text))


class Rig:
    """A stream with its pushes and reported states kept, on a scripted monotonic clock."""

    def __init__(self, url: str = "ws://127.0.0.1:1", **kw: Any) -> None:
        self.messages: list[StreamMessage] = []
        self.states: list[StreamState] = []
        self.connected: list[dict[str, Any]] = []
        self.ticks = iter(kw.pop("ticks", [100.0 + n for n in range(1000)]))
        self.stream = WeexStream(
            url,
            kw.pop("channels", ["ETHUSDT@ticker"]),
            on_message=self._message,
            on_state=self.states.append,
            on_connected=self._connected,
            monotonic=lambda: next(self.ticks),
            **{"sleep": never, "heartbeat": 5.0, **kw},
        )

    async def _message(self, message: StreamMessage) -> None:
        self.messages.append(message)

    async def _connected(self) -> None:
        ws = self.stream._ws
        self.connected.append(
            {
                "up": self.stream.state.up,
                "connects": self.stream.state.connects,
                "subscribed": self.stream._subscribed,
                "unanswered": self.stream._unanswered,
                "last_server_ping": self.stream._last_server_ping,
                "ping_interval": None if ws is None else ws.ping_interval,
                "close_timeout": None if ws is None else ws.close_timeout,
                "open": ws is not None,
            }
        )

    async def handle(self, sent: Sent, frame: dict[str, Any]) -> None:
        await self.stream._handle(cast(Any, sent), frame)


async def never(_seconds: float) -> None:
    """A keep-alive sleep that never ends: the session ends on the venue's side."""
    await asyncio.Event().wait()


def records(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == event]


@pytest.mark.parametrize("frame", [{"event": "ping", "time": 1}, {"type": "ping"}, {"e": "ping"}])
async def test_each_server_ping_is_answered_with_a_pong_of_the_next_request_id(frame: dict[str, Any]) -> None:
    rig, sent = Rig(), Sent()
    rig.stream._request_id = 6
    await rig.handle(sent, frame)
    await rig.handle(sent, frame)
    assert sent.frames == [{"id": "7", "method": "PONG"}, {"id": "8", "method": "PONG"}]
    assert rig.stream._request_id == 8
    assert rig.stream._last_server_ping == 101.0, "each ping is observed on the stream's clock"
    assert rig.messages == []
    assert rig.stream.state.malformed == 0


@pytest.mark.parametrize(
    "frame", [{"id": "4", "method": "PONG"}, {"event": "pong"}, {"type": "pong"}, {"result": True, "id": "1"}]
)
async def test_a_pong_echo_or_an_ack_is_read_quietly(
    frame: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    rig, sent = Rig(), Sent()
    caplog.set_level(logging.DEBUG, "smt_engine")
    await rig.handle(sent, frame)
    assert (sent.frames, rig.messages, rig.states, rig.stream._request_id) == ([], [], [], 0)
    assert rig.stream._last_server_ping is None
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_venue_error_frame_is_a_warning_with_its_words_and_no_push(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig, sent = Rig(), Sent()
    await rig.handle(sent, {"result": False, "id": "9", "msg": "INVALID_ARGUMENT: ETHUSD@ticker"})
    (record,) = records(caplog, "stream.error")
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "exchange.stream.public: WEEX said INVALID_ARGUMENT: ETHUSD@ticker"
    assert (sent.frames, rig.messages, rig.stream.state.malformed) == ([], [], 0)


async def test_an_unreadable_push_is_counted_reported_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    rig, sent = Rig(), Sent()
    frame = {"e": "orders", "E": STAMP, "d": "not rows"}
    await rig.handle(sent, frame)
    assert rig.messages == []
    assert rig.stream.state.malformed == 1
    assert [s.malformed for s in rig.states] == [1]
    (record,) = records(caplog, "stream.malformed")
    assert record.getMessage() == (
        "exchange.stream.public: skipped an unreadable frame (orders push without a list of rows): "
        + json.dumps(frame)[:120]
    )
    await rig.handle(sent, TICKER)
    assert rig.messages == [StreamMessage("ticker", [{"c": "3000.5"}], AT, "ETHUSDT")]
    assert rig.stream.state.malformed == 1


# ---------------------------------------------------------------- a scripted WEEX on 127.0.0.1

Play = Callable[[ServerConnection], Awaitable[None]]


async def close_at_once(ws: ServerConnection) -> None:
    await ws.close()


class Venue:
    """Acks every SUBSCRIBE (or refuses those naming ``refuse``), then ``play``s once the client has all
    its acks; or refuses every handshake with ``status``. Keeps handshakes and what the client sent."""

    def __init__(
        self, *, play: Play = close_at_once, status: HTTPStatus | None = None, refuse: str = ""
    ) -> None:
        self.play = play
        self.status = status
        self.refuse = refuse
        self.handshakes: list[Request] = []
        self.received: list[dict[str, Any]] = []
        self.order: list[str] | None = None
        self._server: Server | None = None

    async def __aenter__(self) -> Venue:
        self._server = await serve(self._handler, "127.0.0.1", 0, process_request=self._check)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes.append(request)
        if self.order is not None:
            self.order.append("handshake")
        if self.status is not None:
            return connection.respond(self.status, "no\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        want = 4 if ws.request is not None and ws.request.path.endswith("private") else 1
        acked = 0
        while acked < want:
            frame = json.loads(await ws.recv())
            self.received.append(frame)
            if self.refuse and self.refuse in frame["params"]:
                await ws.send(json.dumps({"result": False, "id": frame["id"], "msg": "INVALID_ARGUMENT"}))
                await ws.wait_closed()
                return
            await ws.send(json.dumps({"result": True, "id": frame["id"]}))
            acked += 1
        await self.play(ws)


async def session(rig: Rig) -> BaseException | None:
    """Run one session to its end (bounded): the exception it ended with."""
    task = asyncio.ensure_future(rig.stream._session())
    done, _ = await asyncio.wait({task}, timeout=GUARD)
    if task not in done:
        task.cancel()
        pytest.fail("the session did not end")
    return task.exception()


def secrets(resync: Callable[[], Awaitable[object]] | None = None) -> Credentials:
    return Credentials("key-1", "secret-1", "pass-1", server_ms=lambda: 1_775_753_432_000, resync=resync)


async def test_a_session_subscribes_reports_up_asks_for_reconciliation_then_reads_pushes() -> None:
    async def push_then_close(ws: ServerConnection) -> None:
        await ws.send(json.dumps(TICKER))
        await ws.send(json.dumps({"event": "ping", "time": 1}))
        assert json.loads(await ws.recv()) == {"id": "2", "method": "PONG"}
        await ws.close()

    async with Venue(play=push_then_close) as venue:
        rig = Rig(venue.url, ticks=[100.0, 101.0, 107.5])
        rig.stream._subscribed, rig.stream._lived = True, 99.0
        rig.stream._unanswered, rig.stream._last_server_ping = 3, 1.0
        ended = await session(rig)
    assert isinstance(ended, ConnectionClosed)
    assert rig.connected == [
        {
            "up": True,
            "connects": 1,
            "subscribed": True,
            "unanswered": 0,
            "last_server_ping": None,
            "ping_interval": None,
            "close_timeout": 2,
            "open": True,
        }
    ]
    assert rig.messages == [StreamMessage("ticker", [{"c": "3000.5"}], AT, "ETHUSDT")]
    assert rig.stream.state.detail == "subscribed to ETHUSDT@ticker"
    assert rig.stream._ws is None
    assert rig.stream._lived == 7.5, "from the connection to its end, on the stream's clock"
    (handshake,) = venue.handshakes
    assert handshake.path == "/v3/ws/public"
    assert handshake.headers["User-Agent"] == "smt-engine"
    assert "ACCESS-KEY" not in handshake.headers


async def test_the_connection_waits_for_its_handshake_only_as_long_as_the_heartbeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given: list[dict[str, Any]] = []

    def spy(url: str, **kw: Any) -> Any:
        given.append(kw)
        return connect(url, **kw)

    monkeypatch.setattr(streams, "connect", spy)
    async with Venue() as venue:
        await session(Rig(venue.url))
    assert [(k["open_timeout"], k["ping_interval"], k["close_timeout"]) for k in given] == [(None, None, 2)]

    silent = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    rig = Rig(f"ws://127.0.0.1:{port}", heartbeat=0.2)
    try:
        ended = await session(rig)
    finally:
        silent.close()
    assert type(ended) is TimeoutError, "a venue that never answers the handshake ends the session"
    assert rig.stream._ws is None
    assert rig.connected == []


async def test_the_private_session_measures_the_clock_once_then_signs_its_handshake_with_it() -> None:
    async with Venue() as venue:
        venue.order = []
        order = venue.order

        async def resync() -> None:
            order.append("resync")

        rig = Rig(venue.url, credentials=secrets(resync), channels=["orders", "fill", "positions", "account"])
        await session(rig)
        assert rig.stream._synced
        await session(rig)
    assert order == ["resync", "handshake", "handshake"]
    for handshake in venue.handshakes:
        assert handshake.path == "/v3/ws/private"
        assert handshake.headers["ACCESS-KEY"] == "key-1"
        assert handshake.headers["ACCESS-PASSPHRASE"] == "pass-1"
        assert handshake.headers["ACCESS-TIMESTAMP"] == "1775753432000"
        assert handshake.headers["ACCESS-SIGN"] == ws_sign("secret-1", "1775753432000")
    assert [f["params"] for f in venue.received] == [["orders"], ["fill"], ["positions"], ["account"]] * 2
    assert rig.stream.state.connects == 2


async def test_a_stream_already_measured_or_without_a_resync_does_not_resync() -> None:
    calls: list[str] = []

    async def resync() -> None:
        calls.append("resync")

    async with Venue() as venue:
        measured = Rig(
            venue.url, credentials=secrets(resync), channels=["orders", "fill", "positions", "account"]
        )
        measured.stream._synced = True
        await session(measured)
        bare = Rig(venue.url, credentials=secrets(None), channels=["orders", "fill", "positions", "account"])
        await session(bare)
        assert not bare.stream._synced
    assert calls == []
    assert measured.stream.state.connects == bare.stream.state.connects == 1


async def test_every_handshake_takes_a_slot_of_the_budget_under_the_streams_name() -> None:
    now = [0.0]
    binds: list[tuple[str, float]] = []

    async def advance(seconds: float) -> None:
        now[0] += seconds

    budget = HandshakeBudget(
        1, 60.0, monotonic=lambda: now[0], sleep=advance, on_bind=lambda n, w: binds.append((n, w))
    )
    async with Venue() as venue:
        rig = Rig(venue.url, handshakes=budget, name="exchange.stream.test")
        await session(rig)
        assert budget.used() == 1
        await session(rig)
    assert binds == [("exchange.stream.test", 60.0)]
    assert len(venue.handshakes) == 2


@pytest.mark.parametrize("status", [HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN])
async def test_a_handshake_refused_401_or_403_is_an_authentication_refusal(status: HTTPStatus) -> None:
    async with Venue(status=status) as venue:
        rig = Rig(venue.url, credentials=secrets())
        rig.stream._subscribed, rig.stream._lived = True, 99.0
        ended = await session(rig)
    assert isinstance(ended, StreamAuthRefused)
    assert str(ended) == f"authentication refused by WEEX (HTTP {int(status)})"
    assert ended.code == str(int(status))
    assert (rig.stream._subscribed, rig.stream._lived, rig.connected) == (False, 0.0, [])


async def test_a_handshake_refused_otherwise_is_a_venue_error_not_an_auth_refusal() -> None:
    async with Venue(status=HTTPStatus.SERVICE_UNAVAILABLE) as venue:
        rig = Rig(venue.url)
        ended = await session(rig)
    assert type(ended) is ExchangeError
    assert str(ended) == "handshake refused (HTTP 503)"
    assert ended.code == "503"
    assert not rig.stream.state.up


async def test_a_refused_subscription_ends_the_session_unsubscribed_and_never_up() -> None:
    async with Venue(refuse="ETHUSDT@ticker") as venue:
        rig = Rig(venue.url, ticks=[100.0, 150.0])
        ended = await session(rig)
    assert type(ended) is ExchangeError
    assert (rig.stream._subscribed, rig.stream._lived, rig.stream._ws) == (False, 0.0, None)
    assert rig.connected == []
    assert [s.up for s in rig.states] == []


# ---------------------------------------------------------------- run: reconnects and back-off

Outcome = tuple[bool, float, BaseException | None]
"""One scripted session: subscribed, seconds lived, what it ended with."""


class Loop:
    """``run`` over scripted sessions; the back-off's pauses are recorded, never slept."""

    def __init__(self, outcomes: list[Outcome], monkeypatch: pytest.MonkeyPatch, **kw: Any) -> None:
        self.outcomes = iter(outcomes)
        self.pauses: list[float] = []
        self.sessions = 0
        self.rig = Rig(sleep=self._sleep, **kw)
        monkeypatch.setattr(self.rig.stream, "_session", self._session)
        monkeypatch.setattr(streams, "random", SimpleNamespace(random=lambda: 0.25))

    async def _sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)

    async def _session(self) -> None:
        self.sessions += 1
        try:
            subscribed, lived, error = next(self.outcomes)
        except StopIteration:
            await self.rig.stream.stop()
            return
        self.rig.stream._subscribed, self.rig.stream._lived = subscribed, lived
        if error is not None:
            raise error

    async def run(self) -> None:
        await asyncio.wait_for(self.rig.stream.run(), GUARD)


async def test_the_back_off_doubles_to_its_cap_and_starts_over_only_after_a_stable_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    down = OSError("refused")
    loop = Loop(
        [
            (False, 0.0, down),
            (False, 0.0, down),
            (False, 0.0, down),
            (False, 0.0, down),
            (True, 29.9, down),  # up, but less than 3 heartbeats
            (True, 30.0, down),  # up 3 heartbeats: the venue is fine again
            (False, 100.0, None),  # ended without an error, never subscribed
        ],
        monkeypatch,
        backoff=1.0,
        backoff_max=5.0,
        heartbeat=10.0,
        stable_heartbeats=3,
    )
    await loop.run()
    # min(cap, backoff * 2 ** (failures - 1)) * (0.5 + 0.25)
    assert loop.pauses == [0.75, 1.5, 3.0, 3.75, 3.75, 0.75, 1.5]
    assert loop.sessions == 8
    assert loop.rig.stream.state.detail == "stopped"
    assert not loop.rig.stream.state.up


async def test_each_failure_is_reported_with_its_words_and_an_auth_refusal_measures_the_clock_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    refused = StreamAuthRefused("authentication refused by WEEX (HTTP 401)", code="401")
    loop = Loop(
        [
            (False, 0.0, refused),
            (False, 0.0, ExchangeError("handshake refused (HTTP 503)")),
            (False, 0.0, TimeoutError("no pong to 2 pings sent 30s apart (keep-alive)")),
            (False, 0.0, WebSocketException("gone")),
            (False, 0.0, ConnectionResetError("reset")),
            (False, 0.0, RuntimeError("a bug")),
        ],
        monkeypatch,
        credentials=secrets(),
    )
    loop.rig.stream._synced = True
    await loop.run()
    assert [(s.up, s.detail, s.auth_refused) for s in loop.rig.states] == [
        (False, "authentication refused by WEEX (HTTP 401)", True),
        (False, "handshake refused (HTTP 503)", False),
        (False, "no pong to 2 pings sent 30s apart (keep-alive)", False),
        (False, "WebSocketException: gone", False),
        (False, "ConnectionResetError: reset", False),
        (False, "RuntimeError: a bug", False),
        (False, "stopped", False),
    ]
    assert not loop.rig.stream._synced
    (auth,) = records(caplog, "stream.auth_refused")
    assert (auth.levelno, auth.getMessage()) == (
        logging.ERROR,
        "exchange.stream.private: authentication refused by WEEX (HTTP 401)",
    )
    downs = records(caplog, "stream.down")
    assert [(r.levelno, r.getMessage()) for r in downs] == [
        (logging.WARNING, "exchange.stream.private down: handshake refused (HTTP 503)"),
        (logging.WARNING, "exchange.stream.private down: no pong to 2 pings sent 30s apart (keep-alive)"),
        (logging.WARNING, "exchange.stream.private down: WebSocketException: gone"),
        (logging.WARNING, "exchange.stream.private down: ConnectionResetError: reset"),
        (logging.ERROR, "exchange.stream.private failed unexpectedly"),
    ]
    assert downs[-1].exc_info is not None
    assert isinstance(downs[-1].exc_info[1], RuntimeError)
    assert len(loop.pauses) == 6


def stops_then(error: BaseException | None) -> Callable[[Loop], Callable[[], Awaitable[None]]]:
    def bind(loop: Loop) -> Callable[[], Awaitable[None]]:
        async def stopped_session() -> None:
            loop.sessions += 1
            await loop.rig.stream.stop()
            if error is not None:
                raise error

        return stopped_session

    return bind


@pytest.mark.parametrize(
    "error",
    [None, StreamAuthRefused("refused"), OSError("closed"), TimeoutError("t"), RuntimeError("bug")],
)
async def test_a_session_ended_by_stop_reports_stopped_not_a_failure_and_does_not_back_off(
    error: BaseException | None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    loop = Loop([], monkeypatch)
    loop.rig.stream._synced = True
    monkeypatch.setattr(loop.rig.stream, "_session", stops_then(error)(loop))
    await loop.run()
    assert [(s.up, s.detail, s.auth_refused) for s in loop.rig.states] == [(False, "stopped", False)]
    assert (loop.sessions, loop.pauses) == (1, [])
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_stream_stopped_before_it_runs_never_connects(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = Loop([(False, 0.0, OSError("x"))], monkeypatch)
    await loop.rig.stream.stop()
    await loop.run()
    assert (loop.sessions, loop.pauses) == (0, [])
    assert [s.detail for s in loop.rig.states] == ["stopped"]


async def test_a_cancelled_run_is_cancelled_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = Loop([(False, 0.0, asyncio.CancelledError())], monkeypatch)
    with pytest.raises(asyncio.CancelledError):
        await loop.run()
    assert (loop.sessions, loop.pauses, loop.rig.states) == (1, [], [])
