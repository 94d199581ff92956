"""The paper venue's matching: accounting, fills, attached legs and the trigger walk along the price path."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from smt_engine.clock import Clock
from smt_engine.domain import Candle, Contract, Side
from smt_engine.exchange.base import (
    Fill,
    InvalidOrder,
    OrderStatus,
)
from smt_engine.exchange.market import PriceSource
from smt_engine.exchange.paper.contracts import MAINTENANCE_MARGIN_RATE
from smt_engine.exchange.paper.state import (
    AccountFile,
    PaperAccount,
    PaperOrder,
    PaperPosition,
)
from smt_engine.exchange.precision import round_to_tick


class PaperBook:
    """The account arithmetic and the price-path walk; ``PaperExchange`` adds the ``Exchange`` protocol."""

    market: PriceSource
    clock: Clock
    state_path: Path | None
    _file: AccountFile | None
    taker_rate: Decimal
    maker_rate: Decimal
    slippage: Decimal
    table: dict[str, Contract]
    default_leverage: int
    _acct: PaperAccount
    _dirty: bool
    _marks: dict[str, Decimal]

    # ------------------------------------------------------------------ housekeeping

    def _save(self) -> None:
        if self._file is not None and self._dirty:
            self._file.save(self._acct)
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

    def _pos(self, symbol: str, side: Side) -> PaperPosition | None:
        for p in self._acct.positions:
            if p.symbol == symbol and p.side is side:
                return p
        return None

    def _find(self, order_id: str) -> PaperOrder | None:
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
                o.symbol for o in self._acct.live() if o.status is OrderStatus.NEW
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
        for o in self._acct.live():
            if o.status is OrderStatus.NEW and not o.reduce_only and o.price is not None:
                total += o.price * (o.size - o.filled_size) / Decimal(self._lev(o.symbol)["leverage"])
        return total

    def _upnl(self, p: PaperPosition, price: Decimal) -> Decimal:
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

    def _liq_price(self, p: PaperPosition, available: Decimal | None) -> Decimal | None:
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
                PaperPosition(
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

    def _reduce(
        self, pos: PaperPosition, size: Decimal, price: Decimal, fee: Decimal, at: datetime
    ) -> Decimal:
        realized = (price - pos.entry) * size * pos.side.sign
        if pos.margin_mode == "isolated":
            realized = max(realized, -pos.margin * size / pos.size)
        self._acct.wallet += realized - fee
        pos.margin -= pos.margin * size / pos.size
        pos.size -= size
        pos.updated_at = at
        if pos.size <= 0:
            self._acct.positions.remove(pos)  # its TP/SL legs stay resting, as WEEX leaves them
        self._dirty = True
        return realized

    def _execute(self, order: PaperOrder, price: Decimal, at: datetime, rate: Decimal) -> None:
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

    def _attach_legs(self, parent: PaperOrder, size: Decimal, at: datetime) -> None:
        """Legs are created when the parent fills (WEEX recordings), opposite side, same positionSide."""
        for kind, trigger in (("tp", parent.tp_price), ("sl", parent.sl_price)):
            if trigger is None:
                continue
            self._acct.orders.append(
                PaperOrder(
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
        for o in self._acct.live():
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
                for o in self._acct.live()
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

    def _fire(self, leg: PaperOrder, bar: Candle, tick: Decimal) -> None:
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

    def _liquidate(self, pos: PaperPosition, liq: Decimal, at: datetime) -> None:
        order = PaperOrder(
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
