"""WEEX V3 contract websockets: the private stream (orders, fills, positions, account) and the public
one (tickers), each a self-healing connection that hands parsed pushes to a callback.

Protocol as WEEX's V3 websocket pages and ccxt's pro implementation (``python/ccxt/pro/weex.py``:
``authenticate``, ``subscribe_private``, ``handle_message``, ``pong``) describe it:

- hosts ``wss://ws-contract.weex.com/v3/ws/public`` and ``.../v3/ws/private``; a User-Agent is required;
- the private stream authenticates in the handshake headers ``ACCESS-KEY``, ``ACCESS-PASSPHRASE``,
  ``ACCESS-TIMESTAMP`` (ms) and ``ACCESS-SIGN`` = base64(HMAC-SHA256(secret, timestamp + "/v3/ws/private"));
- ``{"id": "1", "method": "SUBSCRIBE", "params": ["orders", ...]}`` is answered
  ``{"result": true, "id": "1"}`` or ``{"result": false, "id": "1", "msg": ...}``; public channels are
  ``BTCUSDT@ticker``;
- the server pings (``{"type"|"event": "ping", "time": ...}``); the client answers
  ``{"id": n, "method": "PONG"}``;
- pushes are ``{"e": channel, "E": ms, "v": seq, "d": [rows]}`` (a ticker also carries ``"s"``).

A stream that stays silent longer than its heartbeat is treated as dead and reconnected; reconnects back
off exponentially with jitter; a frame that cannot be read is counted, logged and skipped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
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
    at: datetime
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

    def as_data(self) -> dict[str, Any]:
        return {
            "up": self.up,
            "since": self.since.isoformat(),
            "last_message_at": self.last_message_at.isoformat() if self.last_message_at else None,
            "connects": self.connects,
            "malformed": self.malformed,
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


def message_of(frame: dict[str, Any]) -> StreamMessage | None:
    """The push in a frame, or ``None`` for control frames (acks, pings). Bad pushes raise ValueError."""
    channel = frame.get("e")
    if channel is None:
        return None
    rows = frame.get("d")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{channel} push without a list of rows")
    try:
        at = datetime.fromtimestamp(int(frame.get("E") or 0) / 1000, UTC)
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
    api_key: str
    api_secret: str = field(repr=False)
    passphrase: str = field(repr=False)


class WeexStream:
    """One websocket (private or public) kept alive until ``stop()``.

    ``on_message`` gets every push; ``on_state`` every change of state (and a refreshed
    ``last_message_at`` at most every ``state_refresh`` seconds while up); ``on_connected`` runs after each
    successful (re)subscription, so the caller can reconcile over REST what it may have missed.
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
        backoff: float = 0.5,
        backoff_max: float = 60.0,
        state_refresh: float = 5.0,
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
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.state_refresh = state_refresh
        self._wall_ms = wall_ms
        self.state = StreamState(up=False, since=_now(), detail="not connected yet")
        self._stopping = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._request_id = 0
        self._last_report = 0.0
        self._subscribed = False

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Connect, subscribe and read forever; every failure is reported and retried with back-off."""
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._session()
                failures = 0
            except asyncio.CancelledError:
                raise
            except StreamAuthRefused as exc:
                if self._stopping.is_set():
                    break
                failures += 1
                self._set(up=False, detail=str(exc), auth_refused=True)
                log.error("%s: %s", self.name, exc, extra={"event": "stream.auth_refused"})
            except (OSError, WebSocketException, TimeoutError, ExchangeError) as exc:
                if self._stopping.is_set():
                    break
                failures += 1
                self._set(up=False, detail=_describe(exc))
                log.warning("%s down: %s", self.name, _describe(exc), extra={"event": "stream.down"})
            except Exception as exc:  # a stream bug must never take the engine down: report and retry
                if self._stopping.is_set():
                    break
                failures += 1
                self._set(up=False, detail=_describe(exc))
                log.exception("%s failed unexpectedly", self.name, extra={"event": "stream.down"})
            if self._stopping.is_set():
                break
            if self._subscribed:  # it worked until now: the back-off starts over
                failures = 1
            delay = min(self.backoff_max, self.backoff * 2 ** max(0, failures - 1)) * (0.5 + random.random())
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that races
            # its timeout, and this loop would then outlive the engine's shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()
        self._set(up=False, detail="stopped")

    async def stop(self) -> None:
        self._stopping.set()
        if self._ws is not None:
            await self._ws.close()

    # ------------------------------------------------------------------ one connection

    def _headers(self) -> dict[str, str]:
        if self._credentials is None:
            return {}
        ts = str(self._wall_ms())
        return {
            "ACCESS-KEY": self._credentials.api_key,
            "ACCESS-PASSPHRASE": self._credentials.passphrase,
            "ACCESS-TIMESTAMP": ts,
            "ACCESS-SIGN": ws_sign(self._credentials.api_secret, ts),
        }

    async def _session(self) -> None:
        self._subscribed = False
        try:
            async with asyncio.timeout(self.heartbeat):
                ws = await connect(
                    self.url,
                    additional_headers=self._headers(),
                    user_agent_header=USER_AGENT,
                    open_timeout=None,
                    ping_interval=None,  # WEEX pings at the application level; silence is our heartbeat
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
        try:
            async with ws:
                await self._subscribe(ws)
                self._subscribed = True
                self._set(up=True, detail="subscribed to " + ", ".join(self.channels), connected=True)
                if self._on_connected is not None:
                    await self._on_connected()
                await self._read(ws)
        finally:
            self._ws = None

    async def _subscribe(self, ws: ClientConnection) -> None:
        self._request_id += 1
        rid = str(self._request_id)
        await ws.send(json.dumps({"id": rid, "method": "SUBSCRIBE", "params": self.channels}))
        while True:
            frame = await self._next_frame(ws)
            if frame is None:
                continue
            if str(frame.get("id")) == rid and "result" in frame:
                if frame["result"] is True:
                    return
                msg = str(frame.get("msg") or "subscription refused")
                if self.private and ("auth" in msg.lower() or "sign" in msg.lower() or "key" in msg.lower()):
                    raise StreamAuthRefused(f"authentication refused by WEEX: {msg}")
                raise ExchangeError(f"subscription refused: {msg}", raw=frame)
            await self._handle(ws, frame)

    async def _read(self, ws: ClientConnection) -> None:
        while True:
            frame = await self._next_frame(ws)
            if frame is not None:
                await self._handle(ws, frame)

    async def _next_frame(self, ws: ClientConnection) -> dict[str, Any] | None:
        """The next readable frame; ``None`` for an unreadable one (recorded). Silence raises TimeoutError."""
        try:
            async with asyncio.timeout(self.heartbeat):
                raw = await ws.recv()
        except TimeoutError:
            raise TimeoutError(f"silent for {self.heartbeat:g}s (heartbeat)") from None
        self._touch()
        try:
            return parse_frame(raw)
        except ValueError as exc:
            self._malformed(raw, exc)
            return None

    async def _handle(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        if frame.get("type") == "ping" or frame.get("event") == "ping":
            self._request_id += 1
            await ws.send(json.dumps({"id": str(self._request_id), "method": "PONG"}))
            return
        if frame.get("result") is False:
            log.warning("%s: WEEX said %s", self.name, frame.get("msg"), extra={"event": "stream.error"})
            return
        try:
            message = message_of(frame)
        except ValueError as exc:
            self._malformed(json.dumps(frame)[:200], exc)
            return
        if message is not None:
            await self._on_message(message)

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
    "message_of",
    "parse_frame",
    "ws_sign",
]
