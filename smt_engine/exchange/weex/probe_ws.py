"""The websocket half of `smt venue probe`: one connection per stream, each channel subscribed on its own,
then a quiet listen that answers WEEX's pings the way the engine does and counts what arrives.

It speaks the protocol ``streams.py`` documents (handshake headers, ``SUBSCRIBE``/ack, ping/``PONG``,
``{"e","E","v","d"}`` pushes) with its own small session rather than ``WeexStream``, because the point is
to see every frame (written to the transcript) and to tell which channel or ping WEEX refused, where the
engine's stream only reconnects. ccxt pro subscribes one channel per request (``subscribe_private``), so
each channel here gets its own ``SUBSCRIBE`` and its own verdict.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from smt_engine.exchange.weex.streams import USER_AGENT, message_of, parse_frame
from smt_engine.exchange.weex.transcript import Transcript, mask_headers

ACK_TIMEOUT = 10.0
"""Seconds to wait for a subscription's ack or a protocol pong before calling it refused."""


@dataclass
class StreamReport:
    """What one stream showed: a failure message (``None`` = passed) and the observations behind it."""

    stream: str
    failure: str | None = None
    acked: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    pings: list[float] = field(default_factory=list)
    ping_form: str | None = None
    pushes: dict[str, int] = field(default_factory=dict)
    malformed: int = 0
    errors: list[str] = field(default_factory=list)
    protocol_pong_ms: float | None = None
    listened: float = 0.0
    longest_silence: float = 0.0

    def saw(self) -> str:
        parts = [f"subscribed {len(self.acked)}/{len(self.acked) + len(self.refused)}"]
        if self.pings:
            gaps = [b - a for a, b in zip(self.pings, self.pings[1:], strict=False)]
            every = f", every {sum(gaps) / len(gaps):.1f}s" if gaps else ""
            parts.append(f"{len(self.pings)} pings ({self.ping_form}{every}), each answered PONG")
        else:
            parts.append(f"no application ping in {self.listened:.0f}s")
        if self.protocol_pong_ms is not None:
            parts.append(f"protocol ping answered in {self.protocol_pong_ms:.0f} ms")
        if self.pushes:
            parts.append("pushes " + ", ".join(f"{k} {v}" for k, v in sorted(self.pushes.items())))
        if self.malformed:
            parts.append(f"{self.malformed} unreadable frames")
        parts.append(f"longest silence {self.longest_silence:.1f}s")
        return "; ".join(parts)

    def data(self) -> dict[str, Any]:
        return {
            "acked": self.acked,
            "refused": self.refused,
            "pings": len(self.pings),
            "ping_form": self.ping_form,
            "pushes": self.pushes,
            "malformed": self.malformed,
            "errors": self.errors,
            "protocol_pong_ms": self.protocol_pong_ms,
            "listened_s": round(self.listened, 1),
            "longest_silence_s": round(self.longest_silence, 1),
        }


class StreamSession:
    """One probe connection: handshake, one ``SUBSCRIBE`` per channel, listen for ``listen`` seconds."""

    def __init__(
        self,
        url: str,
        stream: str,
        channels: list[str],
        transcript: Transcript,
        *,
        headers: dict[str, str] | None = None,
        listen: float = 40.0,
    ) -> None:
        self.url = url
        self.stream = stream
        self.channels = channels
        self.transcript = transcript
        self.headers = headers or {}
        self.listen = listen
        self.report = StreamReport(stream)
        self._request_id = 0
        self._last_frame = time.monotonic()

    async def run(self) -> StreamReport:
        report = self.report
        self.transcript.mask_value(self.headers.get("ACCESS-SIGN"))
        self.transcript.ws(self.stream, "open", url=self.url, request_headers=mask_headers(self.headers))
        try:
            ws = await connect(
                self.url,
                additional_headers=self.headers,
                user_agent_header=USER_AGENT,
                open_timeout=ACK_TIMEOUT,
                ping_interval=None,
                close_timeout=2,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            self.transcript.ws(self.stream, "refused", status=status)
            why = " (the key, passphrase, signature or timestamp)" if status in (401, 403) else ""
            report.failure = f"WEEX refused the {self.stream} websocket handshake with HTTP {status}{why}"
            return report
        except (OSError, WebSocketException, TimeoutError) as exc:
            self.transcript.ws(self.stream, "refused", error=f"{type(exc).__name__}: {exc}")
            report.failure = f"cannot open the {self.stream} websocket: {type(exc).__name__}: {exc}"
            return report
        self._last_frame = time.monotonic()
        try:
            async with ws:
                await self._subscribe_each(ws)
                await self._listen(ws)
                await self._protocol_ping(ws)
        except ConnectionClosed as exc:
            self.transcript.ws(self.stream, "close", code=exc.rcvd.code if exc.rcvd else None)
            report.failure = (
                f"WEEX closed the {self.stream} websocket after {report.listened:.0f}s "
                f"({exc.rcvd.code if exc.rcvd else 'no close frame'}); the engine would reconnect"
            )
            return report
        self.transcript.ws(self.stream, "close", code=1000)
        if report.refused:
            first, msg = next(iter(report.refused.items()))
            report.failure = f"WEEX refused the {self.stream} channel {first!r}: {msg}"
        elif report.protocol_pong_ms is None:
            report.failure = (
                f"no answer to a protocol-level ping on the {self.stream} websocket within {ACK_TIMEOUT:g}s"
            )
        return report

    async def _send(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        text = json.dumps(frame)
        self.transcript.ws(self.stream, "send", text)
        await ws.send(text)

    async def _recv(self, ws: ClientConnection, wait: float) -> dict[str, Any] | None:
        """The next frame handled as the engine would (pings answered, pushes parsed); ``None`` on silence."""
        try:
            async with asyncio.timeout(wait):
                raw = await ws.recv()
        except TimeoutError:
            self._silence()
            return None
        self._silence()
        self._last_frame = time.monotonic()
        text = raw if isinstance(raw, str) else raw.decode(errors="replace")
        self.transcript.ws(self.stream, "recv", text)
        try:
            frame = parse_frame(raw)
        except ValueError:
            self.report.malformed += 1
            return {}
        if frame.get("type") == "ping" or frame.get("event") == "ping":
            self.report.pings.append(time.monotonic())
            self.report.ping_form = "type" if frame.get("type") == "ping" else "event"
            self.report.ping_form = f'{{"{self.report.ping_form}": "ping"}}'
            self._request_id += 1
            await self._send(ws, {"id": str(self._request_id), "method": "PONG"})
            return {}
        try:
            message = message_of(frame)
        except ValueError as exc:
            self.report.malformed += 1
            self.report.errors.append(str(exc))
            return {}
        if message is not None:
            self.report.pushes[message.channel] = self.report.pushes.get(message.channel, 0) + 1
        return frame

    def _silence(self) -> None:
        """How long WEEX said nothing at all (the engine's stream heartbeat counts the same silence)."""
        self.report.longest_silence = max(self.report.longest_silence, time.monotonic() - self._last_frame)

    async def _subscribe_each(self, ws: ClientConnection) -> None:
        for channel in self.channels:
            self._request_id += 1
            rid = str(self._request_id)
            await self._send(ws, {"id": rid, "method": "SUBSCRIBE", "params": [channel]})
            deadline = time.monotonic() + ACK_TIMEOUT
            while True:
                left = deadline - time.monotonic()
                frame = await self._recv(ws, max(0.0, left)) if left > 0 else None
                if frame is None:
                    self.report.refused[channel] = f"no answer to SUBSCRIBE within {ACK_TIMEOUT:g}s"
                    break
                if str(frame.get("id")) == rid and "result" in frame:
                    if frame["result"] is True:
                        self.report.acked.append(channel)
                    else:
                        self.report.refused[channel] = str(frame.get("msg") or "refused without a reason")
                    break
                if frame.get("result") is False:
                    self.report.errors.append(str(frame.get("msg")))

    async def _listen(self, ws: ClientConnection) -> None:
        started = time.monotonic()
        end = started + self.listen
        while (left := end - time.monotonic()) > 0:
            frame = await self._recv(ws, left)
            self.report.listened = time.monotonic() - started
            if frame and frame.get("result") is False:
                self.report.errors.append(str(frame.get("msg")))
        self.report.listened = time.monotonic() - started

    async def _protocol_ping(self, ws: ClientConnection) -> None:
        """ccxt pro keeps WEEX's socket alive with protocol pings: WEEX must answer them."""
        sent = time.monotonic()
        waiter = await ws.ping()
        try:
            async with asyncio.timeout(ACK_TIMEOUT):
                await waiter
        except TimeoutError:
            return
        self.report.protocol_pong_ms = (time.monotonic() - sent) * 1000
        self.transcript.ws(self.stream, "pong", ms=round(self.report.protocol_pong_ms, 1))
