"""The fake WEEX and the fake Gemini as one long-lived process, so exchange state outlives the engine.

The chaos bench starts this once and kills and restarts the engine against it. Control is one JSON
object per line on stdin, one JSON answer per line on stdout:

    {"cmd": "faults", "weex": {...Faults fields...}, "gemini_fail": 0.2}   set fault knobs
    {"cmd": "price", "symbol": "ETHUSDT", "price": "3010", "low": "2900"}   move a market
    {"cmd": "ws", "drop": true, "malformed": 2}   cut every websocket; send unreadable frames
    {"cmd": "stats"}       client ids sent more than once, order POSTs, requests
    {"cmd": "orders"}      the venue's own truth: every open order (legs however listed), positions,
                           the price of each symbol held
    {"cmd": "quit"}

The first line printed is ``{"weex": url, "ws": url, "gemini": url, "api_key": ..., ...}``.
Run: python bench/fake_venues.py [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
from collections import Counter
from decimal import Decimal
from typing import Any

from smt_engine.clock import WallClock
from tests.fakes.gemini_server import FakeGeminiServer, Reply, rate_limited, server_error, text_reply
from tests.fakes.weex_server import FakeWeex

ORDER_POSTS = ("/capi/v3/order", "/capi/v3/placeTpSlOrder", "/capi/v3/closePositions")


class Analyst:
    """Gemini answers: mostly trades (so entries keep happening), some WAIT, a share of failures."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fail = 0.0
        self.lock = threading.Lock()

    def reply(self) -> Reply:
        with self.lock:
            roll, pick = self.rng.random(), self.rng.random()
            if roll < self.fail:
                if pick < 0.4:
                    return server_error()
                if pick < 0.7:
                    return rate_limited("0.1s")
                return Reply(status=200, body={"candidates": "not a list"})
            action = "WAIT" if pick < 0.2 else ("LONG" if pick < 0.6 else "SHORT")
            answer = {
                "decision": action,
                "confidence": round(0.65 + self.rng.random() * 0.3, 2),
                "take_profit_percent": 3.0,
                "stop_loss_percent": 1.5,
                "hold_time_hours": 12,
                "reasoning": "chaos bench",
                "market_sentiment": "NEUTRAL",
            }
        return text_reply(f"```json\n{json.dumps(answer)}\n```")


def duplicates(weex: FakeWeex) -> dict[str, int]:
    """Client ids the engine POSTed more than once (an order sent twice would show here)."""
    seen: Counter[str] = Counter()
    for method, path, body in list(weex.requests):
        if method != "POST" or path.split("?", 1)[0] not in ORDER_POSTS or not body:
            continue
        try:
            payload = json.loads(body)
        except ValueError:
            continue
        cid = payload.get("newClientOrderId") or payload.get("clientAlgoId") or payload.get("clientOrderId")
        if cid:
            seen[str(cid)] += 1
    return {cid: n for cid, n in seen.items() if n > 1}


def truth(weex: FakeWeex) -> dict[str, Any]:
    """Open orders and positions from the fake venue's own books, not its API.

    The API lists an attached take-profit of a flat symbol nowhere (as WEEX does), so a leg left
    resting there would be invisible to a check that reads the API.
    """
    # Positions first: reading them runs the venue's price path, so a trigger the price crossed fires
    # before the open orders are listed.
    held = [p for p in weex.call(weex.venue.positions()) if p.size > 0]
    orders = [
        {
            "order_id": o.order_id,
            "symbol": o.symbol,
            "side": o.position_side.value,
            "kind": o.kind,
            "leg": o.is_leg,
            "status": o.status.value,
            "size": str(o.size),
            "trigger_price": None if o.trigger_price is None else str(o.trigger_price),
        }
        for o in weex.open_orders_now()
    ]
    return {
        "orders": orders,
        "positions": [{"symbol": p.symbol, "side": p.side.value, "size": str(p.size)} for p in held],
        "prices": {p.symbol: str(weex.market.price_now(p.symbol)) for p in held},
    }


def serve(seed: int) -> None:
    analyst = Analyst(seed)
    with FakeWeex(clock=WallClock(), seed=seed) as weex, FakeGeminiServer() as gemini:
        gemini.fallback = analyst.reply
        print(
            json.dumps(
                {
                    "weex": weex.base_url,
                    "ws": weex.ws_url,
                    "gemini": gemini.url,
                    "api_key": weex.api_key,
                    "secret": weex.secret,
                    "passphrase": weex.passphrase,
                }
            ),
            flush=True,
        )
        for line in sys.stdin:
            msg: dict[str, Any] = json.loads(line)
            answer: dict[str, Any] = {"ok": True}
            cmd = msg.get("cmd")
            if cmd == "faults":
                for name, value in msg.get("weex", {}).items():
                    setattr(weex.faults, name, set(value) if name == "paths" and value else value)
                with analyst.lock:
                    analyst.fail = float(msg.get("gemini_fail", analyst.fail))
            elif cmd == "price":
                low = Decimal(msg["low"]) if msg.get("low") else None
                high = Decimal(msg["high"]) if msg.get("high") else None
                weex.set_price(msg["symbol"], Decimal(msg["price"]), low=low, high=high)
            elif cmd == "ws":
                if msg.get("drop"):
                    weex.ws.drop()
                weex.ws.faults.malformed_next += int(msg.get("malformed", 0))
            elif cmd == "stats":
                posts = sum(n for key, n in weex.counts.items() if key.startswith("POST"))
                answer.update(
                    duplicates=duplicates(weex),
                    order_posts=posts,
                    requests=sum(weex.counts.values()),
                    ws_handshakes=weex.ws.handshakes,
                    ws_pushes=len(weex.ws.pushed),
                )
            elif cmd == "orders":
                answer.update(truth(weex))
            elif cmd == "quit":
                print(json.dumps(answer), flush=True)
                return
            else:
                answer = {"ok": False, "error": f"unknown command {cmd!r}"}
            print(json.dumps(answer), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    serve(parser.parse_args().seed)


if __name__ == "__main__":
    main()
