"""Every fake server answers with ``TCP_NODELAY`` on its accepted sockets (``tests/fakes/nodelay.py``).

Without it Nagle's algorithm and the client's delayed ACK add ~40 ms to each answer on loopback, which a
benchmark over the fakes would report as engine latency. Checked on the server's side of a real
connection: the option as the server holds its accepted socket when it hands it to a handler.
"""

from __future__ import annotations

import json
import socket
import socketserver
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.fakes.etherscan_server import FakeEtherscan
from tests.fakes.gemini_server import FakeGeminiServer
from tests.fakes.webhook_server import FakeWebhook
from tests.fakes.weex_replay import ReplayWeex
from tests.fakes.weex_server import FakeWeex


@pytest.fixture
def accepted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """``TCP_NODELAY`` of every socket any threading HTTP server accepts, read on the server's side."""
    seen: list[int] = []
    handing_on = socketserver.ThreadingMixIn.process_request

    def recording(server: Any, request: socket.socket, address: Any) -> None:
        seen.append(request.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        handing_on(server, request, address)

    monkeypatch.setattr(socketserver.ThreadingMixIn, "process_request", recording)
    return seen


def one_request(host: str, port: int) -> None:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"GET /nodelay-check HTTP/1.1\r\nHost: fake\r\nConnection: close\r\n\r\n")
        while s.recv(4096):  # whatever the fake answers; the connection was accepted
            pass


def replay(tmp: Path) -> ReplayWeex:
    transcript = tmp / "empty.jsonl"
    transcript.write_text("")
    return ReplayWeex(transcript)


FAKES: dict[str, tuple[Callable[[Path], AbstractContextManager[Any]], str]] = {
    "weex": (lambda _: FakeWeex(), "_httpd"),
    "weex replay": (replay, "_httpd"),
    "etherscan": (lambda _: FakeEtherscan(), "_server"),
    "gemini": (lambda _: FakeGeminiServer(), "_server"),
    "webhook": (lambda _: FakeWebhook(), "_server"),
}


@pytest.mark.parametrize("name", sorted(FAKES))
def test_each_fake_http_server_accepts_with_nodelay(name: str, accepted: list[int], tmp_path: Path) -> None:
    make, attribute = FAKES[name]
    with make(tmp_path) as fake:
        host, port = getattr(fake, attribute).server_address[:2]
        one_request(str(host), int(port))
    assert len(accepted) == 1, accepted
    assert accepted[0] != 0, accepted


def test_the_fake_weex_websocket_accepts_with_nodelay() -> None:
    """asyncio sets it on every accepted TCP socket; this pins that the push path has it too."""
    with FakeWeex() as fake, connect(fake.ws_url + "/v3/ws/public", open_timeout=5) as ws:
        ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["ETHUSDT@ticker"], "id": 1}))
        while json.loads(ws.recv(timeout=5)).get("id") != 1:  # the ack: the fake holds the connection
            pass

        async def nodelay() -> list[int]:
            return [
                c.ws.transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                for c in fake.ws.conns
            ]

        flags = fake.call(nodelay())
    assert len(flags) == 1, flags
    assert flags[0] != 0, flags
