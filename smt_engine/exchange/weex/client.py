"""WEEX v3 contract REST client (``/capi/v3``) implementing ``Exchange``.

Rules it enforces (each one a lesson of the seed system): sign exactly the bytes that are sent;
millisecond timestamps corrected by the server-time offset; every envelope shape WEEX uses is parsed
(bare objects/arrays, ``{code,msg}`` errors, per-item ``success/errorCode``, ``"200"``/``"00000"``
successes); a client-side weight limiter keeps under the published budgets and honours 429; reads are
retried with jittered back-off; order creation is **never** retried (anything that may have reached
WEEX raises ``AmbiguousOutcome``, resolved with ``find_order``); precision comes from exchangeInfo at
run time, is cached in ``store.contracts`` and corrected from the step a rejection quotes; orders are
checked locally (step, tick, minimum size and notional, TP side) before anything is sent.

Success is never assumed: every non-2xx answer is an error whatever its body (a 404 is
``EndpointNotFound``), and where an endpoint documents its success (cancel ``success: true``, leverage
echoing the symbol, uploadAiLog ``0`` or ``"00000"``) anything else is not success. TP/SL legs are taken from
whichever endpoint reports them (``openAlgoOrders``, order history, order detail by id) and classified
only from explicit fields.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from smt_engine.domain import EventLevel, HealthStatus, Side
from smt_engine.exchange.base import (
    AiLogUpload,
    AlgoOrder,
    AmbiguousOutcome,
    Balance,
    EndpointNotFound,
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
    ExchangeUnavailable,
    Fill,
    InvalidOrder,
    OrderNotFound,
    OrderRequest,
    PlacedOrder,
    VenuePrecisionError,
    open_leg,
)
from smt_engine.exchange.ids import valid_client_id
from smt_engine.exchange.market import from_ms, to_ms
from smt_engine.exchange.market.plausibility import plausible_price
from smt_engine.exchange.precision import check_price, check_size, check_tp_sl, plain
from smt_engine.exchange.weex.errors import error_for
from smt_engine.exchange.weex.parsing import (
    UnclassifiedLeg,
    decimal_or,
    parse_algo,
    parse_order,
    parse_position,
)
from smt_engine.exchange.weex.public import WeexPublic
from smt_engine.exchange.weex.transport import AI_LOG_FACT, AI_LOG_PATHS, AI_LOG_SUCCESS
from smt_engine.health import report_health

log = logging.getLogger(__name__)

ORDER_PATH = "/capi/v3/order"
ALGO_PATH = "/capi/v3/algoOrder"
USER_TRADES_WINDOW = timedelta(days=7) - timedelta(minutes=2)
"""GetTradeDetails: ``endTime`` - ``startTime`` at most 7 days; the window ends a minute after our now
(a host clock slightly behind WEEX's must not cut off the newest fill) and keeps a minute of margin."""

HISTORY_SCAN_PERIOD = timedelta(seconds=10)
"""The monitor's every-symbol read of TP/SL legs reads a symbol's order history (where attached take-profits
show) at most this often; between, the legs it found are confirmed by id (weight 5, not 10). At the 2 s
stream-down poll with five positions this keeps the poll at 340 weight per 10 s, inside the engine's 400
(docs/benchmarks.md, "At internet distance"). A read for one symbol (an entry's protection) always reads
it."""

UNCLASSIFIED_COMPONENT = "exchange.legs"
"""Health row naming TP/SL orders whose kind no field states (left out of every protection check)."""


class WeexClient(WeexPublic):
    """``Exchange`` over WEEX v3. Construct with keys from ``SecretStore`` (see ``factory``)."""

    name = "weex"

    # ------------------------------------------------------------------ account

    async def balance(self) -> Balance:
        body = await self._get("/capi/v3/account/balance")
        rows = body if isinstance(body, list) else [body]
        for row in rows:
            if isinstance(row, dict) and row.get("asset") in ("USDT", "SUSDT"):
                try:
                    return Balance(
                        asset=str(row["asset"]),
                        balance=decimal_or(row["balance"]),
                        available=decimal_or(row["availableBalance"]),
                        frozen=decimal_or(row.get("frozen"), Decimal(0)),
                        unrealized_pnl=decimal_or(row.get("unrealizePnl"), Decimal(0)),
                    )
                except (KeyError, ValueError) as exc:
                    raise ExchangeUnavailable(f"balance: bad row ({exc})", raw=row) from exc
        # Never invent a balance (the seed returned 1000 on any error).
        raise ExchangeUnavailable("balance: no USDT row in the answer", raw=body)

    async def positions(self) -> list[ExchangePosition]:
        reading = asyncio.ensure_future(self._read_positions())
        self._positions_reading = reading
        try:
            return await reading
        finally:
            if self._positions_reading is reading:
                self._positions_reading = None

    async def _read_positions(self) -> list[ExchangePosition]:
        body = await self._get("/capi/v3/account/position/allPosition")
        if not isinstance(body, list):
            raise ExchangeUnavailable("positions: expected a list", raw=body)
        out = []
        for row in body:
            try:
                if decimal_or(row["size"]) == 0:
                    # A flat side holds nothing to protect, the same as no row; refusing it would blind
                    # the stop guard to every other position until the venue stopped sending it.
                    continue
                out.append(parse_position(row))
            except (KeyError, ValueError, TypeError) as exc:
                # An unreadable row must not look like "no position" (that would cancel protection).
                raise ExchangeUnavailable(f"positions: unreadable row ({exc})", raw=row) from exc
        self._positions_seen = (time.monotonic(), out)
        return out

    async def set_leverage(
        self, symbol: str, leverage: int, margin_mode: Literal["cross", "isolated"]
    ) -> None:
        body: dict[str, Any] = {
            "symbol": symbol,
            "marginType": "CROSSED" if margin_mode == "cross" else "ISOLATED",
        }
        if margin_mode == "cross":
            body["crossLeverage"] = str(leverage)
        else:
            body["isolatedLongLeverage"] = str(leverage)
            body["isolatedShortLeverage"] = str(leverage)
        result = await self._request("POST", "/capi/v3/account/leverage", body=body)
        # Success is the documented echo of the symbol (reference §2.1); anything else is unconfirmed.
        if not isinstance(result, dict) or result.get("symbol") != symbol:
            raise ExchangeUnavailable(f"set leverage {symbol}: answer does not confirm it", raw=result)

    # ------------------------------------------------------------------ orders

    async def _validate(self, request: OrderRequest) -> None:
        if not valid_client_id(request.client_order_id):
            raise InvalidOrder(
                f"client order id {request.client_order_id!r} breaks WEEX's 1-36 [.A-Z:/a-z0-9_-] rule"
            )
        contract = await self.contract(request.symbol)
        ref: Decimal | None
        if request.order_type == "LIMIT":
            if request.price is None:
                raise InvalidOrder("a LIMIT order needs a price")
            check_price(contract, request.price, "price")
            ref = request.price
        elif request.reduce_only:
            # A close's price serves only the notional floor (WEEX's contracts have none): read it only
            # for a floor, and never let our feed hold the close back (no round trip before a close).
            ref = await self.checked_price(request.symbol) if contract.min_notional else None
        else:
            # An entry is checked on a plausible price or not sent (ImplausiblePrice).
            ref = await plausible_price(self, request.symbol, self.clock, self.price_rule)
        check_size(contract, request.size, ref)
        for what, price in (("take-profit", request.tp_price), ("stop-loss", request.sl_price)):
            if price is not None:
                check_price(contract, price, what)
        if not request.reduce_only:
            assert ref is not None
            check_tp_sl(request.position_side, ref, request.tp_price, request.sl_price)
        elif request.tp_price is not None or request.sl_price is not None:
            raise InvalidOrder("TP/SL cannot be attached to a reduce-only close")

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        await self._validate(request)
        buy = (request.position_side is Side.LONG) != request.reduce_only
        body: dict[str, Any] = {
            "symbol": request.symbol,
            "side": "BUY" if buy else "SELL",
            "positionSide": request.position_side.value,
            "type": request.order_type,
            "quantity": plain(request.size),
        }
        if request.order_type == "LIMIT" and request.price is not None:
            body["price"] = plain(request.price)
            body["timeInForce"] = "GTC"
        body["newClientOrderId"] = request.client_order_id
        if request.tp_price is not None:
            body["tpTriggerPrice"] = plain(request.tp_price)
            body["TpWorkingType"] = "CONTRACT_PRICE"
        if request.sl_price is not None:
            body["slTriggerPrice"] = plain(request.sl_price)
            body["SlWorkingType"] = "CONTRACT_PRICE"
        # No ``reduceOnly``: WEEX's PlaceOrder page documents none. The documented close is the side
        # against the position side (SELL + LONG, BUY + SHORT reduce/close; doc PlaceOrder, reference
        # §3.3.1), which ``buy`` above already encodes; WEEX itself then refuses to grow the position.
        result = await self._send_order("/capi/v3/order", body, request.symbol, request.client_order_id)
        try:
            return PlacedOrder(order_id=_first_id(result), client_order_id=request.client_order_id)
        except ExchangeError as exc:
            raise AmbiguousOutcome(str(exc), client_order_id=request.client_order_id, raw=result) from exc

    async def _send_order(self, path: str, body: dict[str, Any], symbol: str, cid: str) -> Any:
        self._positions_seen = (float("-inf"), [])
        try:
            return await self._request("POST", path, body=body, order_cid=cid)
        except VenuePrecisionError as exc:
            self.learn_from_rejection(symbol, str(exc))
            raise

    async def place_tp_sl(
        self,
        symbol: str,
        position_side: Side,
        kind: Literal["tp", "sl"],
        trigger_price: Decimal,
        size: Decimal,
        client_order_id: str,
    ) -> PlacedOrder:
        if not valid_client_id(client_order_id):
            raise InvalidOrder(f"client algo id {client_order_id!r} breaks WEEX's id rule")
        contract = await self.contract(symbol)
        check_price(contract, trigger_price, f"{kind} trigger")
        current = await self.checked_price(symbol)
        check_size(contract, size, current)
        if current is not None:
            check_tp_sl(
                position_side,
                current,
                trigger_price if kind == "tp" else None,
                trigger_price if kind == "sl" else None,
            )
        body = {
            "symbol": symbol,
            "clientAlgoId": client_order_id,
            "planType": "TAKE_PROFIT" if kind == "tp" else "STOP_LOSS",
            "triggerPrice": plain(trigger_price),
            "executePrice": "0",
            "quantity": plain(size),
            "positionSide": position_side.value,
            "triggerPriceType": "CONTRACT_PRICE",
        }
        result = await self._send_order("/capi/v3/placeTpSlOrder", body, symbol, client_order_id)
        return PlacedOrder(order_id=_first_id(result), client_order_id=client_order_id)

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        for order in await self.open_orders(symbol):
            if order.client_order_id == client_order_id:
                return order
        for algo in await self.open_algo_orders(symbol):
            if algo.client_order_id == client_order_id:
                return ExchangeOrder(
                    order_id=algo.order_id,
                    client_order_id=algo.client_order_id,
                    symbol=algo.symbol,
                    position_side=algo.position_side,
                    reduce_only=True,
                    order_type="TAKE_PROFIT_MARKET" if algo.kind == "tp" else "STOP_MARKET",
                    status=algo.status,
                    size=algo.size,
                    filled_size=Decimal(0),
                    price=None,
                    avg_price=None,
                    created_at=algo.created_at,
                    updated_at=algo.created_at,
                    kind=algo.kind,
                    trigger_price=algo.trigger_price,
                )
        for order in await self.order_history(symbol, limit=500):
            if order.client_order_id == client_order_id:
                return order
        return None

    async def order(self, symbol: str, order_id: str) -> ExchangeOrder:
        body = await self._get("/capi/v3/order", {"orderId": order_id})
        if not isinstance(body, dict):
            raise ExchangeUnavailable("order: expected an object", raw=body)
        order: ExchangeOrder = self._parse_or_unavailable(parse_order, body)
        return order

    @staticmethod
    def _parse_or_unavailable(fn: Callable[[dict[str, Any]], Any], row: Any) -> Any:
        try:
            return fn(row)
        except (KeyError, ValueError, TypeError) as exc:
            raise ExchangeUnavailable(f"unreadable order row ({exc})", raw=row) from exc

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        if order_id is None and client_order_id is None:
            raise InvalidOrder("cancel needs an order id or a client order id")
        params = {"orderId": order_id} if order_id is not None else {"origClientOrderId": client_order_id}
        _confirm_cancel(await self._request("DELETE", "/capi/v3/order", params=params), order_id or "?")

    async def cancel_algo_order(self, symbol: str, order_id: str) -> None:
        """Cancel a TP/SL leg through the endpoint of the listing that reported it.

        A leg WEEX lists under ``/order`` (an attached TP: ccxt's recordings show it only on GET
        ``/capi/v3/order`` and ``/order/history``, reference §3.4.3) is an order, cancelled with DELETE
        ``/capi/v3/order?orderId`` (doc CancelOrder); a leg listed by ``openAlgoOrders`` is cancelled with
        DELETE ``/capi/v3/algoOrder?orderId=<algo id>`` (Weex.Net, ccxt ``cancel_order`` with ``trigger``).
        The sources do not say whether either endpoint also knows the other kind, so an "order not found"
        from the first is tried once on the other.
        """
        paths = [ORDER_PATH, ALGO_PATH]
        if self._leg_listing.get(order_id) != ORDER_PATH:
            paths.reverse()
        for n, path in enumerate(paths):
            try:
                answer = await self._request("DELETE", path, params={"orderId": order_id})
            except OrderNotFound:
                if n:
                    raise
                continue
            _confirm_cancel(answer, order_id)
            break
        self._known_legs.pop(order_id, None)
        self._leg_listing.pop(order_id, None)

    async def cancel_all(self, symbol: str) -> int:
        """Orders and TP/SL legs of ``symbol`` cancelled; an item WEEX did not cancel (``success: false``
        or an ``errorCode``) has already raised in the envelope check."""
        n = 0
        for path in ("/capi/v3/allOpenOrders", "/capi/v3/algoOpenOrders"):
            body = await self._request("DELETE", path, params={"symbol": symbol})
            if isinstance(body, list):
                n += sum(1 for item in body if isinstance(item, dict))
        return n

    async def _rows(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """A listing's rows. WEEX documents every listing as a bare array; an object (the seed read it as
        ``orders``/``list`` or else as no rows) is an outage, never an empty listing."""
        body = await self._get(path, params)
        if not isinstance(body, list):
            raise ExchangeUnavailable(f"{path}: expected a list", raw=body)
        return [row for row in body if isinstance(row, dict)]

    async def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        rows = await self._rows("/capi/v3/openOrders", {"symbol": symbol} if symbol else {})
        return [self._parse_or_unavailable(parse_order, r) for r in rows]

    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        """Every live TP/SL leg, from whichever endpoint reports it.

        openAlgoOrders lists placed legs and attached stop legs; ccxt's recordings show attached TP legs
        only on ``/order`` and ``/order/history`` (reference §3.4.3). So open legs in the history of
        each symbol with a position are added, and a leg seen before but listed nowhere now is asked
        for by id; a leg whose kind no field states is confirmed by order detail before it counts.
        """
        self._seed_known_legs()
        rows = await self._rows("/capi/v3/openAlgoOrders", {"symbol": symbol} if symbol else {})
        found: dict[str, AlgoOrder] = {}
        unclassified: dict[str, str] = {}
        for row in rows:
            listed = await self._algo_row(row)
            if isinstance(listed, AlgoOrder):
                found[listed.order_id] = listed
                self._leg_listing[listed.order_id] = ALGO_PATH
            else:
                unclassified[listed] = str(row.get("symbol"))
        self._report_unclassified(unclassified, symbol)
        # Attached TP legs (and a sibling left behind by a closed position) may be reported only there.
        positions = await self._recent_positions()
        now = self.clock.now()
        for sym in sorted({p.symbol for p in positions if symbol is None or p.symbol == symbol}):
            read = self._history_read.get(sym)
            if symbol is None and read is not None and now - read < HISTORY_SCAN_PERIOD:
                continue
            self._history_read[sym] = now
            for order in await self.order_history(sym, limit=100):
                reported = open_leg(order)
                if reported is not None and reported.order_id not in found:
                    found[reported.order_id] = reported
                    self._leg_listing[reported.order_id] = ORDER_PATH
        for order_id, sym in list(self._known_legs.items()):
            if order_id in found or (symbol and sym != symbol):
                continue
            try:
                confirmed = open_leg(await self.order(sym, order_id))
            except OrderNotFound:
                confirmed = None
            if confirmed is None:
                self._known_legs.pop(order_id, None)
            else:
                found[order_id] = confirmed
                self._leg_listing.setdefault(order_id, ORDER_PATH)
        for leg in found.values():
            self._known_legs[leg.order_id] = leg.symbol
        return list(found.values())

    async def _recent_positions(self) -> list[ExchangePosition]:
        """The positions being read right now (the monitor issues that read beside this one), else those
        read in the last second, else read now: one position list a tick, not two."""
        reading = self._positions_reading
        if reading is not None and not reading.done():
            return await asyncio.shield(reading)
        at, cached = self._positions_seen
        if time.monotonic() - at <= 1.0:
            return cached
        return await self.positions()

    async def _algo_row(self, row: dict[str, Any]) -> AlgoOrder | str:
        """The leg, or the id of one that neither the list nor its detail classifies (never a stop)."""
        try:
            return parse_algo(row)
        except UnclassifiedLeg as exc:
            detail = await self.order(str(row.get("symbol")), exc.order_id)
            kind = detail.kind
            if kind != "tp" and kind != "sl":
                return exc.order_id
            leg: AlgoOrder = self._parse_or_unavailable(lambda r: parse_algo(r, kind), row)
            return leg
        except (KeyError, ValueError, TypeError) as exc:
            raise ExchangeUnavailable(f"unreadable TP/SL row ({exc})", raw=row) from exc

    def _report_unclassified(self, unclassified: dict[str, str], symbol: str | None) -> None:
        """Say loudly that a TP/SL order (e.g. a trailing stop placed by hand) is not trusted as protection.

        Only that leg is left out: one odd order must not blind the monitor to every other leg.
        A WARNING event once per order id; the ``exchange.legs`` health row while any is listed.
        """
        for order_id, sym in unclassified.items():
            if order_id in self._unclassified_seen:
                continue
            self._unclassified_seen.add(order_id)
            log.warning("TP/SL order %s on %s: kind unknown; not trusted as protection", order_id, sym)
            if self.store is not None:
                self.store.events.append(
                    self.clock.now(),
                    EventLevel.WARNING,
                    "exchange.leg_unclassified",
                    f"TP/SL order {order_id} on {sym}: neither the list nor its detail says take-profit "
                    "or stop-loss; it is not counted as protection (check it in the WEEX UI)",
                    data={"order_id": order_id, "symbol": sym},
                )
        ids = sorted(unclassified)
        if self.store is None or ids == self._unclassified_listed or (symbol is not None and not ids):
            return  # a per-symbol read without any cannot say the other symbols' are gone
        self._unclassified_listed = ids
        if ids:
            report_health(
                self.store,
                self.clock,
                UNCLASSIFIED_COMPONENT,
                HealthStatus.WARN,
                f"TP/SL orders of unknown kind, not counted as protection: {', '.join(ids)}",
                {"order_ids": ids},
            )
        else:
            report_health(self.store, self.clock, UNCLASSIFIED_COMPONENT, HealthStatus.OK, "all classified")

    def _seed_known_legs(self) -> None:
        """Once per run: the legs the database holds for open positions are confirmed by id.

        A leg learned only from a stream push (an attached TP no listing shows) is otherwise forgotten
        by a restart, and then placed again or never cancelled.
        """
        if self._legs_seeded or self.store is None:
            return
        self._legs_seeded = True
        for position in self.store.positions.open_positions():
            for order_id in (position.tp_order_id, position.sl_order_id):
                if order_id:
                    self._known_legs.setdefault(order_id, position.symbol)

    def note_leg(self, order_id: str, symbol: str) -> None:
        """Remember a TP/SL leg id learned elsewhere (the private stream), so it is confirmed by id."""
        self._known_legs[order_id] = symbol

    async def order_history(
        self, symbol: str, since: datetime | None = None, limit: int = 100
    ) -> list[ExchangeOrder]:
        params: dict[str, Any] = {"symbol": symbol, "limit": min(limit, 1000)}
        if since is not None:
            params["startTime"] = to_ms(since)
        rows = await self._rows("/capi/v3/order/history", params)
        orders = [self._parse_or_unavailable(parse_order, r) for r in rows]
        return sorted(orders, key=lambda o: o.updated_at, reverse=True)[:limit]

    async def fills(
        self, symbol: str, since: datetime | None = None, limit: int = 100, order_id: str | None = None
    ) -> list[Fill]:
        """Fills from ``since`` on (``orderId``: of that order only). WEEX's GetTradeDetails page takes
        ``orderId``, ``startTime`` and ``endTime`` and limits a query to 7 days (reference §3.3.2), so the
        window sent always ends now and starts at most 7 days back: the closing fills of a position
        opened more than a week ago are still found (a ``since`` older than that used to find none)."""
        params: dict[str, Any] = {"symbol": symbol, "limit": min(limit, 100)}
        if order_id is not None:
            params["orderId"] = order_id
        now = self.clock.now()
        start = now - USER_TRADES_WINDOW if since is None else max(since, now - USER_TRADES_WINDOW)
        params["startTime"] = to_ms(start)
        params["endTime"] = to_ms(now + timedelta(minutes=1))
        out = []
        for row in await self._rows("/capi/v3/userTrades", params):
            try:
                out.append(
                    Fill(
                        order_id=str(row["orderId"]),
                        symbol=str(row["symbol"]),
                        position_side=Side(str(row["positionSide"])),
                        price=decimal_or(row["price"]),
                        size=decimal_or(row["qty"]),
                        fee=abs(decimal_or(row.get("commission"), Decimal(0))),
                        realized_pnl=decimal_or(row.get("realizedPnl"), Decimal(0)),
                        at=from_ms(row["time"]),
                    )
                )
            except (KeyError, ValueError) as exc:
                raise ExchangeUnavailable(f"userTrades: unreadable row ({exc})", raw=row) from exc
        return sorted(out, key=lambda f: f.at, reverse=True)

    async def close_position(self, symbol: str, side: Side, client_order_id: str) -> PlacedOrder:
        """A reduce-only market order for the full size, under our client id (closePositions has none)."""
        for pos in await self.positions():
            if pos.symbol == symbol and pos.side is side:
                request = OrderRequest(symbol, side, pos.size, client_order_id, reduce_only=True)
                return await self.place_order(request)
        raise InvalidOrder(f"no {side} position on {symbol} to close")

    async def upload_ai_log(self, entry: AiLogUpload) -> None:
        body: dict[str, Any] = {
            "orderId": int(entry.order_id) if entry.order_id and entry.order_id.isdigit() else None,
            "stage": entry.stage,
            "model": entry.model,
            "input": entry.input,
            "output": entry.output,
            "explanation": entry.explanation[:1000],
        }
        path = self.ai_log_path
        try:
            answer = await self._request("POST", path, body=body, envelope=False)
        except EndpointNotFound:
            other = next(p for p in AI_LOG_PATHS if p != path) if path in AI_LOG_PATHS else AI_LOG_PATHS[0]
            log.warning("AI log: %s answered 404; trying %s", path, other, extra={"event": "ailog.path"})
            answer = await self._request("POST", other, body=body, envelope=False)
            path = other
        code = ai_log_code(answer)
        if code not in AI_LOG_SUCCESS:
            msg = str(answer.get("msg") or "") if isinstance(answer, dict) else ""
            if code and msg:
                raise error_for(code, msg, answer)
            raise ExchangeError(f"AI log: {path} answered without a success code (0 or 00000)", raw=answer)
        if path != self.ai_log_path or (
            self.store is not None and self.store.venue_facts.value(AI_LOG_FACT) != path
        ):
            self.ai_log_path = path
            if self.store is not None:
                self.store.venue_facts.remember(AI_LOG_FACT, path, self.clock.now())


def ai_log_code(answer: Any) -> str:
    """uploadAiLog's ``code`` as text: the integer 0 of the v3 page and the ``"00000"`` of v2 both read
    as their digits; a boolean or a missing code is never a success."""
    if not isinstance(answer, dict):
        return ""
    code = answer.get("code")
    if isinstance(code, bool) or code is None:
        return ""
    return str(code).strip()


def _first_id(result: Any) -> str:
    item = result[0] if isinstance(result, list) and result else result
    if not isinstance(item, dict) or item.get("orderId") in (None, "", 0, "0"):
        raise ExchangeError("order accepted without an order id", raw=result)
    return str(item["orderId"])


def _confirm_cancel(result: Any, order_id: str) -> None:
    """A cancel counts only when WEEX says ``success: true`` for it (failures raise in the envelope check)."""
    item = result[0] if isinstance(result, list) and result else result
    if not (isinstance(item, dict) and item.get("success") is True):
        raise ExchangeUnavailable(f"cancel {order_id}: the answer does not confirm it", raw=result)
