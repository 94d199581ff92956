"""The websocket side of the fake WEEX, driven by the same paper-venue state as its REST side.

A pump on the fake's event loop diffs the venue (orders, fills, positions, balance, prices) every few
milliseconds and pushes what changed, in WEEX's V3 frame shapes (``{"e", "E", "v", "msgEvent", "d"}``;
ccxt pro's recordings in ``ccxt/pro/weex.py``), to the connections subscribed to it. So a TP/SL that
fires on the fake's price path is pushed as an order update, a fill, a position and an account update,
exactly once, like WEEX would. Tickers carry all 14 fields of ccxt pro's recording.

What it enforces, from the sources (each also a contract-corpus case in ``tests/contract/weex``):
channels are ``orders``, ``fill``, ``positions``, ``account`` on the private path and
``<SYMBOL>@ticker`` on the public one; anything else is refused ``{"result": false, "id", "msg":
"INVALID_ARGUMENT: ..."}`` (ccxt pro ``handle_error_message``). The server pings
(``{"event": "ping"}`` public, ``{"type": "ping"}`` private) every ``ping_interval`` seconds and accepts a
PONG in every form WEEX's sources show (``{"id", "method": "PONG"}``, ccxt pro and Weex.Net;
``{"event": "pong", "time"}``, the v2 page); on the public path it echoes ``{"id", "method": "PONG"}``
(ccxt pro's comment; Weex.Net waits for it there only). A connection that leaves ``max_missed_pongs``
pings in a row unanswered is closed (the v2 page: "5 missed pongs → disconnect"). Protocol-level pings
are answered by the websocket library, except on a stalled connection (its reading is paused).

Round-trip time: while the REST side injects ``fake.faults.latency`` (one round trip per request), each
push leaves half of it (one way, venue to client) after the change it reports, as a live push travels
too; the pump keeps diffing meanwhile and frames keep their order.

Fault knobs (``fake.ws.faults``): ``delay`` seconds before each push; ``refuse_auth`` rejects the
private handshake with HTTP 401; ``cut`` answers every handshake 503 (the stream is unreachable);
``malformed_next`` sends that many unreadable frames before the next pushes; ``ping_interval``;
``max_missed_pongs``; ``deaf_to_protocol_pings`` never answers a protocol-level ping (the keep-alive
ccxt relies on; for the probe); ``refuse_channels`` refuses subscriptions naming those channels (e.g. for the
probe); ``close_after_ack`` acks a subscription and closes the connection at once (the
reconnect-storm case); ``echo_refusals`` refuses that many private subscriptions and ``echo_frames``
then sends that many error frames, each quoting the request's key and passphrase and the account's
secret (what a careless exchange error might do: the no-secret-stored canary). Actions:
``fake.ws.drop()`` cuts every connection; ``fake.ws.stall()`` makes the current connections go silent
(no pushes, no pings, no pongs: reading is paused) while the socket stays open.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from smt_engine.exchange.market import to_ms
from smt_engine.exchange.precision import plain

if TYPE_CHECKING:
    from tests.fakes.weex_server import FakeWeex

log = logging.getLogger(__name__)
_SERVER_LOG = logging.getLogger(f"{__name__}.server")
_SERVER_LOG.propagate = False  # the handshake lines would reach handlers a finished test has closed

PRIVATE = "/v3/ws/private"
PUBLIC = "/v3/ws/public"
PRIVATE_CHANNELS = frozenset({"orders", "fill", "positions", "account"})
"""WEEX's contract private channels (ccxt pro watch_orders/watch_my_trades/watch_positions/watch_balance)."""
_STATUS_WS = {"NEW": "PENDING", "UNTRIGGERED": "UNTRIGGERED"}
_MSG_EVENT = "OrderUpdate"
"""``msgEvent`` of a push caused by trading (ccxt pro's orders/fill/positions recordings; an account push
caused by a deposit says ``DepositUpdate`` instead, which the fake never makes)."""


@dataclass
class WsFaults:
    delay: float = 0.0
    refuse_auth: bool = False
    cut: bool = False
    malformed_next: int = 0
    ping_interval: float = 1.0
    max_missed_pongs: int = 5
    deaf_to_protocol_pings: bool = False
    close_after_ack: bool = False
    echo_refusals: int = 0
    echo_frames: int = 0
    refuse_channels: frozenset[str] = frozenset()
    """Channels a SUBSCRIBE naming them is refused for (``{"result": false, ...}``), e.g. for the probe."""


@dataclass
class _Conn:
    ws: ServerConnection
    private: bool
    channels: set[str]
    stalled: bool = False
    unanswered: int = 0


class FakeWeexStreams:
    def __init__(self, fake: FakeWeex) -> None:
        self.fake = fake
        self.faults = WsFaults()
        self.conns: list[_Conn] = []
        self.pushed: list[dict[str, Any]] = []
        self.handshakes = 0
        self.errors = 0
        self.pongs = 0
        self.pong_forms: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self.subscribes: list[list[str]] = []
        self.missed_pong_closes = 0
        self.echoed = 0
        self._server: Server | None = None
        self._seq = 0
        self._orders: dict[str, tuple[str, Decimal]] = {}
        self._fills = 0
        self._positions: dict[tuple[str, str], Any] = {}
        """The last pushed state of each held position (its venue record), to push its close from."""
        self._prices: dict[str, Decimal] = {}
        self._balance: tuple[Decimal, Decimal] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._outbox: asyncio.Queue[tuple[float, _Conn, str]] = asyncio.Queue()

    # ------------------------------------------------------------------ lifecycle (on the fake's loop)

    async def start(self) -> None:
        self._server = await serve(
            self._handler, "127.0.0.1", 0, process_request=self._check, logger=_SERVER_LOG
        )
        await self._snapshot()  # what exists before anyone connects is not news
        self._tasks = [
            asyncio.create_task(self._pump()),
            asyncio.create_task(self._pinger()),
            asyncio.create_task(self._deliver()),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for conn in list(self.conns):
            if conn.stalled:  # a paused reader would never see the closing handshake
                conn.ws.transport.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"

    # ------------------------------------------------------------------ test actions (any thread)

    def drop(self) -> None:
        async def _drop() -> None:
            for conn in list(self.conns):
                conn.ws.transport.abort()

        self.fake.call(_drop())

    def stall(self) -> None:
        async def _stall() -> None:
            for conn in self.conns:
                conn.stalled = True
                conn.ws.transport.pause_reading()  # no frame is read: no pong to a protocol ping

        self.fake.call(_stall())

    def inject_ticker(self, symbol: str, text: str) -> int:
        """Send ``text`` as-is to the connections subscribed to ``symbol``'s ticker, leaving the venue (and
        so its REST answers) unchanged: a glitching push. Returns how many connections got it."""

        async def _inject() -> int:
            targets = [c for c in self.conns if f"{symbol}@ticker" in c.channels and not c.stalled]
            for conn in targets:
                await self._send_raw(conn, text)
            return len(targets)

        return int(self.fake.call(_inject()))

    def connected(self, private: bool = True) -> int:
        async def _count() -> int:
            return sum(1 for c in self.conns if c.private == private and not c.stalled)

        return int(self.fake.call(_count()))

    # ------------------------------------------------------------------ handshake and subscription

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        if self.faults.cut:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "websocket service unavailable\n")
        if request.path == PUBLIC:
            return None
        if request.path != PRIVATE:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        if self.faults.refuse_auth or not self._signed(request.headers):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "authentication failed\n")
        return None

    def _signed(self, headers: Headers) -> bool:
        fake = self.fake
        ts = headers.get("ACCESS-TIMESTAMP") or ""
        if headers.get("ACCESS-KEY") != fake.api_key or headers.get("ACCESS-PASSPHRASE") != fake.passphrase:
            return False
        server_ms = time.time() * 1000 + fake.server_time_offset_ms  # the same server clock as REST
        if not ts.isdigit() or abs(int(ts) - server_ms) > fake.faults.timestamp_window * 1000:
            return False
        digest = hmac.new(fake.secret.encode(), (ts + PRIVATE).encode(), hashlib.sha256).digest()
        return hmac.compare_digest(base64.b64encode(digest).decode(), headers.get("ACCESS-SIGN") or "")

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        conn = _Conn(ws, private=ws.request.path == PRIVATE, channels=set())
        if self.faults.deaf_to_protocol_pings:
            _drop_protocol_pongs(ws)
        try:
            async for raw in ws:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    await ws.send(json.dumps({"result": False, "id": None, "msg": "INVALID_JSON"}))
                    continue
                if not isinstance(frame, dict):
                    await ws.send(json.dumps({"result": False, "id": None, "msg": "INVALID_ARGUMENT"}))
                    continue
                if _is_pong(frame):
                    self.pongs += 1
                    self.pong_forms.append(frame)
                    conn.unanswered = 0
                    if not conn.private and frame.get("method"):
                        await ws.send(json.dumps({"id": frame.get("id"), "method": "PONG"}))
                    continue
                if frame.get("method") == "SUBSCRIBE":
                    await self._subscribe(conn, frame)
        except ConnectionClosed:
            pass
        finally:
            if conn in self.conns:
                self.conns.remove(conn)

    async def _subscribe(self, conn: _Conn, frame: dict[str, Any]) -> None:
        ws = conn.ws
        if conn.private and self.faults.echo_refusals > 0:
            self.faults.echo_refusals -= 1
            self.echoed += 1
            await ws.send(json.dumps({"result": False, "id": frame.get("id"), "msg": self._echo(ws)}))
            return
        params = [str(c) for c in frame.get("params") or []]
        self.subscribes.append(params)
        unknown = [
            c for c in params if not self._known_channel(c, conn.private) or c in self.faults.refuse_channels
        ]
        if unknown or not params:
            self.refused.extend(unknown)
            msg = f"INVALID_ARGUMENT: invalid channel : {', '.join(unknown) or 'none'}"
            await ws.send(json.dumps({"result": False, "id": frame.get("id"), "msg": msg}))
            return
        conn.channels.update(params)
        await ws.send(json.dumps({"result": True, "id": frame.get("id")}))
        if self.faults.close_after_ack:
            await ws.close()
            return
        if conn not in self.conns:
            self.conns.append(conn)
        while conn.private and self.faults.echo_frames > 0:
            self.faults.echo_frames -= 1
            self.echoed += 1
            await ws.send(json.dumps({"result": False, "code": 40012, "msg": self._echo(ws)}))

    def _known_channel(self, channel: str, private: bool) -> bool:
        if private:
            return channel in PRIVATE_CHANNELS
        symbol, _, kind = channel.partition("@")
        return kind == "ticker" and symbol in self.fake.venue.table

    def _echo(self, ws: ServerConnection) -> str:
        assert ws.request is not None
        headers = ws.request.headers
        return (
            f"invalid sign: ACCESS-KEY {headers.get('ACCESS-KEY')} ACCESS-PASSPHRASE "
            f"{headers.get('ACCESS-PASSPHRASE')} does not match secret {self.fake.secret}"
        )

    # ------------------------------------------------------------------ pushes

    async def _pinger(self) -> None:
        while True:
            await asyncio.sleep(self.faults.ping_interval)
            for conn in list(self.conns):
                if conn.stalled:
                    continue
                if conn.unanswered >= self.faults.max_missed_pongs:
                    self.missed_pong_closes += 1
                    conn.ws.transport.abort()
                    continue
                key = "type" if conn.private else "event"
                conn.unanswered += 1
                await self._send(conn, {key: "ping", "time": str(int(time.time() * 1000))})

    async def _pump(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            if not self.conns:
                continue
            try:
                for channel, symbol, rows in await self._snapshot():
                    await self._push(channel, symbol, rows)
            except Exception:  # a fake that silently stops pushing would hide client bugs
                log.exception("fake WEEX websocket pump failed; carrying on")
                self.errors += 1

    async def _snapshot(self) -> list[tuple[str, str | None, list[dict[str, Any]]]]:
        """What changed in the venue since the last look, as (channel, symbol, rows)."""
        venue = self.fake.venue
        positions = await venue.positions()  # also advances the venue along the price path
        acct = venue._acct
        out: list[tuple[str, str | None, list[dict[str, Any]]]] = []
        orders = []
        for o in acct.orders:
            state = (o.status.value, o.filled_size)
            if self._orders.get(o.order_id) != state:
                self._orders[o.order_id] = state
                orders.append(order_row(o))
        if orders:
            out.append(("orders", None, orders))
        if len(acct.fills) > self._fills:
            out.append(
                (
                    "fill",
                    None,
                    [_fill_row(f, n) for n, f in enumerate(acct.fills[self._fills :], self._fills)],
                )
            )
            self._fills = len(acct.fills)
        now = {(p.symbol, p.side.value): p for p in positions}
        was = self._positions
        changed = [_position_row(p) for k, p in now.items() if k not in was or was[k].size != p.size]
        at = to_ms(self.fake.clock.now())
        changed += [closed_position_row(p, at) for k, p in was.items() if k not in now]
        self._positions = {k: copy.copy(p) for k, p in now.items()}
        if changed:
            out.append(("positions", None, changed))
        balance = await venue.balance()
        if self._balance != (balance.balance, balance.available):
            self._balance = (balance.balance, balance.available)
            out.append(("account", None, [_account_row(balance)]))
        for symbol in self.fake.venue.table:
            try:
                price = self.fake.market.price_now(symbol)
            except ValueError:
                continue
            if self._prices.get(symbol) != price:
                self._prices[symbol] = price
                out.append(("ticker", symbol, [_ticker_row(price, to_ms(self.fake.clock.now()))]))
        return out

    async def _push(self, channel: str, symbol: str | None, rows: list[dict[str, Any]]) -> None:
        self._seq += 1
        # The event time is the venue's (its clock, as far ahead of the host as ``server_time_offset_ms``
        # says, the same clock REST's serverTime reads), as WEEX stamps a push with its own time.
        venue_ms = to_ms(self.fake.clock.now()) + self.fake.server_time_offset_ms
        frame: dict[str, Any] = {"e": channel, "E": venue_ms, "v": self._seq}
        if channel != "ticker":
            frame["msgEvent"] = _MSG_EVENT
        frame["d"] = rows
        if symbol is not None:
            frame["s"] = symbol
        wanted = f"{symbol}@ticker" if channel == "ticker" else channel
        targets = [c for c in self.conns if wanted in c.channels and not c.stalled]
        if not targets:
            return
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        self.pushed.append(frame)
        text = json.dumps(frame, separators=(",", ":"))
        for conn in targets:
            if self.faults.malformed_next > 0:
                self.faults.malformed_next -= 1
                await self._travel(conn, '{"e": "orders", "d": [')
            await self._travel(conn, text)

    async def _travel(self, conn: _Conn, text: str) -> None:
        """A push crosses the network one way: half the injected round trip, if any, then it arrives."""
        one_way = self.fake.faults.latency / 2
        if not one_way:
            await self._send_raw(conn, text)
            return
        self._outbox.put_nowait((asyncio.get_running_loop().time() + one_way, conn, text))

    async def _deliver(self) -> None:
        """Sends each delayed push when its one-way time is up, in order, so the pump never waits."""
        loop = asyncio.get_running_loop()
        while True:
            due, conn, text = await self._outbox.get()
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            await self._send_raw(conn, text)

    async def _send(self, conn: _Conn, frame: dict[str, Any]) -> None:
        await self._send_raw(conn, json.dumps(frame, separators=(",", ":")))

    async def _send_raw(self, conn: _Conn, text: str) -> None:
        try:
            await conn.ws.send(text)
        except ConnectionClosed:
            if conn in self.conns:
                self.conns.remove(conn)


def _is_pong(frame: dict[str, Any]) -> bool:
    """Every PONG form WEEX's sources show: ``{"id", "method": "PONG"}`` (ccxt pro, Weex.Net) and
    ``{"event": "pong", "time"}`` (the v2 page); ``{"type": "pong"}`` mirrors the private ping."""
    if str(frame.get("method") or "").upper() == "PONG":
        return True
    return "pong" in (frame.get("event"), frame.get("type"))


def _ticker_row(price: Decimal, now: int) -> dict[str, Any]:
    """All 14 fields of ccxt pro's contract ticker recording (handle_ticker): the fake's flat 24 h, stamped
    ``now`` (ms) by the venue's clock."""
    p = plain(price)
    return {
        "p": "0",
        "P": "0",
        "w": p,
        "c": p,
        "o": p,
        "h": p,
        "l": p,
        "v": "0",
        "q": "0",
        "O": now - 86_400_000,
        "C": now,
        "n": 0,
        "m": p,
        "i": p,
    }


def _account_row(balance: Any) -> dict[str, Any]:
    """An ``account`` push row (ccxt pro's contract recording of handle_balance); ccxt reads ``amount``
    as free and ``legacyAmount`` as total."""
    now = str(int(time.time() * 1000))
    zero = "0"
    return {
        "coin": "USDT",
        "marginMode": "CROSSED",
        "crossSymbol": zero,
        "isolatedPositionId": zero,
        "amount": plain(balance.available),
        "pendingDepositAmount": zero,
        "pendingWithdrawAmount": zero,
        "pendingTransferInAmount": zero,
        "pendingTransferOutAmount": zero,
        "liquidating": False,
        "legacyAmount": plain(balance.balance),
        "cumDepositAmount": plain(balance.balance),
        "cumWithdrawAmount": zero,
        "cumTransferInAmount": zero,
        "cumTransferOutAmount": zero,
        "cumMarginMoveInAmount": zero,
        "cumMarginMoveOutAmount": zero,
        "cumPositionOpenLongAmount": zero,
        "cumPositionOpenShortAmount": zero,
        "cumPositionCloseLongAmount": zero,
        "cumPositionCloseShortAmount": zero,
        "cumPositionFillFeeAmount": zero,
        "cumPositionLiquidateFeeAmount": zero,
        "cumPositionFundingAmount": zero,
        "cumOrderFillFeeIncomeAmount": zero,
        "cumOrderLiquidateFeeIncomeAmount": zero,
        "createdTime": now,
        "updatedTime": now,
    }


def order_row(o: Any) -> dict[str, Any]:
    """An ``orders`` push row (ccxt's swap recording of handle_orders)."""
    status = o.status.name if o.status.name != "CANCELLED" else "CANCELED"
    return {
        "id": o.order_id,
        "coin": "USDT",
        "symbol": o.symbol,
        "marginMode": "CROSSED",
        "separatedMode": "COMBINED",
        "separatedOpenOrderId": "0",
        "positionSide": o.position_side.value,
        "orderSide": "BUY" if (o.position_side.value == "LONG") != o.reduce_only else "SELL",
        "price": plain(o.price or Decimal(0)),
        "size": plain(o.size),
        "clientOrderId": o.client_order_id or "",
        "type": o.order_type,
        "timeInForce": "GTC" if o.order_type == "LIMIT" else "IOC",
        "reduceOnly": o.reduce_only,
        "triggerPrice": plain(o.trigger_price or Decimal(0)),
        "triggerPriceType": "CONTRACT_PRICE",
        "orderSource": "API",
        "openTpslParentOrderId": o.parent_order_id or "0",
        "positionTpsl": False,
        "setOpenTp": False,
        "setOpenSl": False,
        "leverage": "1",
        "takerFeeRate": "0.0008",
        "makerFeeRate": "0.0002",
        "feeDiscount": "1",
        "liquidateFeeRate": "0.01",
        "status": _STATUS_WS.get(status, status),
        "triggerTime": "0",
        "triggerPriceTime": "0",
        "triggerPriceValue": "0",
        "cancelReason": "UNKNOWN_ORDER_CANCEL_REASON",
        "latestFillPrice": plain(o.avg_price or Decimal(0)),
        "maxFillPrice": plain(o.avg_price or Decimal(0)),
        "minFillPrice": plain(o.avg_price or Decimal(0)),
        "cumFillSize": plain(o.filled_size),
        "cumFillValue": plain((o.avg_price or Decimal(0)) * o.filled_size),
        "cumFillFee": plain(o.fee),
        "cumLiquidateFee": "0",
        "cumRealizePnl": plain(o.realized_pnl),
        "createdTime": str(to_ms(o.created_at)),
        "updatedTime": str(to_ms(o.updated_at)),
    }


def _fill_row(f: Any, n: int) -> dict[str, Any]:
    closing = f.realized_pnl != 0
    buy = (f.position_side.value == "LONG") != closing
    return {
        "id": str(800_000_000_000_000_000 + n),
        "coin": "USDT",
        "symbol": f.symbol,
        "orderId": f.order_id,
        "marginMode": "CROSSED",
        "separatedMode": "COMBINED",
        "separatedOpenOrderId": "0",
        "positionSide": f.position_side.value,
        "orderSide": "BUY" if buy else "SELL",
        "fillSize": plain(f.size),
        "fillValue": plain(f.size * f.price),
        "fillFee": plain(f.fee),
        "liquidateFee": "0",
        "realizePnl": plain(f.realized_pnl),
        "direction": "TAKER",
        "createdTime": str(to_ms(f.at)),
        "updatedTime": str(to_ms(f.at)),
    }


def _position_row(p: Any) -> dict[str, Any]:
    """A ``positions`` push row (ccxt pro's handle_positions recording)."""
    value = plain(p.entry_price * p.size)
    return _position_fields(
        {
            "id": p.position_id,
            "symbol": p.symbol,
            "side": p.side.value,
            "marginMode": "ISOLATED" if p.margin_mode == "isolated" else "CROSSED",
            "leverage": plain(p.leverage),
            "size": plain(p.size),
            "openValue": value,
            "isolatedMargin": plain(p.margin) if p.margin_mode == "isolated" else "0",
            "cumOpenSize": plain(p.size),
            "cumOpenValue": value,
            "createdTime": str(to_ms(p.opened_at)),
            "updatedTime": str(to_ms(p.updated_at)),
        }
    )


def closed_position_row(p: Any, at: int) -> dict[str, Any]:
    """The push of a position that went flat: the same position id, size 0, all of it closed.

    Neither WEEX's positions-channel page nor ccxt pro's recording shows a close; this follows the
    recorded row's own fields (``size`` is what is held now, ``cumCloseSize`` what was closed), as the
    page's example of a partly closed position does (``size`` 0.01 of ``cumOpenSize`` 0.55061).
    """
    value = plain(p.entry_price * p.size)
    return _position_fields(
        {
            "id": p.position_id,
            "symbol": p.symbol,
            "side": p.side.value,
            "leverage": plain(p.leverage),
            "size": "0",
            "openValue": "0",
            "cumOpenSize": plain(p.size),
            "cumOpenValue": value,
            "cumCloseSize": plain(p.size),
            "createdTime": str(to_ms(p.opened_at)),
            "updatedTime": str(at),
        }
    )


def _position_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The recorded fields the fake does not track, at their neutral values."""
    neutral: dict[str, Any] = {
        "coin": "USDT",
        "marginMode": "CROSSED",
        "separatedMode": "COMBINED",
        "separatedOpenOrderId": "0",
        "leverage": "1",
        "openFee": "0",
        "fundingFee": "0",
        "isolatedMargin": "0",
        "autoAppendIsolatedMargin": False,
        "cumOpenSize": "0",
        "cumOpenValue": "0",
        "cumOpenFee": "0",
        "cumCloseSize": "0",
        "cumCloseValue": "0",
        "cumCloseFee": "0",
        "cumFundingFee": "0",
        "cumLiquidateFee": "0",
        "createdMatchSequenceId": "0",
        "updatedMatchSequenceId": "0",
    }
    return neutral | row


def _drop_protocol_pongs(ws: ServerConnection) -> None:
    """The websocket library answers every protocol ping (RFC 6455 5.5.2); a deaf venue drops the pong."""
    send = ws.protocol.send_frame

    def without_pongs(frame: Frame) -> None:
        if frame.opcode is not Opcode.PONG:
            send(frame)

    ws.protocol.send_frame = without_pongs  # type: ignore[method-assign]
