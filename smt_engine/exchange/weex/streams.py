"""WEEX V3 contract websockets: the private stream (orders, fills, positions, account) and the public
one (tickers), each a self-healing connection that hands parsed pushes to a callback.

Protocol as WEEX's V3 websocket pages, ccxt pro (``ccxt/pro/weex.py``: ``authenticate``,
``subscribe_private``, ``handle_message``, ``pong``) and JKorf's Weex.Net
(``WeexSocketClientFuturesApi.cs``, ``WeexSubscription.cs``, ``WeexPingSubscription.cs``) describe it:

- hosts ``wss://ws-contract.weex.com/v3/ws/public`` and ``.../v3/ws/private``; a User-Agent is required;
- the private stream authenticates in the handshake headers ``ACCESS-KEY``, ``ACCESS-PASSPHRASE``,
  ``ACCESS-TIMESTAMP`` (ms) and ``ACCESS-SIGN`` = base64(HMAC-SHA256(secret, timestamp + "/v3/ws/private"));
  the timestamp is the server-corrected one REST signs with (ccxt's ``nonce()`` applies the same
  ``timeDifference``), so a drifting host clock does not lock the stream out with 401s;
- ``{"id": "1", "method": "SUBSCRIBE", "params": [...]}`` is answered ``{"result": true, "id": "1"}`` or
  ``{"result": false, "id": "1", "msg": ...}``. Private channels go **one per SUBSCRIBE**, as both ccxt
  pro (``params: [channel]``) and Weex.Net (one subscription per channel) send them; the public tickers
  (``BTCUSDT@ticker``) go in one SUBSCRIBE, as both send a list there;
- the server pings at the application level (``{"event": "ping", "time": ...}`` public,
  ``{"type": "ping", ...}`` private; ccxt pro's recordings); the client answers
  ``{"id": n, "method": "PONG"}`` (ccxt pro and Weex.Net agree; the v2 page's ``{"event": "pong"}`` is
  a v2 form). Server echoes of PONG in any form are control frames. The interval between server pings
  is observed, logged and reported in the stream's health row (WEEX documents none for V3);
- the client keeps the socket alive with protocol-level pings every ``heartbeat`` seconds, as ccxt does
  (``keepAlive`` 30 000 ms), and calls it dead only after ``max_missed_pongs`` pings in a row went
  unanswered (ccxt's ``maxPingPongMisses`` 2): a quiet stream that answers pings is healthy;
- pushes are ``{"e": channel, "E": ms, "v": seq, "d": [rows]}`` (a ticker also carries ``"s"``).

Reconnects back off exponentially with jitter, and the back-off starts over only after a connection
that lived ``stable_heartbeats`` heartbeats (a server that acks and closes at once meets a growing
back-off); every handshake of both streams also takes a slot of the shared ``HandshakeBudget``. A frame
that cannot be read is counted, logged and skipped.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from smt_engine.exchange.base import AuthError, ExchangeError
from smt_engine.exchange.weex.handshakes import HandshakeBudget

log = logging.getLogger(__name__)

PRIVATE_PATH = "/v3/ws/private"
PUBLIC_PATH = "/v3/ws/public"
PRIVATE_CHANNELS = ("orders", "fill", "positions", "account")
USER_AGENT = "smt-engine"


class StreamAuthRefused(AuthError):
    """WEEX refused the private stream's credentials (handshake or subscription)."""


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One push: ``channel`` is ``orders``, ``fill``, ``positions``, ``account`` or ``ticker``."""

    channel: str
    rows: list[dict[str, Any]]
    at: datetime | None
    """The venue's time of the push (``E``, by WEEX's clock); None when the frame carries none."""
    symbol: str | None = None
    event: str | None = None


@dataclass(frozen=True, slots=True)
class StreamState:
    """What `smt status` and the console show for a stream."""

    up: bool
    since: datetime
    detail: str = ""
    last_message_at: datetime | None = None
    connects: int = 0
    malformed: int = 0
    auth_refused: bool = False
    server_ping_interval: float | None = None
    """Seconds between the server's last two application pings on this connection (observed)."""
    pongs: int = 0
    """Protocol pongs received (answers to our keep-alive pings), over the stream's life."""

    def as_data(self) -> dict[str, Any]:
        return {
            "up": self.up,
            "since": self.since.isoformat(),
            "last_message_at": self.last_message_at.isoformat() if self.last_message_at else None,
            "connects": self.connects,
            "malformed": self.malformed,
            "server_ping_interval_s": self.server_ping_interval,
            "pongs": self.pongs,
        }


def ws_sign(secret: str, timestamp: str, path: str = PRIVATE_PATH) -> str:
    digest = hmac.new(secret.encode(), (timestamp + path).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def parse_frame(raw: str | bytes) -> dict[str, Any]:
    """A frame as a JSON object; anything else raises ``ValueError`` (recorded and skipped)."""
    try:
        data = json.loads(raw)
    except RecursionError:  # a frame nested deeper than the parser's stack: hostile or broken
        raise ValueError("nested too deeply to read") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


def is_ping(frame: dict[str, Any]) -> bool:
    """A server ping: ``{"event": "ping"}`` (public) or ``{"type": "ping"}`` (private), ccxt pro."""
    return "ping" in (frame.get("event"), frame.get("type"), frame.get("e"))


def is_control(frame: dict[str, Any]) -> bool:
    """A ping, or a PONG echo in any of the forms WEEX's sources show (``{"id", "method": "PONG"}``,
    ccxt pro's comment; ``{"event": "pong"}``, the v2 page)."""
    if str(frame.get("method")).upper() == "PONG":
        return True
    return "pong" in (frame.get("event"), frame.get("type")) or is_ping(frame)


def message_of(frame: dict[str, Any]) -> StreamMessage | None:
    """The push in a frame, or ``None`` for control frames (acks, pings). Bad pushes raise ValueError."""
    channel = frame.get("e")
    if channel is None or is_control(frame):
        return None
    rows = frame.get("d")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{channel} push without a list of rows")
    try:
        stamp = frame.get("E")
        at = datetime.fromtimestamp(int(stamp) / 1000, UTC) if stamp not in (None, "", 0, "0") else None
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{channel} push with a bad time {frame.get('E')!r}") from exc
    symbol = frame.get("s")
    return StreamMessage(
        channel=str(channel),
        rows=rows,
        at=at,
        symbol=str(symbol) if symbol else None,
        event=str(frame["msgEvent"]) if frame.get("msgEvent") else None,
    )


@dataclass
class Credentials:
    """Keys for the private handshake, with the REST transport's server-corrected clock.

    ``server_ms`` is the timestamp REST signs with (wall time plus the measured server offset);
    ``resync`` measures that offset again (it runs before the first private handshake and after a
    refused one, so a host clock more than 30 s off does not mean 401 forever)."""

    api_key: str
    api_secret: str = field(repr=False)
    passphrase: str = field(repr=False)
    server_ms: Callable[[], int] | None = field(default=None, repr=False)
    resync: Callable[[], Awaitable[object]] | None = field(default=None, repr=False)


class WeexStream:
    """One websocket (private or public) kept alive until ``stop()``.

    ``on_message`` gets every push; ``on_state`` every change of state (and a refreshed
    ``last_message_at`` at most every ``state_refresh`` seconds while up); ``on_connected`` runs after each
    successful (re)subscription, so the caller can reconcile over REST what it may have missed.
    ``sleep``/``monotonic`` are the clock the keep-alive, the back-off and the handshake budget run on.
    """

    def __init__(
        self,
        base_url: str,
        channels: list[str],
        *,
        on_message: Callable[[StreamMessage], Awaitable[None]],
        on_state: Callable[[StreamState], None] = lambda _s: None,
        on_connected: Callable[[], Awaitable[None]] | None = None,
        credentials: Credentials | None = None,
        heartbeat: float = 30.0,
        max_missed_pongs: int = 2,
        stable_heartbeats: int = 3,
        backoff: float = 0.5,
        backoff_max: float = 60.0,
        state_refresh: float = 5.0,
        handshakes: HandshakeBudget | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        name: str | None = None,
    ) -> None:
        self.private = credentials is not None
        self.url = base_url.rstrip("/") + (PRIVATE_PATH if self.private else PUBLIC_PATH)
        self.channels = channels
        self.name = name or ("exchange.stream.private" if self.private else "exchange.stream.public")
        self._on_message = on_message
        self._on_state = on_state
        self._on_connected = on_connected
        self._credentials = credentials
        self.heartbeat = heartbeat
        self.max_missed_pongs = max_missed_pongs
        self.stable_heartbeats = stable_heartbeats
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.state_refresh = state_refresh
        self.handshakes = handshakes
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall_ms = wall_ms
        self.state = StreamState(up=False, since=_now(), detail="not connected yet")
        self._stopping = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._request_id = 0
        self._last_report = 0.0
        self._subscribed = False
        self._lived = 0.0
        self._synced = False
        self._unanswered = 0
        self._last_server_ping: float | None = None

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Connect, subscribe and read forever; every failure is reported and retried with back-off."""
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except StreamAuthRefused as exc:
                self._synced = False  # a drifted clock is the usual cause: measure the offset again
                if not self._stopping.is_set():
                    self._set(up=False, detail=str(exc), auth_refused=True)
                    log.error("%s: %s", self.name, exc, extra={"event": "stream.auth_refused"})
            except (OSError, WebSocketException, TimeoutError, ExchangeError) as exc:
                if not self._stopping.is_set():
                    self._set(up=False, detail=_describe(exc))
                    log.warning("%s down: %s", self.name, _describe(exc), extra={"event": "stream.down"})
            except Exception as exc:  # a stream bug must never take the engine down: report and retry
                if not self._stopping.is_set():
                    self._set(up=False, detail=_describe(exc))
                    log.exception("%s failed unexpectedly", self.name, extra={"event": "stream.down"})
            if self._stopping.is_set():
                break
            # Only a connection that stayed up for several heartbeats proves the venue is fine again;
            # one that subscribed and was closed at once must not restart the back-off (a storm).
            stable = self._subscribed and self._lived >= self.stable_heartbeats * self.heartbeat
            failures = 1 if stable else failures + 1
            delay = min(self.backoff_max, self.backoff * 2 ** (failures - 1)) * (0.5 + random.random())
            await self._pause(delay)
        self._set(up=False, detail="stopped")

    async def _pause(self, seconds: float) -> None:
        """Sleep on the stream's clock, cut short by ``stop()``."""
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)

    async def stop(self) -> None:
        self._stopping.set()
        if self._ws is not None:
            await self._ws.close()

    # ------------------------------------------------------------------ one connection

    def _headers(self) -> dict[str, str]:
        if self._credentials is None:
            return {}
        clock = self._credentials.server_ms or self._wall_ms
        ts = str(clock())
        return {
            "ACCESS-KEY": self._credentials.api_key,
            "ACCESS-PASSPHRASE": self._credentials.passphrase,
            "ACCESS-TIMESTAMP": ts,
            "ACCESS-SIGN": ws_sign(self._credentials.api_secret, ts),
        }

    async def _session(self) -> None:
        self._subscribed = False
        self._lived = 0.0
        if self._credentials is not None and self._credentials.resync is not None and not self._synced:
            await self._credentials.resync()
            self._synced = True
        if self.handshakes is not None:
            await self.handshakes.acquire(self.name)
        try:
            async with asyncio.timeout(self.heartbeat):
                ws = await connect(
                    self.url,
                    additional_headers=self._headers(),
                    user_agent_header=USER_AGENT,
                    open_timeout=None,
                    ping_interval=None,  # our keep-alive below pings and counts the misses itself
                    close_timeout=2,
                )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise StreamAuthRefused(
                    f"authentication refused by WEEX (HTTP {status})", code=str(status)
                ) from exc
            raise ExchangeError(f"handshake refused (HTTP {status})", code=str(status)) from exc
        self._ws = ws
        self._unanswered = 0
        self._last_server_ping = None
        connected_at = self._monotonic()
        try:
            async with ws:
                await self._subscribe(ws)
                self._subscribed = True
                self._set(up=True, detail=self._up_detail(), connected=True)
                if self._on_connected is not None:
                    await self._on_connected()
                await self._serve(ws)
        finally:
            self._ws = None
            if self._subscribed:
                self._lived = self._monotonic() - connected_at

    async def _subscribe(self, ws: ClientConnection) -> None:
        # Private: one channel per SUBSCRIBE (ccxt pro subscribe_private, Weex.Net WeexSubscription);
        # public: the ticker list in one (ccxt pro subscribe_public, Weex.Net SubscribeToTickerUpdates).
        batches = [[c] for c in self.channels] if self.private else [self.channels]
        for batch in batches:
            await self._subscribe_one(ws, batch)

    async def _subscribe_one(self, ws: ClientConnection, channels: list[str]) -> None:
        self._request_id += 1
        rid = str(self._request_id)
        await ws.send(json.dumps({"id": rid, "method": "SUBSCRIBE", "params": channels}))
        async with asyncio.timeout(self.heartbeat):
            while True:
                frame = await self._next_frame(ws)
                if frame is None:
                    continue
                if str(frame.get("id")) == rid and "result" in frame:
                    if frame["result"] is True:
                        return
                    msg = str(frame.get("msg") or "subscription refused")
                    lowered = msg.lower()
                    if self.private and ("auth" in lowered or "sign" in lowered or "key" in lowered):
                        raise StreamAuthRefused(f"authentication refused by WEEX: {msg}")
                    raise ExchangeError(f"subscription to {', '.join(channels)} refused: {msg}", raw=frame)
                await self._handle(ws, frame)

    async def _serve(self, ws: ClientConnection) -> None:
        """Read pushes while the keep-alive pings; whichever ends first (with its error) ends the session."""
        reader = asyncio.ensure_future(self._read(ws))
        pinger = asyncio.ensure_future(self._keepalive(ws))
        try:
            done, _ = await asyncio.wait({reader, pinger}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, pinger):
                task.cancel()
            await asyncio.gather(reader, pinger, return_exceptions=True)
        for task in done:
            task.result()

    async def _keepalive(self, ws: ClientConnection) -> None:
        """A protocol ping every heartbeat; dead after ``max_missed_pongs`` unanswered in a row (ccxt)."""
        while True:
            await self._sleep(self.heartbeat)
            if self._unanswered >= self.max_missed_pongs:
                raise TimeoutError(
                    f"no pong to {self._unanswered} pings sent {self.heartbeat:g}s apart (keep-alive)"
                )
            waiter = asyncio.ensure_future(await ws.ping())
            self._unanswered += 1
            waiter.add_done_callback(self._ponged)

    def _ponged(self, waiter: asyncio.Future[float]) -> None:
        if waiter.cancelled() or waiter.exception() is not None:
            return
        self._unanswered = 0
        self.state = replace(self.state, pongs=self.state.pongs + 1)

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            frame = await self._next_frame(ws)
            if frame is not None:
                await self._handle(ws, frame)

    async def _next_frame(self, ws: ClientConnection) -> dict[str, Any] | None:
        """The next readable frame; ``None`` for an unreadable one (recorded)."""
        raw = await ws.recv()
        self._touch()
        try:
            return parse_frame(raw)
        except ValueError as exc:
            self._malformed(raw, exc)
            return None

    async def _handle(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        if is_ping(frame):
            self._server_pinged()
            self._request_id += 1
            await ws.send(json.dumps({"id": str(self._request_id), "method": "PONG"}))
            return
        if is_control(frame):
            return
        if frame.get("result") is False:
            log.warning("%s: WEEX said %s", self.name, frame.get("msg"), extra={"event": "stream.error"})
            return
        try:
            message = message_of(frame)
        except ValueError as exc:
            self._malformed(json.dumps(frame), exc)  # the warning shows its first 120 characters
            return
        if message is not None:
            await self._on_message(message)

    def _server_pinged(self) -> None:
        """Observe WEEX's ping interval (undocumented for V3): logged when first seen or when it moves."""
        now = self._monotonic()
        last, self._last_server_ping = self._last_server_ping, now
        if last is None:
            return
        interval = round(now - last, 1)
        known = self.state.server_ping_interval
        if known is None or abs(interval - known) > max(1.0, known * 0.2):
            log.info(
                "%s: WEEX pings every %.1f s", self.name, interval, extra={"event": "stream.server_ping"}
            )
            self.state = replace(self.state, server_ping_interval=interval)
            self._set(up=self.state.up, detail=self._up_detail() if self.state.up else self.state.detail)

    def _up_detail(self) -> str:
        detail = "subscribed to " + ", ".join(self.channels)
        interval = self.state.server_ping_interval
        return detail + (f"; WEEX pings every {interval:g} s" if interval is not None else "")

    # ------------------------------------------------------------------ state

    def _malformed(self, raw: str | bytes, exc: Exception) -> None:
        self.state = replace(self.state, malformed=self.state.malformed + 1)
        text = raw if isinstance(raw, str) else raw.decode(errors="replace")
        log.warning(
            "%s: skipped an unreadable frame (%s): %.120s",
            self.name,
            exc,
            text,
            extra={"event": "stream.malformed"},
        )
        self._on_state(self.state)

    def _touch(self) -> None:
        self.state = replace(self.state, last_message_at=_now())
        now = time.monotonic()
        if self.state.up and now - self._last_report >= self.state_refresh:
            self._last_report = now
            self._on_state(self.state)

    def _set(self, *, up: bool, detail: str, connected: bool = False, auth_refused: bool = False) -> None:
        changed = up != self.state.up
        self.state = replace(
            self.state,
            up=up,
            since=_now() if changed else self.state.since,
            detail=detail,
            connects=self.state.connects + (1 if connected else 0),
            auth_refused=auth_refused,
        )
        self._last_report = time.monotonic()
        self._on_state(self.state)


def _now() -> datetime:
    return datetime.now(UTC)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, ExchangeError | TimeoutError) else f"{type(exc).__name__}: {text}"


__all__ = [
    "PRIVATE_CHANNELS",
    "Credentials",
    "StreamAuthRefused",
    "StreamMessage",
    "StreamState",
    "WeexStream",
    "is_control",
    "is_ping",
    "message_of",
    "parse_frame",
    "ws_sign",
]
