"""A fake WEEX that answers from a `smt venue probe` transcript: a recorded session becomes a test fixture.

REST: each request is answered with the next recorded answer for the same method and path (recorded
status and body; the same query first); a read asked more often than recorded gets its last answer
again. Two values cannot be the same on a second run and are carried over: the server time keeps its
recorded offset from the client's clock, and client order ids the probe makes up are mapped from the
recorded ones to the new ones in every later answer. Websockets: a connection to a recorded stream
gets that stream's recorded frames in order, each client frame awaited where the recording had one
(``SUBSCRIBE`` compared by its channels), with the recorded gaps between server frames; a stream
recorded as refused is refused with its status.

``unmatched`` lists requests and frames the transcript had no answer for: a test asserts it is empty.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from smt_engine.exchange.weex.transcript import read_transcript
from tests.fakes.nodelay import NoDelayHTTPServer

ID_FIELDS = ("newClientOrderId", "clientAlgoId")
MAX_GAP = 2.0  # seconds: a recorded pause longer than this is replayed shorter (guards slow CI)


class ReplayWeex:
    def __init__(self, transcript: Path) -> None:
        lines = read_transcript(transcript)
        self.http = [e for e in lines if e["type"] == "http"]
        self.frames: dict[str, list[dict[str, Any]]] = {}
        for e in lines:
            if e["type"] == "ws":
                self.frames.setdefault(e["stream"], []).append(e)
        self.unmatched: list[str] = []
        self.served = 0
        self._ids: dict[str, str] = {}
        self._used: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._httpd: ThreadingHTTPServer | None = None
        self._ws: Server | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> ReplayWeex:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                replay._answer(self, "GET")

            def do_POST(self) -> None:
                replay._answer(self, "POST")

            def do_DELETE(self) -> None:
                replay._answer(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = NoDelayHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        self._loop_thread.start()
        asyncio.run_coroutine_threadsafe(self._start_ws(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        asyncio.run_coroutine_threadsafe(self._stop_ws(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout=5)

    async def _start_ws(self) -> None:
        self._ws = await serve(self._stream, "127.0.0.1", 0, process_request=self._handshake)

    async def _stop_ws(self) -> None:
        if self._ws is not None:
            self._ws.close()
            await self._ws.wait_closed()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def ws_url(self) -> str:
        assert self._ws is not None
        host, port = next(iter(self._ws.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"

    # ------------------------------------------------------------------ REST

    def _answer(self, h: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(h.path)
        path, query = split.path, split.query
        length = int(h.headers.get("Content-Length") or 0)
        body = json.loads(h.rfile.read(length) or b"null") if length else None
        with self._lock:
            same = [e for e in self.http if e["method"] == method and e["path"] == path]
            entry = next((e for e in same if self._mapped(e.get("query") or "") == query), None)
            entry = entry or next(iter(same), None)
            if entry is None and method == "GET":
                entry = self._used.get(f"{method} {path}")  # a read asked once more than recorded
            if entry is None:
                self.unmatched.append(f"{method} {path}")
                status, payload = 404, {"replay": f"no recorded answer left for {method} {path}"}
            else:
                if entry in self.http:
                    self.http.remove(entry)
                    self.served += 1
                self._used[f"{method} {path}"] = entry
                self._learn_ids(entry.get("request_body"), body)
                status, payload = int(entry.get("status") or 599), entry.get("response_body")
                if path == "/capi/v3/market/time" and isinstance(payload, dict):
                    recorded_offset = int(payload["serverTime"]) - int(entry["t"])
                    payload = {**payload, "serverTime": int(time.time() * 1000) + recorded_offset}
                text = self._mapped(json.dumps(payload))
        raw = text.encode() if entry is not None else json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    def _mapped(self, text: str) -> str:
        for old, new in self._ids.items():
            text = text.replace(old, new)
        return text

    def _learn_ids(self, recorded: Any, sent: Any) -> None:
        if isinstance(recorded, dict) and isinstance(sent, dict):
            for name in ID_FIELDS:
                if recorded.get(name) and sent.get(name):
                    self._ids[str(recorded[name])] = str(sent[name])

    # ------------------------------------------------------------------ websockets

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        stream = "private" if request.path.endswith("/private") else "public"
        frames = self.frames.get(stream, [])
        refused = next((f for f in frames if f["dir"] == "refused"), None)
        if refused is not None and refused.get("status"):
            return connection.respond(HTTPStatus(int(refused["status"])), "refused (replayed)\n")
        return None

    async def _stream(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        stream = "private" if ws.request.path.endswith("/private") else "public"
        script = [f for f in self.frames.get(stream, []) if f["dir"] in ("send", "recv")]
        last_t: int | None = None
        try:
            for frame in script:
                if frame["dir"] == "send":
                    got = json.loads(await ws.recv())
                    want = json.loads(frame["text"])
                    if got.get("method") != want.get("method") or got.get("params") != want.get("params"):
                        self.unmatched.append(f"{stream}: got {got}, recorded {want}")
                else:
                    if last_t is not None:
                        await asyncio.sleep(min(MAX_GAP, max(0, frame["t"] - last_t) / 1000))
                    await ws.send(frame["text"])
                last_t = frame["t"]
            await ws.wait_closed()
        except ConnectionClosed:
            pass


@contextmanager
def replaying(transcript: Path) -> Iterator[ReplayWeex]:
    with ReplayWeex(transcript) as replay:
        yield replay


__all__ = ["ReplayWeex", "replaying"]
