"""The HTTP server every fake in ``tests/fakes`` listens with: each accepted socket gets ``TCP_NODELAY``.

Why: with Nagle's algorithm on, a fake's answer body waits for the client's delayed ACK of the headers
(~40 ms per answer on Linux loopback), and a test or benchmark over the fake would count those 40 ms as
the engine's latency (docs/benchmarks.md, "At internet distance"). The websocket fakes need nothing:
asyncio sets ``TCP_NODELAY`` on every TCP socket it accepts.
"""

from __future__ import annotations

import socket
from http.server import ThreadingHTTPServer
from typing import Any


class NoDelayHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` whose accepted sockets send each write at once (see the module doc)."""

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address
