"""A fake WEEX v3 contract server: real HTTP on 127.0.0.1, backed by the paper venue.

It checks signatures (over the raw request target and body bytes) and timestamps, answers with
WEEX's shapes and error codes (reference §2, §7), and has fault knobs settable at runtime::

    with FakeWeex() as fake:
        fake.faults.next_5xx = 2          # the next two requests get HTTP 503
        fake.set_price("BTCUSDT", Decimal("105000"))
        client = WeexClient(api_key=fake.api_key, ..., base_url=fake.base_url)

Knobs (``fake.faults``): ``latency`` seconds a request (a round trip; each websocket push takes half of it,
one way); ``rate_429``/``rate_5xx`` probabilities; ``next_429``,
``next_5xx``, ``next_malformed``, ``next_hang``, ``next_drop_after_accept`` counters; ``empty_429_body``;
``paths`` limits the counters and rates to some paths; ``not_found_paths`` answer HTTP 404 without
``code`` (as real WEEX does for an unknown path); ``ai_log_paths`` are where uploadAiLog exists and
``ai_log_code`` what it answers on success (0, the v3 doc's Integer, or ``"00000"``);
``attached_tp_in_history`` lists live attached TP legs in order history (ccxt's recordings).
``fake.counts["POST /capi/v3/order"]`` counts
requests per method and path.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from smt_engine.clock import Clock, WallClock
from smt_engine.domain import Contract, Side
from smt_engine.exchange.base import (
    ExchangeError,
    InsufficientMargin,
    OrderNotFound,
    OrderRequest,
)
from smt_engine.exchange.market import ManualMarket, interval_seconds, to_ms
from smt_engine.exchange.paper import PaperExchange
from smt_engine.exchange.paper.state import PaperOrder
from smt_engine.exchange.precision import PrecisionError, plain
from tests.fakes.nodelay import NoDelayHTTPServer
from tests.fakes.weex_history import FakeHistory
from tests.fakes.weex_shapes import (
    WEEX_CONTRACTS_V3,
    algo_json,
    contract_json,
    order_json,
    position_json,
    trade_json,
)
from tests.fakes.weex_ws import FakeWeexStreams

DEFAULT_PRICES = {
    "BTCUSDT": Decimal("92851.8"),
    "ETHUSDT": Decimal("3154.58"),
    "SOLUSDT": Decimal("137.73"),
    "DOGEUSDT": Decimal("0.14699"),
    "XRPUSDT": Decimal("2.1927"),
    "ADAUSDT": Decimal("0.4051"),
    "BNBUSDT": Decimal("905.12"),
    "LTCUSDT": Decimal("81.53"),
}


@dataclass
class Faults:
    latency: float = 0.0
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    next_429: int = 0
    next_5xx: int = 0
    next_malformed: int = 0
    next_hang: int = 0
    next_drop_after_accept: int = 0
    empty_429_body: bool = False
    retry_after: float = 0.05
    hang_seconds: float = 5.0
    paths: set[str] | None = None
    timestamp_window: float = 30.0
    ai_log_paths: frozenset[str] = frozenset({"/capi/v3/order/uploadAiLog"})
    ai_log_code: int | str = 0
    """uploadAiLog's success code: 0 (v3 doc, Integer) or ``"00000"`` (v2 doc and traffic)."""
    not_found_paths: frozenset[str] = frozenset()
    attached_tp_in_history: bool = True
    algo_cancels_attached_tp: bool = False
    """Whether DELETE /algoOrder also cancels an attached TP leg (which WEEX lists only under /order; the
    sources do not say): off by default, so a client must use the documented DELETE /order for it."""
    foreign_algo_rows: list[dict[str, Any]] = field(default_factory=list)
    """TP/SL orders the engine did not place (e.g. a trailing stop set in the WEEX UI), served as they
    are by openAlgoOrders and, by id, by order detail."""
    empty_positions: int = 0
    """The next this-many position lists answer ``[]`` with success: a venue answer that misses positions
    it holds (no source shows WEEX doing it; the engine must not take one such answer for closes)."""
    path_latency: dict[str, float] = field(default_factory=dict)
    """Extra seconds before handling one endpoint (e.g. ``/capi/v3/order``): widens an in-flight window."""
    path_latency_after: dict[str, float] = field(default_factory=dict)
    """Extra seconds between handling a request and answering it: accepted, answer still in flight."""

    def applies(self, path: str) -> bool:
        return self.paths is None or path in self.paths


class WeexError(Exception):
    def __init__(self, code: int | str, msg: str, status: int = 400) -> None:
        self.code, self.msg, self.status = code, msg, status
        super().__init__(msg)


class _Drop(Exception):
    """Close the connection without answering."""


class _NoSuchPath(Exception):
    """Real WEEX answers an unknown path with HTTP 404 and a JSON body without ``code``/``msg``."""


def _not_found_body(path: str) -> bytes:
    return json.dumps(
        {"timestamp": int(time.time() * 1000), "status": 404, "error": "Not Found", "path": path}
    ).encode()


class FakeWeex:
    def __init__(
        self,
        *,
        api_key: str = "weex_test_key",
        secret: str = "test-secret-value",  # noqa: S107 - a test fixture value
        passphrase: str = "testpass1",  # noqa: S107
        contracts: dict[str, Contract] | None = None,
        prices: dict[str, Decimal] | None = None,
        clock: Clock | None = None,
        balance: Decimal = Decimal(1000),
        seed: int = 0,
        server_time_offset_ms: int = 0,
    ) -> None:
        self.api_key, self.secret, self.passphrase = api_key, secret, passphrase
        self.clock = clock or WallClock()
        self.market = ManualMarket(self.clock, dict(prices or DEFAULT_PRICES))
        self.venue = PaperExchange(
            self.market,
            self.clock,
            balance=balance,
            slippage_pct=Decimal(0),
            contracts=contracts or WEEX_CONTRACTS_V3,
        )
        self.faults = Faults()
        self.counts: Counter[str] = Counter()
        self.requests: list[tuple[str, str, str]] = []
        self.server_time_offset_ms = server_time_offset_ms
        self.ai_logs: list[dict[str, Any]] = []
        self.history: FakeHistory | None = None
        """Set to a ``FakeHistory`` to answer history klines by range (off: the live path's old answers)."""
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._httpd: ThreadingHTTPServer | None = None
        self.ws = FakeWeexStreams(self)
        self._http_thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeWeex:
        self._loop_thread.start()
        self.call(self.ws.start())
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = NoDelayHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._http_thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._http_thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.call(self.ws.close())
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout=5)

    def __enter__(self) -> FakeWeex:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def ws_url(self) -> str:
        """The websocket host; the streams append ``/v3/ws/private`` or ``/v3/ws/public``."""
        return self.ws.url

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # ------------------------------------------------------------------ test helpers

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a venue coroutine on the server's loop (the venue is not thread-safe)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def set_price(
        self, symbol: str, price: Decimal, *, low: Decimal | None = None, high: Decimal | None = None
    ) -> None:
        async def _set() -> None:
            self.market.set_price(symbol, price, low=low, high=high)

        self.call(_set())

    def open_orders_now(self) -> list[PaperOrder]:
        """Every open order of the venue's own list, legs included however the API would list them.

        WEEX lists an attached take-profit of a flat symbol on no open-order endpoint; a bench that
        checks what is left resting reads the truth here instead.
        """

        async def _open() -> list[PaperOrder]:
            return [replace(o) for o in self.venue._acct.orders if o.status.is_open]

        return list(self.call(_open()))

    def orders_with_client_id(self, client_order_id: str) -> int:
        async def _count() -> int:
            return sum(1 for o in self.venue._acct.orders if o.client_order_id == client_order_id)

        return int(self.call(_count()))

    # ------------------------------------------------------------------ HTTP

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()

    def _take(self, name: str, path: str) -> bool:
        with self._lock:
            if not self.faults.applies(path):
                return False
            left = getattr(self.faults, name)
            if left > 0:
                setattr(self.faults, name, left - 1)
                return True
            return False

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(h.path)
        path, raw_query = split.path, split.query
        length = int(h.headers.get("Content-Length") or 0)
        raw_body = h.rfile.read(length) if length else b""
        with self._lock:
            self.counts[f"{method} {path}"] += 1
            self.requests.append((method, h.path, raw_body.decode(errors="replace")))
        f = self.faults
        if f.latency or f.path_latency.get(path):
            self._stop.wait(f.latency + f.path_latency.get(path, 0.0))
        if self._take("next_hang", path):
            self._stop.wait(f.hang_seconds)
            h.close_connection = True
            return
        if self._take("next_429", path) or (f.applies(path) and self._rng.random() < f.rate_429):
            body = b"" if f.empty_429_body else b'{"code":429,"msg":"Too many requests"}'
            self._send(
                h,
                429,
                body,
                {"Retry-After": str(f.retry_after), "X-USED-WEIGHT-1M": "2400", "X-ORDER-COUNT-10S": "100"},
            )
            return
        if self._take("next_5xx", path) or (f.applies(path) and self._rng.random() < f.rate_5xx):
            self._send(h, 503, b"<html>503 Service Temporarily Unavailable</html>")
            return
        try:
            if path in f.not_found_paths:
                raise _NoSuchPath
            if not (path.startswith("/capi/v3/market/") or path.startswith("/api/v3/")):
                self._authenticate(h, method, path, raw_query, raw_body)
            params = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
            try:
                body = json.loads(raw_body) if raw_body else {}
            except ValueError:
                raise WeexError(-1135, "INVALID_JSON") from None
            result = self._route(method, path, params, body)
            drop = (
                method == "POST" and path == "/capi/v3/order" and self._take("next_drop_after_accept", path)
            )
            if drop:
                raise _Drop
            if f.path_latency_after.get(path):
                self._stop.wait(f.path_latency_after[path])
            status, payload = 200, json.dumps(result, separators=(",", ":")).encode()
        except _Drop:
            h.close_connection = True
            h.connection.shutdown(2)
            return
        except _NoSuchPath:
            status, payload = 404, _not_found_body(path)
        except WeexError as err:
            status, payload = err.status, json.dumps({"code": err.code, "msg": err.msg}).encode()
        if self._take("next_malformed", path):
            payload = payload[: max(1, len(payload) // 2)] + b"<!--"
        self._send(h, status, payload)

    def _authenticate(
        self, h: BaseHTTPRequestHandler, method: str, path: str, query: str, body: bytes
    ) -> None:
        key = h.headers.get("ACCESS-KEY")
        sig = h.headers.get("ACCESS-SIGN")
        ts = h.headers.get("ACCESS-TIMESTAMP")
        if not key:
            raise WeexError(-1040, "ACCESS_KEY_EMPTY", 401)
        if not sig:
            raise WeexError(-1041, "ACCESS_SIGN_EMPTY", 401)
        if not ts:
            raise WeexError(-1042, "ACCESS_TIMESTAMP_EMPTY", 401)
        if not (ts.isdigit() and len(ts) == 13):
            raise WeexError(-1043, "INVALID_ACCESS_TIMESTAMP", 401)
        now_ms = time.time() * 1000 + self.server_time_offset_ms
        if abs(now_ms - int(ts)) > self.faults.timestamp_window * 1000:
            raise WeexError(-1046, "ACCESS_TIMESTAMP_EXPIRED", 400)
        if key != self.api_key:
            raise WeexError(-1044, "INVALID_ACCESS_KEY", 401)
        if h.headers.get("ACCESS-PASSPHRASE") != self.passphrase:
            raise WeexError(-1049, "API_KEY_OR_PASSPHRASE_INCORRECT", 401)
        prehash = (
            ts.encode() + method.encode() + path.encode() + (b"?" + query.encode() if query else b"") + body
        )
        expected = base64.b64encode(hmac.new(self.secret.encode(), prehash, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, sig):
            raise WeexError(-1047, "API authentication failed", 401)
        if method == "POST" and not (h.headers.get("Content-Type") or "").startswith("application/json"):
            raise WeexError(-1045, "INVALID_CONTENT_TYPE", 400)

    # ------------------------------------------------------------------ routes

    def _venue(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return self.call(coro)
        except PrecisionError as exc:
            raise WeexError(int(exc.code) if exc.code.lstrip("-").isdigit() else -1160, str(exc)) from None
        except InsufficientMargin as exc:
            raise WeexError(-1054, str(exc)) from None
        except OrderNotFound:
            raise WeexError(-3200, "CONTRACT_ORDER_NOT_EXIST") from None
        except ExchangeError as exc:
            code = exc.code or "-1054"
            raise WeexError(int(code) if code.lstrip("-").isdigit() else -1054, str(exc)) from None

    def _symbol(self, params: dict[str, Any], required: bool = True) -> str | None:
        symbol = params.get("symbol")
        if symbol is None:
            if required:
                raise WeexError(-1141, "PARAM_EMPTY: symbol")
            return None
        if symbol not in self.venue.table:
            raise WeexError(-1121, "INVALID_SYMBOL")
        return str(symbol)

    def _route(self, method: str, path: str, q: dict[str, str], body: dict[str, Any]) -> Any:
        v = self.venue
        route = f"{method} {path}"
        if route == "GET /api/v3/coins":
            return []
        if route == "GET /api/v3/exchangeInfo":
            return {"symbols": []}
        if route == "GET /capi/v3/market/time":
            return {"serverTime": int(time.time() * 1000) + self.server_time_offset_ms}
        if route == "GET /capi/v3/market/exchangeInfo":
            symbols = [contract_json(c) for s, c in v.table.items() if q.get("symbol") in (None, s)]
            return {"assets": [{"asset": "USDT", "marginAvailable": True}], "symbols": symbols}
        if route == "GET /capi/v3/market/ticker/24hr":
            out = []
            for s in [self._symbol(q)] if "symbol" in q else list(v.table):
                assert s is not None
                t = self._venue(v.ticker(s))
                out.append(
                    {
                        "symbol": s,
                        "priceChange": "0",
                        "priceChangePercent": "0",
                        "lastPrice": plain(t.last),
                        "openPrice": plain(t.last),
                        "highPrice": plain(t.last),
                        "lowPrice": plain(t.last),
                        "volume": "0",
                        "quoteVolume": "0",
                        "openTime": to_ms(t.at) - 86_400_000,
                        "closeTime": to_ms(t.at),
                        "markPrice": plain(t.mark),
                        "indexPrice": plain(t.mark),
                    }
                )
            return out
        if route == "GET /capi/v3/market/historyKlines" and "startTime" in q and self.history is not None:
            s = self._symbol(q)
            assert s is not None
            try:
                return self.history.answer(s, q, self.clock.now())
            except ValueError:
                raise WeexError(-1142, "PARAM_ERROR: interval") from None
        if route in ("GET /capi/v3/market/klines", "GET /capi/v3/market/historyKlines"):
            s = self._symbol(q)
            assert s is not None
            interval = q.get("interval", "1m")
            try:
                secs = interval_seconds(interval)
            except ValueError:
                raise WeexError(-1142, "PARAM_ERROR: interval") from None
            candles = self._venue(v.candles(s, interval, min(int(q.get("limit", 500)), 1000)))
            return [
                [
                    to_ms(c.open_time),
                    plain(c.open),
                    plain(c.high),
                    plain(c.low),
                    plain(c.close),
                    plain(c.volume),
                    to_ms(c.open_time) + secs * 1000,
                    "0",
                    0,
                    "0",
                    "0",
                ]
                for c in candles
            ]
        if route == "GET /capi/v3/account/balance":
            b = self._venue(v.balance())
            return [
                {
                    "asset": "USDT",
                    "balance": plain(b.balance),
                    "availableBalance": plain(b.available),
                    "frozen": plain(b.frozen),
                    "unrealizePnl": plain(b.unrealized_pnl),
                }
            ]
        if route in (
            "GET /capi/v3/account/position/allPosition",
            "GET /capi/v3/account/position/singlePosition",
        ):
            s = self._symbol(q, required=path.endswith("singlePosition"))
            if self.faults.empty_positions > 0:
                self.faults.empty_positions -= 1
                return []  # a successful answer that misses every position
            return [position_json(p) for p in self._venue(v.positions()) if s in (None, p.symbol)]
        if route == "POST /capi/v3/account/leverage":
            s = self._symbol(body)
            assert s is not None
            isolated = body.get("marginType") == "ISOLATED"
            raw = body.get("isolatedLongLeverage" if isolated else "crossLeverage")
            if raw is None:
                raise WeexError(-1141, "PARAM_EMPTY: leverage")
            self._venue(v.set_leverage(s, int(Decimal(str(raw))), "isolated" if isolated else "cross"))
            lev = str(int(Decimal(str(raw))))
            return {
                "symbol": s,
                "marginType": "ISOLATED" if isolated else "CROSSED",
                "crossLeverage": "0" if isolated else lev,
                "isolatedLongLeverage": lev if isolated else "0",
                "isolatedShortLeverage": lev if isolated else "0",
            }
        if route == "POST /capi/v3/order":
            return self._place(body)
        if route == "GET /capi/v3/order":
            if not q.get("orderId"):
                raise WeexError(-1141, "PARAM_EMPTY: orderId")
            foreign = [r for r in self.faults.foreign_algo_rows if r.get("algoId") == q["orderId"]]
            if foreign:
                return foreign[0]
            found = self._find(q["orderId"])
            if found is None:
                raise WeexError(-3200, "CONTRACT_ORDER_NOT_EXIST")
            return order_json(found)
        if route == "DELETE /capi/v3/order":
            oid, cid = q.get("orderId"), q.get("origClientOrderId")
            if not oid and not cid:
                raise WeexError(-1140, "Either orderId or origClientOrderId must be sent.")
            found = self._find(oid) if oid else self._find_cid(unquote(cid or ""))
            # An attached TP leg is an /order entity (ccxt's recordings, reference §3.4.3): cancelled here.
            attached_tp = found is not None and found.kind == "tp" and bool(found.parent_order_id)
            ok = (
                found is not None
                and found.status.is_open
                and (found.kind in ("entry", "close") or attached_tp)
            )
            if ok and found is not None and attached_tp:
                self._venue(v.cancel_algo_order(found.symbol, found.order_id))
            elif ok and found is not None:
                self._venue(v.cancel_order(found.symbol, order_id=found.order_id))
            return {
                "orderId": found.order_id if found else (oid or "0"),
                "origClientOrderId": cid or "",
                "success": ok,
                "errorCode": "" if ok else "ORDER_NOT_FOUND",
                "errorMessage": "" if ok else "orderId not exist",
                **({} if ok else {"errorMsg": "FAILED_ORDER_NOT_FOUND"}),
            }
        if route == "DELETE /capi/v3/algoOrder":
            oid = q.get("orderId")
            if not oid:
                raise WeexError(-1140, "Either orderId or origClientOrderId must be sent.")
            found = self._find(oid)
            ok = found is not None and found.status.is_open and found.kind in ("tp", "sl")
            if ok and found is not None and found.kind == "tp" and found.parent_order_id:
                ok = self.faults.algo_cancels_attached_tp  # not an algo order: listed only under /order
            if ok and found is not None:
                self._venue(v.cancel_algo_order(found.symbol, oid))
            return {
                "orderId": oid,
                "origClientOrderId": "",
                "success": ok,
                "errorCode": "" if ok else "ORDER_NOT_FOUND",
                "errorMessage": "" if ok else "orderId not exist",
                **({} if ok else {"errorMsg": "FAILED_ORDER_NOT_FOUND"}),
            }
        if route in ("DELETE /capi/v3/allOpenOrders", "DELETE /capi/v3/algoOpenOrders"):
            s = self._symbol(q, required=False)
            algo = path.endswith("algoOpenOrders")
            before = self._open_ids(s, algo)
            self._venue(v.cancel_many(s, regular=not algo, algo=algo))
            return [{"orderId": oid, "success": True, "errorCode": "", "errorMessage": ""} for oid in before]
        if route == "GET /capi/v3/openOrders":
            return [order_json(o) for o in self._venue(v.open_orders(self._symbol(q, required=False)))]
        if route == "GET /capi/v3/openAlgoOrders":
            # ccxt's recordings: attached SL legs are listed here, attached TP legs are not (§3.4.3).
            s = self._symbol(q, required=False)
            listed = self._venue(v.open_algo_orders(s))
            foreign = [r for r in self.faults.foreign_algo_rows if s in (None, r.get("symbol"))]
            return [algo_json(a) for a in listed if not (a.kind == "tp" and a.parent_order_id)] + foreign
        if route == "GET /capi/v3/order/history":
            s = self._symbol(q)
            assert s is not None
            rows = [order_json(o) for o in self._venue(v.order_history(s, limit=int(q.get("limit", 500))))]
            if self.faults.attached_tp_in_history:
                live_tps = [
                    a for a in self._venue(v.open_algo_orders(s)) if a.kind == "tp" and a.parent_order_id
                ]
                rows += [order_json(self._find(a.order_id)) for a in live_tps]
            return rows
        if route == "GET /capi/v3/userTrades":
            # GetTradeDetails: orderId, startTime, endTime (>= start, at most 7 days after it), limit.
            s = self._symbol(q)
            assert s is not None
            start, end = q.get("startTime"), q.get("endTime")
            if start and end and not 0 <= int(end) - int(start) <= _SEVEN_DAYS_MS:
                raise WeexError(-1142, "PARAM_ERROR: endTime must be within 7 days after startTime")
            fills = self._venue(v.fills(s, limit=1000))
            rows = [trade_json(f, i) for i, f in enumerate(fills, 1)]
            rows = [
                r
                for r in rows
                if (not start or r["time"] >= int(start))
                and (not end or r["time"] <= int(end))
                and q.get("orderId") in (None, str(r["orderId"]))
            ]
            return rows[: int(q.get("limit", 100))]
        if route == "POST /capi/v3/placeTpSlOrder":
            return [self._place_tp_sl(body)]
        if route == "POST /capi/v3/closePositions":
            s = self._symbol(body, required=False)
            out = []
            for p in self._venue(v.positions()):
                if s in (None, p.symbol):
                    cid = f"close-{p.position_id[-8:]}-{int(time.time() * 1000)}"  # <= 36 chars
                    placed = self._venue(v.close_position(p.symbol, p.side, cid))
                    out.append(
                        {
                            "positionId": p.position_id,
                            "success": True,
                            "successOrderId": placed.order_id,
                            "errorMessage": "",
                        }
                    )
            return out
        if path.endswith("/order/uploadAiLog") and path not in self.faults.ai_log_paths:
            raise _NoSuchPath
        if route in ("POST /capi/v3/order/uploadAiLog", "POST /capi/v2/order/uploadAiLog"):
            for name in ("stage", "model", "input", "output", "explanation"):
                if name not in body:
                    raise WeexError(-1141, f"PARAM_EMPTY: {name}")
            if len(str(body["explanation"])) > 1000:
                raise WeexError(-1142, "PARAM_ERROR: explanation exceeds 1000 characters")
            self.ai_logs.append(body)
            # v3 UploadAiLog (WEEX AI-Wars agent skill, "generated from live V3 docs"): ``code`` is an
            # Integer, 0 = success. ``ai_log_code = "00000"`` answers as the v2 page and the real v2
            # traffic did (reference §3.5), so a client is tested on both.
            return {
                "code": self.faults.ai_log_code,
                "msg": "success",
                "requestTime": int(time.time() * 1000),
                "data": "upload success",
            }
        if path in _KNOWN_PATHS:
            raise WeexError(-1150, f"Request method '{method}' not supported", 405)
        raise _NoSuchPath

    def _all(self) -> list[Any]:
        async def _orders() -> list[Any]:
            return list(self.venue._acct.orders)

        return list(self.call(_orders()))

    def _find(self, order_id: str | None) -> Any:
        return next((o for o in self._all() if o.order_id == order_id), None)

    def _find_cid(self, cid: str) -> Any:
        return next((o for o in self._all() if o.client_order_id == cid), None)

    def _open_ids(self, symbol: str | None, algo: bool) -> list[str]:
        return [
            o.order_id
            for o in self._all()
            if (symbol is None or o.symbol == symbol) and o.status.is_open and o.is_leg == algo
        ]

    def _place(self, body: dict[str, Any]) -> dict[str, Any]:
        for name in ("symbol", "side", "positionSide", "type", "quantity", "newClientOrderId"):
            if body.get(name) in (None, ""):
                raise WeexError(-1141, f"PARAM_EMPTY: {name}")
        symbol = self._symbol(body)
        assert symbol is not None
        try:
            side = Side(str(body["positionSide"]))
        except ValueError:
            raise WeexError(-1142, "PARAM_ERROR: positionSide") from None
        if body["side"] not in ("BUY", "SELL"):
            raise WeexError(-1117, "INVALID_SIDE")
        if body["type"] not in ("MARKET", "LIMIT"):
            raise WeexError(-1116, "INVALID_ORDER_TYPE")
        closing = body["side"] == ("SELL" if side is Side.LONG else "BUY")

        def dec(name: str) -> Decimal | None:
            raw = body.get(name)
            if raw in (None, "", "0", 0):
                return None
            try:
                return Decimal(str(raw))
            except ArithmeticError:
                raise WeexError(-1142, f"PARAM_ERROR: {name}") from None

        request = OrderRequest(
            symbol=symbol,
            position_side=side,
            size=dec("quantity") or Decimal(0),
            client_order_id=str(body["newClientOrderId"]),
            reduce_only=closing or bool(body.get("reduceOnly")),
            order_type=body["type"],
            price=dec("price"),
            tp_price=dec("tpTriggerPrice"),
            sl_price=dec("slTriggerPrice"),
        )
        placed = self._venue(self.venue.place_order(request))
        return {
            "orderId": placed.order_id,
            "clientOrderId": placed.client_order_id,
            "success": True,
            "errorCode": "",
            "errorMessage": "",
        }

    def _place_tp_sl(self, body: dict[str, Any]) -> dict[str, Any]:
        for name in ("symbol", "clientAlgoId", "planType", "triggerPrice", "positionSide"):
            if body.get(name) in (None, ""):
                raise WeexError(-1141, f"PARAM_EMPTY: {name}")
        symbol = self._symbol(body)
        assert symbol is not None
        side = Side(str(body["positionSide"]))
        quantity = Decimal(str(body.get("quantity") or 0))
        if quantity == 0:
            pos = [p for p in self._venue(self.venue.positions()) if p.symbol == symbol and p.side is side]
            quantity = pos[0].size if pos else Decimal(0)
        kind = "tp" if body["planType"] == "TAKE_PROFIT" else "sl"
        placed = self._venue(
            self.venue.place_tp_sl(
                symbol, side, kind, Decimal(str(body["triggerPrice"])), quantity, str(body["clientAlgoId"])
            )
        )
        return {"success": True, "orderId": int(placed.order_id), "errorCode": "", "errorMessage": ""}


_SEVEN_DAYS_MS = 7 * 86_400_000

_KNOWN_PATHS = frozenset(
    {
        "/capi/v3/market/time",
        "/capi/v3/market/exchangeInfo",
        "/capi/v3/market/ticker/24hr",
        "/capi/v3/market/klines",
        "/capi/v3/market/historyKlines",
        "/capi/v3/account/balance",
        "/capi/v3/account/position/allPosition",
        "/capi/v3/account/position/singlePosition",
        "/capi/v3/account/leverage",
        "/capi/v3/order",
        "/capi/v3/order/history",
        "/capi/v3/openOrders",
        "/capi/v3/openAlgoOrders",
        "/capi/v3/algoOrder",
        "/capi/v3/allOpenOrders",
        "/capi/v3/algoOpenOrders",
        "/capi/v3/userTrades",
        "/capi/v3/placeTpSlOrder",
        "/capi/v3/closePositions",
        "/capi/v3/order/uploadAiLog",
        "/api/v3/coins",
        "/api/v3/exchangeInfo",
    }
)


@contextmanager
def running_fake(**kwargs: Any) -> Iterator[FakeWeex]:
    fake = FakeWeex(**kwargs)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


__all__ = ["DEFAULT_PRICES", "FakeWeex", "Faults", "running_fake"]
