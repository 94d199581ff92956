"""The paper venue: a simulated WEEX perpetual account behind the same ``Exchange`` protocol.

It behaves like WEEX where the engine could otherwise be fooled: precision is enforced with WEEX's
messages (quoting the step), TP/SL legs are created when the entry fills and fire on the price *path*
(1-minute bars walked lazily at the start of every call, so a spike between two polls still triggers;
a bar touching both TP and SL counts as SL), a closed position's sibling leg stays behind until it is
cancelled (and can fire on a later position), and liquidation closes a position at its liquidation
price. The account is saved to a JSON file (atomically) after every change so it survives restarts.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

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
from smt_engine.exchange.precision import plain, round_to_tick

MAINTENANCE_MARGIN_RATE = Decimal("0.005")


def _contract(symbol: str, step: str, tick: str, max_leverage: int) -> Contract:
    return Contract(
        symbol=symbol,
        step_size=Decimal(step),
        tick_size=Decimal(tick),
        min_size=Decimal(step),
        max_size=Decimal(step) * 10_000_000,
        max_leverage=max_leverage,
    )


WEEX_CONTRACTS_2026_01: dict[str, Contract] = {
    c.symbol: c
    for c in (
        # Steps and ticks WEEX itself quoted in January 2026 (seed-orders-2026-01.csv, seed §1.6).
        _contract("BTCUSDT", "0.0001", "0.1", 125),
        _contract("ETHUSDT", "0.001", "0.01", 125),
        _contract("SOLUSDT", "0.1", "0.01", 75),
        _contract("DOGEUSDT", "100", "0.00001", 75),
        _contract("XRPUSDT", "10", "0.0001", 75),
        _contract("ADAUSDT", "10", "0.0001", 75),
        _contract("BNBUSDT", "0.1", "0.01", 75),
        _contract("LTCUSDT", "0.1", "0.01", 75),
    )
}
"""The real WEEX contract table for the eight pairs (January 2026)."""


# --------------------------------------------------------------------------- state


@dataclass
class _Position:
    symbol: str
    side: Side
    size: Decimal
    entry: Decimal
    leverage: int
    margin_mode: Literal["cross", "isolated"]
    margin: Decimal
    opened_at: datetime
    updated_at: datetime
    position_id: str


@dataclass
class _Order:
    order_id: str
    client_order_id: str | None
    symbol: str
    position_side: Side
    reduce_only: bool
    order_type: str
    kind: Literal["entry", "close", "tp", "sl"]
    status: OrderStatus
    size: Decimal
    created_at: datetime
    updated_at: datetime
    filled_size: Decimal = Decimal(0)
    price: Decimal | None = None
    avg_price: Decimal | None = None
    trigger_price: Decimal | None = None
    tp_price: Decimal | None = None
    sl_price: Decimal | None = None
    parent_order_id: str | None = None
    fee: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)

    @property
    def is_leg(self) -> bool:
        return self.kind in ("tp", "sl") and self.order_type != "MARKET"

    def public(self) -> ExchangeOrder:
        return ExchangeOrder(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            position_side=self.position_side,
            reduce_only=self.reduce_only,
            order_type=self.order_type,
            status=self.status,
            size=self.size,
            filled_size=self.filled_size,
            price=self.price,
            avg_price=self.avg_price,
            created_at=self.created_at,
            updated_at=self.updated_at,
            kind=self.kind,
            trigger_price=self.trigger_price,
        )

    def algo(self) -> AlgoOrder:
        assert self.trigger_price is not None and self.kind in ("tp", "sl")
        return AlgoOrder(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            position_side=self.position_side,
            kind=self.kind,
            trigger_price=self.trigger_price,
            size=self.size,
            status=self.status,
            created_at=self.created_at,
            parent_order_id=self.parent_order_id,
        )


@dataclass
class _Account:
    wallet: Decimal
    cursor: datetime | None = None
    next_id: int = 1
    leverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: list[_Position] = field(default_factory=list)
    orders: list[_Order] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    ai_logs: list[dict[str, Any]] = field(default_factory=list)


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$d"}:
            return Decimal(value["$d"])
        if set(value) == {"$t"}:
            return datetime.fromisoformat(value["$t"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _load_account(path: Path) -> _Account:
    raw = _decode(json.loads(path.read_text()))
    return _Account(
        wallet=raw["wallet"],
        cursor=raw.get("cursor"),
        next_id=raw["next_id"],
        leverage=raw.get("leverage", {}),
        positions=[_Position(**{**p, "side": Side(p["side"])}) for p in raw.get("positions", [])],
        orders=[
            _Order(**{**o, "position_side": Side(o["position_side"]), "status": OrderStatus(o["status"])})
            for o in raw.get("orders", [])
        ],
        fills=[Fill(**{**f, "position_side": Side(f["position_side"])}) for f in raw.get("fills", [])],
        ai_logs=raw.get("ai_logs", []),
    )


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- venue


class PaperExchange:
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
        auto_cancel_siblings: bool = False,
    ) -> None:
        self.market = market
        self.clock = clock
        self.state_path = state_path
        self.taker_rate = taker_fee_pct / 100
        self.maker_rate = maker_fee_pct / 100
        self.slippage = slippage_pct / 100
        self.table: dict[str, Contract] = dict(contracts or WEEX_CONTRACTS_2026_01)
        self.default_leverage = default_leverage
        self.auto_cancel_siblings = auto_cancel_siblings
        self._lock = asyncio.Lock()
        if state_path is not None and state_path.exists():
            self._acct = _load_account(state_path)
        else:
            self._acct = _Account(wallet=balance)
        self._dirty = False
        self._marks: dict[str, Decimal] = {}
        """Latest price seen per symbol, for cross-margin PnL of positions not being evaluated."""

    # ------------------------------------------------------------------ housekeeping

    def _save(self) -> None:
        if self.state_path is not None and self._dirty:
            _write_atomic(self.state_path, json.dumps(_encode(self._acct), indent=1))
        self._dirty = False

    def _new_id(self) -> str:
        self._acct.next_id += 1
        self._dirty = True
        return str(700_000_000_000_000_000 + self._acct.next_id)

    def _contract(self, symbol: str) -> Contract:
        try:
            return self.table[symbol]
        except KeyError:
            raise InvalidOrder(f"Invalid symbol {symbol}", code="-1121") from None

    def _lev(self, symbol: str) -> dict[str, Any]:
        return self._acct.leverage.get(symbol, {"margin_mode": "cross", "leverage": self.default_leverage})

    def _pos(self, symbol: str, side: Side) -> _Position | None:
        for p in self._acct.positions:
            if p.symbol == symbol and p.side is side:
                return p
        return None

    def _find(self, order_id: str) -> _Order | None:
        for o in self._acct.orders:
            if o.order_id == order_id:
                return o
        return None

    async def _begin(self) -> datetime:
        """Catch up on the price path to now; every public call starts here."""
        now = self.clock.now()
        cursor = self._acct.cursor
        if cursor is not None and now > cursor:
            symbols = {p.symbol for p in self._acct.positions} | {
                o.symbol for o in self._acct.orders if o.status is OrderStatus.NEW
            }
            for symbol in sorted(symbols):
                bars = await self.market.bars_between(symbol, cursor, now)
                for bar in bars:
                    self._evaluate_bar(symbol, bar)
        if cursor is None or now > cursor:
            self._acct.cursor = now
            self._dirty = True
        return now

    # ------------------------------------------------------------------ accounting

    def _fill_price(self, price: Decimal, buying: bool, tick: Decimal) -> Decimal:
        raw = price * (1 + self.slippage) if buying else price * (1 - self.slippage)
        return round_to_tick(raw, tick)

    def _used_margin(self) -> Decimal:
        return sum((p.margin for p in self._acct.positions), Decimal(0))

    def _frozen_orders(self) -> Decimal:
        total = Decimal(0)
        for o in self._acct.orders:
            if o.status is OrderStatus.NEW and not o.reduce_only and o.price is not None:
                total += o.price * (o.size - o.filled_size) / Decimal(self._lev(o.symbol)["leverage"])
        return total

    def _upnl(self, p: _Position, price: Decimal) -> Decimal:
        return (price - p.entry) * p.size * p.side.sign

    def _available(self, prices: dict[str, Decimal]) -> Decimal:
        self._marks.update(prices)
        cross_upnl = sum(
            (
                self._upnl(p, self._marks.get(p.symbol, p.entry))
                for p in self._acct.positions
                if p.margin_mode == "cross"
            ),
            Decimal(0),
        )
        return self._acct.wallet - self._used_margin() - self._frozen_orders() + min(Decimal(0), cross_upnl)

    def _liq_price(self, p: _Position, available: Decimal | None) -> Decimal | None:
        notional = p.entry * p.size
        buffer = p.margin if p.margin_mode == "isolated" else p.margin + max(Decimal(0), available or 0)
        distance = (buffer - MAINTENANCE_MARGIN_RATE * notional) / p.size
        liq = p.entry - distance * p.side.sign
        if liq <= 0:
            return None
        return round_to_tick(liq, self._contract(p.symbol).tick_size)

    def _open(
        self, symbol: str, side: Side, size: Decimal, price: Decimal, fee: Decimal, at: datetime
    ) -> None:
        lev = self._lev(symbol)
        leverage = int(lev["leverage"])
        margin = price * size / leverage
        pos = self._pos(symbol, side)
        if pos is None:
            self._acct.positions.append(
                _Position(
                    symbol, side, size, price, leverage, lev["margin_mode"], margin, at, at, self._new_id()
                )
            )
        else:
            pos.entry = (pos.entry * pos.size + price * size) / (pos.size + size)
            pos.size += size
            pos.margin += margin
            pos.updated_at = at
        self._acct.wallet -= fee
        self._dirty = True

    def _reduce(self, pos: _Position, size: Decimal, price: Decimal, fee: Decimal, at: datetime) -> Decimal:
        realized = (price - pos.entry) * size * pos.side.sign
        if pos.margin_mode == "isolated":
            realized = max(realized, -pos.margin * size / pos.size)
        self._acct.wallet += realized - fee
        pos.margin -= pos.margin * size / pos.size
        pos.size -= size
        pos.updated_at = at
        if pos.size <= 0:
            self._acct.positions.remove(pos)
            if self.auto_cancel_siblings:
                for o in self._acct.orders:
                    if (
                        o.is_leg
                        and o.status.is_open
                        and o.symbol == pos.symbol
                        and o.position_side is pos.side
                    ):
                        o.status, o.updated_at = OrderStatus.CANCELLED, at
        self._dirty = True
        return realized

    def _execute(self, order: _Order, price: Decimal, at: datetime, rate: Decimal) -> None:
        """Fill ``order`` completely at ``price``: move the position, book fee, PnL and a fill."""
        size = order.size - order.filled_size
        fee = price * size * rate
        realized = Decimal(0)
        if order.reduce_only:
            pos = self._pos(order.symbol, order.position_side)
            if pos is None:
                order.status, order.updated_at = OrderStatus.CANCELLED, at
                self._dirty = True
                return
            size = min(size, pos.size)
            fee = price * size * rate
            realized = self._reduce(pos, size, price, fee, at)
        else:
            self._open(order.symbol, order.position_side, size, price, fee, at)
        order.filled_size += size
        order.avg_price = price
        order.status = OrderStatus.FILLED
        order.updated_at = at
        order.fee += fee
        order.realized_pnl += realized
        self._acct.fills.append(
            Fill(order.order_id, order.symbol, order.position_side, price, size, fee, realized, at)
        )
        if not order.reduce_only:
            self._attach_legs(order, size, at)
        self._dirty = True

    def _attach_legs(self, parent: _Order, size: Decimal, at: datetime) -> None:
        """Legs are created when the parent fills (WEEX recordings), opposite side, same positionSide."""
        for kind, trigger in (("tp", parent.tp_price), ("sl", parent.sl_price)):
            if trigger is None:
                continue
            self._acct.orders.append(
                _Order(
                    order_id=self._new_id(),
                    client_order_id=None,
                    symbol=parent.symbol,
                    position_side=parent.position_side,
                    reduce_only=True,
                    order_type="TAKE_PROFIT_MARKET" if kind == "tp" else "STOP_MARKET",
                    kind=kind,  # type: ignore[arg-type]
                    status=OrderStatus.UNTRIGGERED,
                    size=size,
                    created_at=at,
                    updated_at=at,
                    trigger_price=trigger,
                    parent_order_id=parent.order_id,
                )
            )

    # ------------------------------------------------------------------ the price path

    def _evaluate_bar(self, symbol: str, bar: Candle) -> None:
        at = bar.open_time
        tick = self._contract(symbol).tick_size
        for o in list(self._acct.orders):
            if o.symbol != symbol or o.status is not OrderStatus.NEW or o.price is None:
                continue
            buying = (o.position_side is Side.LONG) != o.reduce_only
            if buying and bar.low <= o.price:
                self._execute(o, min(o.price, bar.open), at, self.maker_rate)
            elif not buying and bar.high >= o.price:
                self._execute(o, max(o.price, bar.open), at, self.maker_rate)
        for side in (Side.LONG, Side.SHORT):
            pos = self._pos(symbol, side)
            if pos is None:
                continue
            legs = [
                o
                for o in self._acct.orders
                if o.is_leg
                and o.status is OrderStatus.UNTRIGGERED
                and o.symbol == symbol
                and o.position_side is side
            ]
            adverse = bar.low if side is Side.LONG else bar.high
            favourable = bar.high if side is Side.LONG else bar.low
            assert all(o.trigger_price is not None for o in legs)
            stops = [o for o in legs if o.kind == "sl" and (adverse - o.trigger_price) * side.sign <= 0]  # type: ignore[operator]
            tps = [o for o in legs if o.kind == "tp" and (favourable - o.trigger_price) * side.sign >= 0]  # type: ignore[operator]
            liq = self._liq_price(pos, self._available({symbol: bar.close}))
            liq_hit = liq is not None and (adverse - liq) * side.sign <= 0
            # The stop nearest the market is reached first on the way down (long) / up (short).
            stops.sort(key=lambda o: o.trigger_price * side.sign, reverse=True)  # type: ignore[operator]
            if stops and not (liq_hit and liq is not None and (liq - stops[0].trigger_price) * side.sign > 0):  # type: ignore[operator]
                for leg in stops:
                    self._fire(leg, bar, tick)
            elif liq_hit and liq is not None:
                self._liquidate(pos, liq, at)
            elif tps:
                tps.sort(key=lambda o: o.trigger_price * side.sign)  # type: ignore[operator]
                for leg in tps:
                    self._fire(leg, bar, tick)

    def _fire(self, leg: _Order, bar: Candle, tick: Decimal) -> None:
        if self._pos(leg.symbol, leg.position_side) is None:
            return
        assert leg.trigger_price is not None
        side = leg.position_side
        # A gap through the trigger fills at the bar's open, as a market order would.
        if leg.kind == "sl":
            base = min(leg.trigger_price, bar.open) if side is Side.LONG else max(leg.trigger_price, bar.open)
        else:
            base = max(leg.trigger_price, bar.open) if side is Side.LONG else min(leg.trigger_price, bar.open)
        price = self._fill_price(base, buying=side is Side.SHORT, tick=tick)
        self._execute(leg, price, bar.open_time, self.taker_rate)

    def _liquidate(self, pos: _Position, liq: Decimal, at: datetime) -> None:
        order = _Order(
            order_id=self._new_id(),
            client_order_id=None,
            symbol=pos.symbol,
            position_side=pos.side,
            reduce_only=True,
            order_type="LIQUIDATION",
            kind="close",
            status=OrderStatus.NEW,
            size=pos.size,
            created_at=at,
            updated_at=at,
        )
        self._acct.orders.append(order)
        self._execute(order, liq, at, self.taker_rate)

    # ------------------------------------------------------------------ protocol: market data

    async def contracts(self, symbols: list[str] | None = None) -> dict[str, Contract]:
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
        return {s: await self.market.last_price(s) for s in {p.symbol for p in self._acct.positions}}

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
            if any(o.symbol == symbol and o.status.is_open for o in self._acct.orders):
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
        current = await self.market.last_price(request.symbol)
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
            prices = {
                p.symbol: current if p.symbol == request.symbol else await self.market.last_price(p.symbol)
                for p in self._acct.positions
            }
            leverage = Decimal(self._lev(request.symbol)["leverage"])
            needed = ref * request.size / leverage + ref * request.size * self.taker_rate
            available = self._available(prices)
            if needed > available:
                raise InsufficientMargin(
                    f"FAILED_PRECONDITION: available amount not enough: need {plain(round(needed, 4))}, "
                    f"have {plain(round(available, 4))}",
                    code="-1054",
                )
        order = _Order(
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
                current = await self.market.last_price(symbol)
                beyond = (trigger_price - current) * position_side.sign
                if (kind == "tp" and beyond <= 0) or (kind == "sl" and beyond >= 0):
                    raise InvalidOrder(
                        f"INVALID_ARGUMENT: {position_side} {'take profit' if kind == 'tp' else 'stop loss'} "
                        f"triggerPrice {plain(trigger_price)} is on the wrong side of "
                        f"the price {plain(current)}",
                        code="-1054",
                    )
                leg = _Order(
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
                for o in self._acct.orders:
                    if o.symbol != symbol or o.is_leg or not o.status.is_open:
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
            for o in self._acct.orders:
                if (
                    (symbol is None or o.symbol == symbol)
                    and o.status.is_open
                    and (algo if o.is_leg else regular)
                ):
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
                for o in self._acct.orders
                if not o.is_leg and o.status.is_open and (symbol is None or o.symbol == symbol)
            ]

    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        async with self._lock:
            await self._begin()
            self._save()
            return [
                o.algo()
                for o in self._acct.orders
                if o.is_leg and o.status.is_open and (symbol is None or o.symbol == symbol)
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

    def order_fee_pnl(self, order_id: str) -> tuple[Decimal, Decimal]:
        """Fee and realized PnL booked on an order (the fake server reports them per trade)."""
        o = self._find(order_id)
        return (o.fee, o.realized_pnl) if o else (Decimal(0), Decimal(0))

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
