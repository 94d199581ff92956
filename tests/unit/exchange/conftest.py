"""A scripted WEEX for the transport and client tests: each route answers in turn, every request is
kept, and no back-off or limiter wait takes real time; and the position row such a WEEX serves."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from smt_engine.exchange.weex import WeexClient, WeightLimiter
from smt_engine.exchange.weex import transport as transport_module

SERVER_MS = 1_775_753_432_000
Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """A scripted WEEX: each route answers its replies in turn (the last one repeats); every request
    is recorded as ``METHOD path``."""

    def __init__(self, routes: dict[str, list[Reply]]) -> None:
        self.routes = {"GET /capi/v3/market/time": [ok({"serverTime": SERVER_MS})], **routes}
        self.seen: list[str] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        route = f"{request.method} {request.url.path}"
        self.seen.append(route)
        self.requests.append(request)
        replies = self.routes[route]
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply if isinstance(reply, httpx.Response) else reply(request)

    def count(self, route: str) -> int:
        return self.seen.count(route)


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


class Sleeps:
    """Stands in for the transport's back-off sleep and the limiter's: records, never waits."""

    def __init__(self) -> None:
        self.backoff: list[float] = []
        self.limiter: list[float] = []
        self.now = 0.0

    async def sleep(self, seconds: float) -> None:
        self.backoff.append(seconds)

    async def limiter_sleep(self, seconds: float) -> None:
        self.limiter.append(seconds)
        self.now += seconds


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    recorded = Sleeps()
    monkeypatch.setattr(transport_module, "asyncio", SimpleNamespace(sleep=recorded.sleep))
    monkeypatch.setattr(transport_module, "random", SimpleNamespace(random=lambda: 0.25))
    return recorded


def client_on(script: Script, sleeps: Sleeps, **kw: Any) -> WeexClient:
    args: dict[str, Any] = {
        "api_key": "k",
        "api_secret": "s",
        "passphrase": "p",
        "transport": httpx.MockTransport(script),
        "limiter": WeightLimiter(100_000, monotonic=lambda: sleeps.now, sleep=sleeps.limiter_sleep),
        "read_retries": 3,
        "backoff": 0.5,
        "wall_ms": lambda: SERVER_MS,
    }
    args.update(kw)
    return WeexClient(**args)


def weex_position(position_id: int | str) -> dict[str, Any]:
    """An allPosition row as WEEX documents it: a 0.01 BTCUSDT cross long at leverage 5 (900 USDT open).

    WEEX documents the ``id`` both as a number and as a string, so each caller names the form it serves.
    """
    return {
        "id": position_id,
        "symbol": "BTCUSDT",
        "side": "LONG",
        "size": "0.01",
        "openValue": "900",
        "leverage": "5",
        "marginType": "CROSSED",
        "marginSize": "180",
        "isolatedMargin": "0",
        "createdTime": 1775758733006,
        "updatedTime": 1775758733006,
    }
