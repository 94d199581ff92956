"""With a round-trip time injected on the fake WEEX, its websocket pushes travel one way (half of it).

A benchmark at internet distance must not get its fill pushes for free while every REST answer pays the
whole round trip. Only lower bounds are asserted (a push never arrives sooner than the one-way time after
the change), so a slow machine cannot fail this.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

from websockets.sync.client import ClientConnection, connect

from tests.fakes.weex_server import FakeWeex

RTT = 0.4


def tickers(ws: ClientConnection, count: int) -> list[tuple[float, str]]:
    """(arrival, last price) of the next ``count`` ticker pushes."""
    got: list[tuple[float, str]] = []
    while len(got) < count:
        frame = json.loads(ws.recv(timeout=10))
        if frame.get("e") == "ticker":
            got.append((time.monotonic(), frame["d"][0]["c"]))
    return got


def test_a_push_leaves_half_the_injected_round_trip_after_the_change() -> None:
    with FakeWeex(prices={"ETHUSDT": Decimal("3000.0")}) as fake:
        fake.faults.latency = RTT
        with connect(fake.ws_url + "/v3/ws/public", open_timeout=5) as ws:
            ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["ETHUSDT@ticker"], "id": 1}))
            while json.loads(ws.recv(timeout=5)).get("id") != 1:
                pass
            arrivals = []
            for price in ("3001.0", "3002.0"):  # each move once the last push is in: no race on the pump
                moved = time.monotonic()
                fake.set_price("ETHUSDT", Decimal(price))
                ((at, shown),) = tickers(ws, 1)
                arrivals.append((at - moved, shown))
    assert [shown for _, shown in arrivals] == ["3001", "3002"]
    assert all(delay >= RTT / 2 for delay, _ in arrivals), arrivals
