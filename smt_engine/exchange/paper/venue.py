"""The paper venue: a simulated WEEX perpetual account behind the same ``Exchange`` protocol.

It behaves like WEEX where the engine could otherwise be fooled: precision is enforced with WEEX's
messages (quoting the step), TP/SL legs are created when the entry fills and fire on the price *path*
(1-minute bars walked lazily at the start of every call, so a spike between two polls still triggers;
a bar touching both TP and SL counts as SL), a closed position's sibling leg stays behind until it is
cancelled (and can fire on a later position), and liquidation closes a position at its liquidation
price. The account is saved after every change (``state.AccountFile``: what changed, atomically) so it
survives restarts.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from smt_engine.clock import Clock
from smt_engine.domain import Candle, Contract, Side
from smt_engine.exchange.base import (
    AiLogUpload,
    AlgoOrder,
    Balance,
    ExchangeOrder,
    ExchangePosition,
    Fill,
    InsufficientMargin,
    InvalidOrder,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    PlacedOrder,
    Ticker,
    VenuePrecisionError,
)
from smt_engine.exchange.ids import valid_client_id
from smt_engine.exchange.market import PriceSource
from smt_engine.exchange.market.plausibility import PriceRule
from smt_engine.exchange.paper.book_price import BookPrice
from smt_engine.exchange.paper.contracts import WEEX_CONTRACTS_2026_01
from smt_engine.exchange.paper.matching import PaperBook
from smt_engine.exchange.paper.state import (
    AccountFile,
    PaperAccount,
    PaperOrder,
)
from smt_engine.exchange.precision import plain


class PaperExchange(PaperBook):
    """Simulated venue over a ``PriceSource``; every call first catches up on the price path."""

    name = "paper"

    def __init__(
        self,
        market: PriceSource,
        clock: Clock,
        *,
        state_path: Path | None = None,
        balance: Decimal = Decimal(1000),
        taker_fee_pct: Decimal = Decimal("0.08"),
        maker_fee_pct: Decimal = Decimal("0.02"),
        slippage_pct: Decimal = Decimal("0.05"),
        contracts: dict[str, Contract] | None = None,
        default_leverage: int = 20,
        price_rule: PriceRule | None = None,
    ) -> None:
        self.market = market
        self._book_price = BookPrice(market, clock, price_rule or PriceRule())
        self.clock = clock
        self.state_path = state_path
        self.taker_rate = taker_fee_pct / 100
        self.maker_rate = maker_fee_pct / 100
        self.slippage = slippage_pct / 100
        self.table: dict[str, Contract] = dict(contracts or WEEX_CONTRACTS_2026_01)
        self.default_leverage = default_leverage
        self._lock = asyncio.Lock()
        self._file = AccountFile(state_path) if state_path is not None else None
        if self._file is not None and self._file.path.exists():
            self._acct = self._file.load()
        else:
            self._acct = PaperAccount(wallet=balance)
        self._dirty = False
        self._marks: dict[str, Decimal] = {}
        """Latest price seen per symbol, for cross-margin PnL of positions not being evaluated."""

    # ------------------------------------------------------------------ protocol: market data

    async def contracts(self, symbols: list[str] | None = None) -> dict[str, Contract]:
        """The paper venue's own table: always what it fills by, so there is no cache to go past."""
        return {s: c for s, c in self.table.items() if symbols is None or s in symbols}

    async def ticker(self, symbol: str) -> Ticker:
        self._contract(symbol)
        return await self.market.ticker(symbol)

    async def last_price(self, symbol: str) -> Decimal:
        self._contract(symbol)
        return await self.market.last_price(symbol)

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        return await self.market.candles(symbol, interval, limit)

    # ------------------------------------------------------------------ protocol: account

    async def _prices(self) -> dict[str, Decimal]:
        return {s: await self._book_price(s) for s in {p.symbol for p in self._acct.positions}}

    async def balance(self) -> Balance:
        async with self._lock:
            await self._begin()
            prices = await self._prices()
            upnl = sum((self._upnl(p, prices[p.symbol]) for p in self._acct.positions), Decimal(0))
            self._save()
            return Balance(
                asset="USDT",
                balance=self._acct.wallet,
                available=self._available(prices),
                frozen=self._used_margin() + self._frozen_orders(),
                unrealized_pnl=upnl,
            )

    async def positions(self) -> list[ExchangePosition]:
        async with self._lock:
            await self._begin()
            prices = await self._prices()
            available = self._available(prices)
            out = [
                ExchangePosition(
                    symbol=p.symbol,
                    side=p.side,
                    size=p.size,
                    entry_price=p.entry,
                    margin=p.margin,
                    leverage=Decimal(p.leverage),
                    unrealized_pnl=self._upnl(p, prices[p.symbol]),
                    liquidation_price=self._liq_price(p, available),
                    opened_at=p.opened_at,
                    updated_at=p.updated_at,
                    position_id=p.position_id,
                    margin_mode=p.margin_mode,
                )
                for p in self._acct.positions
            ]
            self._save()
            return out

    async def set_leverage(
        self, symbol: str, leverage: int, margin_mode: Literal["cross", "isolated"]
    ) -> None:
        async with self._lock:
            await self._begin()
            contract = self._contract(symbol)
            if not 1 <= leverage <= contract.max_leverage:
                raise InvalidOrder(
                    f"Leverage {leverage} exceeds the maximum {contract.max_leverage} for {symbol}",
                    code="-3313",
                )
            if any(o.symbol == symbol for o in self._acct.live()):
                raise InvalidOrder(
                    "FAILED_PRECONDITION: cannot change leverage while the symbol has open orders",
                    code="-1054",
                )
            if any(p.symbol == symbol and p.margin_mode != margin_mode for p in self._acct.positions):
                raise InvalidOrder(
                    "FAILED_PRECONDITION: cannot change margin mode with an open position", code="-1054"
                )
            self._acct.leverage[symbol] = {"margin_mode": margin_mode, "leverage": leverage}
            self._dirty = True
            self._save()

    # ------------------------------------------------------------------ protocol: orders

    def _check_precision(self, c: Contract, request: OrderRequest) -> None:
        size = request.size
        if size <= 0 or size % c.step_size != 0:
            raise VenuePrecisionError(
                "-1160",
                f"The order size must be greater than 0 and matches the stepSize '{plain(c.step_size)}' "
                f"requirement. Current size is '{plain(size)}'",
            )
        if size < c.min_size:
            raise VenuePrecisionError(
                "-1142",
                f"INVALID_ARGUMENT: The order size must be at least minOrderSize '{plain(c.min_size)}'. "
                f"Current size is '{plain(size)}'",
            )
        if c.max_size is not None and size > c.max_size:
            raise InvalidOrder(f"Order quantity exceeds maxOrderSize {plain(c.max_size)}", code="-3007")
        for what, value in (
            ("price", request.price),
            ("tp param triggerPrice", request.tp_price),
            ("sl param triggerPrice", request.sl_price),
        ):
            if value is not None and (value <= 0 or value % c.tick_size != 0):
                raise VenuePrecisionError(
                    "-1160",
                    f"The order open {what} must be greater than 0 and matches the stepSize "
                    f"'{plain(c.tick_size)}' requirement. Current order open {what} is '{plain(value)}'",
                )

    @staticmethod
    def _check_tp_sl(request: OrderRequest, ref: Decimal) -> None:
        side = request.position_side
        verb, word = ("buy long", "greater") if side is Side.LONG else ("sell short", "less")
        if request.tp_price is not None and (request.tp_price - ref) * side.sign <= 0:
            raise InvalidOrder(
                f"INVALID_ARGUMENT: The {verb} order take profit param triggerPrice must be {word} than "
                f"price {plain(ref)}. Current order open tp param trigger price is {plain(request.tp_price)}",
                code="-1054",
            )
        if request.sl_price is not None and (ref - request.sl_price) * side.sign <= 0:
            word = "less" if side is Side.LONG else "greater"
            raise InvalidOrder(
                f"INVALID_ARGUMENT: The {verb} order stop loss param triggerPrice must be {word} than "
                f"price {plain(ref)}. Current order open sl param trigger price is {plain(request.sl_price)}",
                code="-1054",
            )

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        async with self._lock:
            now = await self._begin()
            try:
                return await self._place(request, now)
            finally:
                self._save()

    async def _place(self, request: OrderRequest, now: datetime) -> PlacedOrder:
        cid = request.client_order_id
        if not valid_client_id(cid):
            raise InvalidOrder("Client order id must be 1-36 characters of [.A-Z:/a-z0-9_-]", code="-1180")
        if any(o.client_order_id == cid for o in self._acct.orders):
            raise InvalidOrder(f"Duplicate client order id {cid}", code="-1142")
        c = self._contract(request.symbol)
        self._check_precision(c, request)
        if request.order_type == "LIMIT" and request.price is None:
            raise InvalidOrder("price is required for LIMIT orders", code="-1141")
        current = await self._book_price(request.symbol)
        ref = request.price if request.order_type == "LIMIT" and request.price is not None else current
        if request.reduce_only:
            if request.tp_price is not None or request.sl_price is not None:
                raise InvalidOrder(
                    "INVALID_ARGUMENT: TP/SL cannot be attached to a reduce-only order", code="-1054"
                )
            pos = self._pos(request.symbol, request.position_side)
            if pos is None or request.size > pos.size:
                have = plain(pos.size) if pos else "0"
                raise InvalidOrder(
                    f"FAILED_PRECONDITION: reduce-only size {plain(request.size)} exceeds position {have}",
                    code="-1054",
                )
        else:
            self._check_tp_sl(request, ref)
            prices = await self._prices()
            prices[request.symbol] = current
            leverage = Decimal(self._lev(request.symbol)["leverage"])
            needed = ref * request.size / leverage + ref * request.size * self.taker_rate
            available = self._available(prices)
            if needed > available:
                raise InsufficientMargin(
                    f"FAILED_PRECONDITION: available amount not enough: need {plain(round(needed, 4))}, "
                    f"have {plain(round(available, 4))}",
                    code="-1054",
                )
        order = PaperOrder(
            order_id=self._new_id(),
            client_order_id=cid,
            symbol=request.symbol,
            position_side=request.position_side,
            reduce_only=request.reduce_only,
            order_type=request.order_type,
            kind="close" if request.reduce_only else "entry",
            status=OrderStatus.NEW,
            size=request.size,
            created_at=now,
            updated_at=now,
            price=request.price if request.order_type == "LIMIT" else None,
            tp_price=request.tp_price,
            sl_price=request.sl_price,
        )
        self._acct.orders.append(order)
        buying = (request.position_side is Side.LONG) != request.reduce_only
        if request.order_type == "MARKET":
            self._execute(order, self._fill_price(current, buying, c.tick_size), now, self.taker_rate)
        elif request.price is not None and (
            (current <= request.price) if buying else (current >= request.price)
        ):
            # A marketable limit takes liquidity at the better of its price and the market.
            fill = min(request.price, current) if buying else max(request.price, current)
            self._execute(order, fill, now, self.taker_rate)
        self._dirty = True
        return PlacedOrder(order.order_id, cid)

    async def place_tp_sl(
        self,
        symbol: str,
        position_side: Side,
        kind: Literal["tp", "sl"],
        trigger_price: Decimal,
        size: Decimal,
        client_order_id: str,
    ) -> PlacedOrder:
        async with self._lock:
            now = await self._begin()
            try:
                c = self._contract(symbol)
                if not valid_client_id(client_order_id):
                    raise InvalidOrder(
                        "Client algo id must be 1-36 characters of [.A-Z:/a-z0-9_-]", code="-1180"
                    )
                if any(o.client_order_id == client_order_id for o in self._acct.orders):
                    raise InvalidOrder(f"Duplicate client algo id {client_order_id}", code="-1142")
                if trigger_price <= 0 or trigger_price % c.tick_size != 0:
                    raise VenuePrecisionError(
                        "-1160",
                        f"The {kind} param triggerPrice must be greater than 0 and matches the stepSize "
                        f"'{plain(c.tick_size)}' requirement. "
                        f"Current triggerPrice is '{plain(trigger_price)}'",
                    )
                if size <= 0 or size % c.step_size != 0:
                    raise VenuePrecisionError(
                        "-1160",
                        f"The order size must be greater than 0 and matches the stepSize "
                        f"'{plain(c.step_size)}' requirement. Current size is '{plain(size)}'",
                    )
                pos = self._pos(symbol, position_side)
                if pos is None:
                    raise InvalidOrder("FAILED_PRECONDITION: no position for this TP/SL", code="-1054")
                current = await self._book_price(symbol)
                beyond = (trigger_price - current) * position_side.sign
                if (kind == "tp" and beyond <= 0) or (kind == "sl" and beyond >= 0):
                    raise InvalidOrder(
                        f"INVALID_ARGUMENT: {position_side} {'take profit' if kind == 'tp' else 'stop loss'} "
                        f"triggerPrice {plain(trigger_price)} is on the wrong side of "
                        f"the price {plain(current)}",
                        code="-1054",
                    )
                leg = PaperOrder(
                    order_id=self._new_id(),
                    client_order_id=client_order_id,
                    symbol=symbol,
                    position_side=position_side,
                    reduce_only=True,
                    order_type="TAKE_PROFIT_MARKET" if kind == "tp" else "STOP_MARKET",
                    kind=kind,
                    status=OrderStatus.UNTRIGGERED,
                    size=size,
                    created_at=now,
                    updated_at=now,
                    trigger_price=trigger_price,
                )
                self._acct.orders.append(leg)
                self._dirty = True
                return PlacedOrder(leg.order_id, client_order_id)
            finally:
                self._save()

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        async with self._lock:
            await self._begin()
            self._save()
            for o in self._acct.orders:
                if o.symbol == symbol and o.client_order_id == client_order_id:
                    return o.public()
            return None

    async def order(self, symbol: str, order_id: str) -> ExchangeOrder:
        async with self._lock:
            await self._begin()
            self._save()
            o = self._find(order_id)
            if o is None or o.symbol != symbol:
                raise OrderNotFound(f"order {order_id} does not exist", code="-3200")
            return o.public()

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        if order_id is None and client_order_id is None:
            raise InvalidOrder("Either orderId or origClientOrderId must be sent.", code="-1140")
        async with self._lock:
            now = await self._begin()
            try:
                for o in self._acct.live():
                    if o.symbol != symbol or o.is_leg:
                        continue
                    if (order_id is not None and o.order_id == order_id) or (
                        client_order_id is not None and o.client_order_id == client_order_id
                    ):
                        o.status, o.updated_at = OrderStatus.CANCELLED, now
                        self._dirty = True
                        return
                raise OrderNotFound("FAILED_ORDER_NOT_FOUND", code="ORDER_NOT_FOUND")
            finally:
                self._save()

    async def cancel_algo_order(self, symbol: str, order_id: str) -> None:
        async with self._lock:
            now = await self._begin()
            try:
                o = self._find(order_id)
                if o is None or not o.is_leg or o.symbol != symbol or not o.status.is_open:
                    raise OrderNotFound("FAILED_ORDER_NOT_FOUND", code="ORDER_NOT_FOUND")
                o.status, o.updated_at = OrderStatus.CANCELLED, now
                self._dirty = True
            finally:
                self._save()

    async def cancel_all(self, symbol: str) -> int:
        return await self.cancel_many(symbol, regular=True, algo=True)

    async def cancel_many(self, symbol: str | None, *, regular: bool, algo: bool) -> int:
        """Cancel-all for regular orders and/or legs (WEEX's allOpenOrders / algoOpenOrders)."""
        async with self._lock:
            now = await self._begin()
            n = 0
            for o in self._acct.live():
                if (symbol is None or o.symbol == symbol) and (algo if o.is_leg else regular):
                    o.status, o.updated_at = OrderStatus.CANCELLED, now
                    n += 1
            self._dirty = self._dirty or n > 0
            self._save()
            return n

    async def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        async with self._lock:
            await self._begin()
            self._save()
            return [
                o.public()
                for o in self._acct.live()
                if not o.is_leg and (symbol is None or o.symbol == symbol)
            ]

    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        async with self._lock:
            await self._begin()
            self._save()
            return [
                o.algo() for o in self._acct.live() if o.is_leg and (symbol is None or o.symbol == symbol)
            ]

    async def order_history(
        self, symbol: str, since: datetime | None = None, limit: int = 100
    ) -> list[ExchangeOrder]:
        async with self._lock:
            await self._begin()
            self._save()
            done = [
                o
                for o in self._acct.orders
                if o.symbol == symbol and not o.status.is_open and (since is None or o.updated_at >= since)
            ]
            done.sort(key=lambda o: (o.updated_at, int(o.order_id)), reverse=True)
            return [o.public() for o in done[:limit]]

    async def fills(self, symbol: str, since: datetime | None = None, limit: int = 100) -> list[Fill]:
        async with self._lock:
            await self._begin()
            self._save()
            rows = [f for f in self._acct.fills if f.symbol == symbol and (since is None or f.at >= since)]
            return sorted(rows, key=lambda f: f.at, reverse=True)[:limit]

    async def close_position(self, symbol: str, side: Side, client_order_id: str) -> PlacedOrder:
        async with self._lock:
            now = await self._begin()
            try:
                pos = self._pos(symbol, side)
                if pos is None:
                    raise InvalidOrder(f"FAILED_PRECONDITION: no {side} position on {symbol}", code="-1054")
                request = OrderRequest(
                    symbol=symbol,
                    position_side=side,
                    size=pos.size,
                    client_order_id=client_order_id,
                    reduce_only=True,
                )
                return await self._place(request, now)
            finally:
                self._save()

    async def upload_ai_log(self, entry: AiLogUpload) -> None:
        """Recorded locally: a paper account has nothing to report to WEEX."""
        async with self._lock:
            self._acct.ai_logs.append(
                {
                    "stage": entry.stage,
                    "model": entry.model,
                    "order_id": entry.order_id,
                    "at": self.clock.now(),
                }
            )
            self._acct.ai_logs = self._acct.ai_logs[-200:]
            self._dirty = True
            self._save()

    async def aclose(self) -> None:
        async with self._lock:
            self._dirty = True
            self._save()
