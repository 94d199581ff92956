"""The WEEX stream's helpers ("The exchange is the source of truth": the subscriptions go as WEEX
documents them and a dead socket is found by its unanswered pings; "No price sizes money unchecked": a
raw frame that cannot be read is counted and skipped, never read as a figure).

The keep-alive and the subscriptions run against a scripted WEEX on 127.0.0.1 (``Venue`` of
``test_mutants_weex_streams.py``, or a bare handler here); the keep-alive's sleep is a yield, so a ping
goes out at once. Every wait is bounded; no assertion depends on how long anything took."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from smt_engine.exchange.base import ExchangeError
from smt_engine.exchange.weex import streams
from smt_engine.exchange.weex.streams import StreamAuthRefused, StreamMessage
from tests.unit.exchange.test_mutants_weex_frames import AT, TICKER
from tests.unit.exchange.test_mutants_weex_streams import GUARD, Rig, Venue, records, secrets, session

PRIVATE = ["orders", "fill", "positions", "account"]


async def yield_once(_seconds: float) -> None:
    """The keep-alive's sleep: no time passes, the loop runs what is ready."""
    await asyncio.sleep(0)


async def until(check: Callable[[], bool], tries: int = 10_000) -> bool:
    """Poll ``check`` (a bounded number of times): whether it came to hold."""
    for _ in range(tries):
        if check():
            return True
        await asyncio.sleep(0.001)
    return check()


# ---------------------------------------------------------------- unreadable raw frames


async def test_an_unreadable_raw_frame_is_counted_logged_and_skipped_and_the_stream_reads_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def garbage_then_push(ws: ServerConnection) -> None:
        await ws.send("not json")
        await ws.send("[1, 2]")
        await ws.send(b"\xff{" + b"x" * 200)
        await ws.send(json.dumps(TICKER))
        await ws.close()

    async with Venue(play=garbage_then_push) as venue:
        rig = Rig(venue.url)
        ended = await session(rig)
    assert isinstance(ended, ConnectionClosed), "only the venue's close ends the session"
    assert rig.messages == [StreamMessage("ticker", [{"c": "3000.5"}], AT, "ETHUSDT")]
    assert rig.stream.state.malformed == 3
    assert [s.malformed for s in rig.states if not s.up or s.malformed][-3:] == [1, 2, 3]
    texts = [r.getMessage() for r in records(caplog, "stream.malformed")]
    assert texts[0] == (
        "exchange.stream.public: skipped an unreadable frame "
        "(Expecting value: line 1 column 1 (char 0)): not json"
    )
    assert texts[1] == (
        "exchange.stream.public: skipped an unreadable frame (expected a JSON object, got list): [1, 2]"
    )
    assert texts[2].endswith("): \ufffd{" + "x" * 118), "bytes decoded with replacement, cut at 120"
    assert len(texts) == 3
    assert all(r.levelno == logging.WARNING for r in records(caplog, "stream.malformed"))


async def test_an_unreadable_frame_before_the_ack_is_skipped_and_the_subscription_still_completes() -> None:
    async def handler(ws: ServerConnection) -> None:
        frame = json.loads(await ws.recv())
        await ws.send("{broken")
        await ws.send(json.dumps({"event": "ping", "time": 1}))  # a ping before the ack is answered
        pongs.append(json.loads(await ws.recv()))
        await ws.send(json.dumps({"id": frame["id"], "method": "PONG"}))  # same id, no result: not an ack
        await ws.send(json.dumps(TICKER))  # a push before the ack is read as a push
        await ws.send(json.dumps({"result": True, "id": "99"}))  # another request's ack
        await ws.send(json.dumps({"result": True, "id": frame["id"]}))
        await ws.close()

    pongs: list[dict[str, Any]] = []
    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        rig = Rig(f"ws://127.0.0.1:{port}")
        seen: list[tuple[StreamMessage, bool]] = []

        async def on_message(message: StreamMessage) -> None:
            seen.append((message, rig.stream._subscribed))

        rig.stream._on_message = on_message
        ended = await session(rig)
    assert isinstance(ended, ConnectionClosed)
    assert rig.stream.state.malformed == 1
    assert pongs == [{"id": "2", "method": "PONG"}]
    assert seen == [(StreamMessage("ticker", [{"c": "3000.5"}], AT, "ETHUSDT"), False)], "read before the ack"
    assert len(rig.connected) == 1, "subscribed once, then up"


# ---------------------------------------------------------------- subscriptions


async def test_private_channels_go_one_per_subscribe_and_public_tickers_in_one() -> None:
    async with Venue() as venue:
        private = Rig(venue.url, credentials=secrets(), channels=list(PRIVATE))
        private.stream._request_id = 4
        await session(private)
        public = Rig(venue.url, channels=["ETHUSDT@ticker", "BTCUSDT@ticker"])
        await session(public)
    assert venue.received == [
        {"id": "5", "method": "SUBSCRIBE", "params": ["orders"]},
        {"id": "6", "method": "SUBSCRIBE", "params": ["fill"]},
        {"id": "7", "method": "SUBSCRIBE", "params": ["positions"]},
        {"id": "8", "method": "SUBSCRIBE", "params": ["account"]},
        {"id": "1", "method": "SUBSCRIBE", "params": ["ETHUSDT@ticker", "BTCUSDT@ticker"]},
    ]
    assert (private.stream._request_id, public.stream._request_id) == (8, 1)
    assert private.stream.state.detail == "subscribed to orders, fill, positions, account"


async def refusal(msg: str | None, *, private: bool, public: list[str] | None = None) -> BaseException | None:
    async def handler(ws: ServerConnection) -> None:
        frame = json.loads(await ws.recv())
        answer: dict[str, Any] = {"result": False, "id": frame["id"]}
        if msg is not None:
            answer["msg"] = msg
        await ws.send(json.dumps(answer))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        kw: dict[str, Any] = {"credentials": secrets(), "channels": ["orders"]} if private else {}
        if public is not None and not private:
            kw["channels"] = public
        return await session(Rig(f"ws://127.0.0.1:{port}", **kw))


@pytest.mark.parametrize("msg", ["Auth failed", "invalid SIGN", "API KEY expired"])
async def test_a_private_subscription_refused_for_its_credentials_is_an_auth_refusal(msg: str) -> None:
    ended = await refusal(msg, private=True)
    assert type(ended) is StreamAuthRefused
    assert str(ended) == f"authentication refused by WEEX: {msg}"


@pytest.mark.parametrize(
    ("msg", "private", "words"),
    [
        ("INVALID_ARGUMENT", True, "subscription to orders refused: INVALID_ARGUMENT"),
        ("auth failed", False, "subscription to ETHUSDT@ticker, BTCUSDT@ticker refused: auth failed"),
        (None, False, "subscription to ETHUSDT@ticker, BTCUSDT@ticker refused: subscription refused"),
        ("", True, "subscription to orders refused: subscription refused"),
    ],
)
async def test_another_refusal_is_a_venue_error_naming_the_channels_and_the_venues_words(
    msg: str | None, private: bool, words: str
) -> None:
    ended = await refusal(msg, private=private, public=["ETHUSDT@ticker", "BTCUSDT@ticker"])
    assert type(ended) is ExchangeError
    assert str(ended) == words
    assert ended.raw == {"result": False, "id": "1", **({} if msg is None else {"msg": msg})}


async def test_a_subscription_never_answered_ends_the_session_after_a_heartbeat() -> None:
    async def mute(ws: ServerConnection) -> None:
        await ws.recv()
        await ws.wait_closed()

    async with serve(mute, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        rig = Rig(f"ws://127.0.0.1:{port}", heartbeat=0.2)
        ended = await session(rig)
    assert type(ended) is TimeoutError
    assert rig.connected == []


# ---------------------------------------------------------------- keep-alive


async def test_a_quiet_stream_that_answers_pings_stays_up_and_counts_its_pongs() -> None:
    rig: Rig

    async def quiet(ws: ServerConnection) -> None:
        assert await until(lambda: rig.stream.state.pongs >= 5)
        await ws.close()

    async def heartbeat(_seconds: float) -> None:
        """Long enough for the last ping's pong to come back (bounded: a lost pong stays a miss)."""
        await until(lambda: rig.stream._unanswered == 0, tries=1000)

    async with Venue(play=quiet) as venue:
        rig = Rig(venue.url, sleep=heartbeat)
        ended = await session(rig)
    assert isinstance(ended, ConnectionClosed), "answered pings never end the session"
    assert rig.stream.state.pongs >= 5
    assert rig.stream._unanswered <= 1


class Pings:
    """The client socket's ``ping`` as ``_keepalive`` uses it: answered as scripted, else never."""

    def __init__(self, answered: set[int]) -> None:
        self.answered = answered
        self.sent = 0
        self.waiters: list[asyncio.Future[float]] = []

    async def ping(self) -> asyncio.Future[float]:
        self.sent += 1
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if self.sent in self.answered:
            waiter.set_result(0.001)
        self.waiters.append(waiter)
        return waiter


async def keepalive(rig: Rig, pings: Pings) -> BaseException:
    with pytest.raises(TimeoutError) as ended:
        await asyncio.wait_for(rig.stream._keepalive(cast(Any, pings)), GUARD)
    return ended.value


@pytest.mark.parametrize("misses", [1, 2, 3])
async def test_the_keepalive_ends_after_max_missed_pongs_pings_in_a_row_unanswered(misses: int) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    rig = Rig(sleep=sleep, heartbeat=7.5, max_missed_pongs=misses)
    pings = Pings(answered=set())
    ended = await keepalive(rig, pings)
    assert str(ended) == f"no pong to {misses} pings sent 7.5s apart (keep-alive)"
    assert pings.sent == misses
    assert slept == [7.5] * (misses + 1)
    assert rig.stream.state.pongs == 0


async def test_a_pong_resets_the_miss_count_so_only_misses_in_a_row_end_the_stream() -> None:
    rig = Rig(sleep=yield_once)
    pings = Pings(answered={1, 3})  # 1 answered, 2 missed, 3 answered, 4 and 5 missed
    ended = await keepalive(rig, pings)
    assert str(ended) == "no pong to 2 pings sent 5s apart (keep-alive)"
    assert pings.sent == 5
    assert rig.stream.state.pongs == 2
    assert rig.stream._unanswered == 2


async def test_a_ping_that_failed_or_was_cancelled_is_no_pong() -> None:
    rig = Rig()
    rig.stream._unanswered = 2
    loop = asyncio.get_running_loop()
    failed: asyncio.Future[float] = loop.create_future()
    failed.set_exception(ConnectionError("closed"))
    cancelled: asyncio.Future[float] = loop.create_future()
    cancelled.cancel()
    rig.stream._ponged(failed)
    rig.stream._ponged(cancelled)
    assert (rig.stream._unanswered, rig.stream.state.pongs) == (2, 0)
    answered: asyncio.Future[float] = loop.create_future()
    answered.set_result(0.01)
    rig.stream._ponged(answered)
    rig.stream._ponged(answered)
    assert (rig.stream._unanswered, rig.stream.state.pongs) == (0, 2)


async def test_unanswered_pings_end_a_live_session_with_the_keepalive_error() -> None:
    rig: Rig

    async def silence(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with Venue(play=silence) as venue:
        rig = Rig(venue.url, sleep=yield_once)
        pings = Pings(answered=set())

        async def mute_pings() -> None:
            assert rig.stream._ws is not None
            rig.stream._ws.ping = pings.ping  # type: ignore[method-assign,assignment]

        rig.stream._on_connected = mute_pings
        ended = await session(rig)
    assert type(ended) is TimeoutError
    assert str(ended) == "no pong to 2 pings sent 5s apart (keep-alive)"
    assert pings.sent == 2
    assert rig.stream._ws is None


async def test_a_session_ends_with_the_readers_error_and_its_keepalive_stops() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.Event().wait()

    async with Venue() as venue:  # acks, then closes at once
        rig = Rig(venue.url, sleep=sleep)
        ended = await session(rig)
        await asyncio.sleep(0)
    assert isinstance(ended, ConnectionClosed)
    assert slept == [5.0], "the keep-alive was started and is not left running"
    assert rig.stream.state.pongs == 0


# ---------------------------------------------------------------- state


class Clock:
    """``_now`` and ``time.monotonic`` of the streams module, scripted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
        self.mono = 1000.0
        monkeypatch.setattr(streams, "_now", lambda: self.now)
        monkeypatch.setattr(streams, "time", SimpleNamespace(monotonic=lambda: self.mono))

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


def test_since_is_kept_while_up_or_down_is_unchanged_and_moves_when_it_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    rig = Rig()
    start = rig.stream.state.since
    clock.advance(1)
    rig.stream._set(up=False, detail="down: reset")
    assert rig.stream.state.since == start, "still down: the outage started earlier"
    clock.advance(1)
    rig.stream._set(up=True, detail="subscribed", connected=True)
    up_at = clock.now
    clock.advance(1)
    rig.stream._set(up=True, detail="subscribed; WEEX pings every 5 s")
    assert rig.stream.state.since == up_at
    clock.advance(1)
    rig.stream._set(up=False, detail="refused", auth_refused=True)
    assert [(s.up, s.since, s.detail, s.connects, s.auth_refused) for s in rig.states] == [
        (False, start, "down: reset", 0, False),
        (True, up_at, "subscribed", 1, False),
        (True, up_at, "subscribed; WEEX pings every 5 s", 1, False),
        (False, clock.now, "refused", 1, True),
    ]
    assert rig.stream._last_report == clock.mono


def test_a_frame_touches_the_last_message_time_and_is_reported_at_most_every_state_refresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    rig = Rig(state_refresh=5.0)
    rig.stream._touch()
    assert rig.stream.state.last_message_at == clock.now
    assert rig.states == [], "a stream that is down reports no refresh"
    rig.stream._set(up=True, detail="subscribed")
    clock.advance(4.9)
    rig.stream._touch()
    assert len(rig.states) == 1
    clock.advance(0.1)
    rig.stream._touch()
    assert [s.last_message_at for s in rig.states[1:]] == [clock.now]
    assert rig.stream._last_report == clock.mono
    clock.advance(4.9)
    rig.stream._touch()
    assert len(rig.states) == 2
    assert rig.stream.state.last_message_at == clock.now


def test_a_malformed_frame_is_reported_with_the_new_count(caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(name="exchange.stream.x")
    rig.stream._malformed("y" * 130, ValueError("bad"))
    rig.stream._malformed(b"\xffz", ValueError("worse"))
    assert [s.malformed for s in rig.states] == [1, 2]
    assert [r.getMessage() for r in records(caplog, "stream.malformed")] == [
        "exchange.stream.x: skipped an unreadable frame (bad): " + "y" * 120,
        "exchange.stream.x: skipped an unreadable frame (worse): \ufffdz",
    ]


async def test_the_reader_hands_every_readable_frame_on_and_skips_the_rest() -> None:
    class Frames:
        def __init__(self, raw: list[str]) -> None:
            self.raw = iter(raw)
            self.sent: list[str] = []

        async def recv(self) -> str:
            try:
                return next(self.raw)
            except StopIteration:
                raise ConnectionError("closed") from None

        async def send(self, text: str) -> None:
            self.sent.append(text)

    rig = Rig()
    ws = Frames(["nope", json.dumps(TICKER), json.dumps({"type": "ping"}), json.dumps(TICKER)])
    read: Awaitable[None] = rig.stream._read(cast(Any, ws))
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(read, GUARD)
    assert len(rig.messages) == 2
    assert [json.loads(t) for t in ws.sent] == [{"id": "1", "method": "PONG"}]
    assert rig.stream.state.malformed == 1
