"""A webhook receiver on 127.0.0.1 for apprise's ``json://`` URLs.

It records every accepted POST (path and JSON body, in arrival order) and can be switched ``down``
(answers 503 with ``fail_body`` and records nothing, like a service in maintenance) or ``hang`` (holds
the request until released, like a service that never answers). ``delivered`` is a
threading.Condition-backed list so tests can wait on arrivals instead of sleeping.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.nodelay import NoDelayHTTPServer


@dataclass(frozen=True)
class Delivery:
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.body.get("title", ""))

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))


class FakeWebhook:
    def __init__(self) -> None:
        self.delivered: list[Delivery] = []
        self.refused = 0
        self.down = False
        self.hang = False
        self.fail_body = b'{"error": "maintenance"}'
        self._changed = threading.Condition()
        self._release = threading.Event()
        self._server = NoDelayHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-webhook",
            daemon=True,
        )

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def json_url(self, path: str = "/hook") -> str:
        """An apprise URL for this server (``json://`` posts ``{"title", "message", "type", ...}``)."""
        return f"json://{self.address}{path}"

    def start(self) -> FakeWebhook:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeWebhook:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def release(self) -> None:
        """Let hanging requests finish (with 200)."""
        self.hang = False
        self._release.set()

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Delivery]:
        """Block until ``count`` deliveries arrived; ``timeout`` is only a hang guard."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.delivered) >= count, timeout):
                raise AssertionError(f"{len(self.delivered)} of {count} notifications arrived")
            return list(self.delivered)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if server.hang:
                    server._release.wait(30)
                if server.down:
                    with server._changed:
                        server.refused += 1
                        server._changed.notify_all()
                    self._answer(503, server.fail_body)
                    return
                with server._changed:
                    server.delivered.append(
                        Delivery(self.path, json.loads(raw or b"{}"), dict(self.headers.items()))
                    )
                    server._changed.notify_all()
                self._answer(200, b"{}")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
