"""An in-test ``Exchange`` double whose misbehaviours are scripted per test.

It keeps just enough venue state (positions, orders, TP/SL legs) to answer the executor's questions
the way WEEX does: attached legs appear only after a delay, a response can be lost after the order
was accepted, leverage changes are refused while orders rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from smt_engine.domain import Candle, Contract, Side
from smt_engine.exchange.base import (
    AiLogUpload,
    AlgoOrder,
    AmbiguousOutcome,
    Balance,
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
    ExchangeUnavailable,
    Fill,
    InvalidOrder,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    PlacedOrder,
    Ticker,
)
from smt_engine.exchange.market import floor_time, interval_seconds

OPENED_AT = datetime(2026, 1, 12, 0, 0, 5, tzinfo=UTC)


def listed_position(
    symbol: str = "ETHUSDT",
    side: Side = Side.LONG,
    size: str | Decimal = "1.5",
    *,
    opened_at: datetime,
    updated_at: datetime | None = None,
    entry_price: Decimal = Decimal(2000),
    margin: Decimal = Decimal(150),
    leverage: Decimal = Decimal(20),
    unrealized_pnl: Decimal = Decimal(0),
    position_id: str = "p1",
) -> ExchangePosition:
    """A position as the venue lists it, last updated when opened unless told otherwise."""
    return ExchangePosition(
        symbol=symbol,
        side=side,
        size=Decimal(size),
        entry_price=entry_price,
        margin=margin,
        leverage=leverage,
        unrealized_pnl=unrealized_pnl,
        liquidation_price=None,
        opened_at=opened_at,
        updated_at=updated_at or opened_at,
        position_id=position_id,
    )


@dataclass
class Script:
    lose_entry_response: bool = False  # accept the entry, then raise AmbiguousOutcome
    reject_entry: ExchangeError | None = None
    never_saw_entry: bool = False  # raise AmbiguousOutcome without accepting
    attach_tp: bool = True
    attach_sl: bool = True
    legs_hidden_polls: int = 0  # open_algo_orders calls before attached legs become visible
    leverage_open_orders: int = 0  # set_leverage refusals before it succeeds
    fail_place_tp_sl: ExchangeError | None = None
    upload_failures: int = 0
    upload_errors: list[ExchangeError] = field(default_factory=list)  # raised in turn, one per upload
    balance_error: ExchangeError | None = None
    on_place: Callable[[OrderRequest], None] | None = None


@dataclass
class ScriptedExchange:
    prices: dict[str, Decimal]
    contract_map: dict[str, Contract]
    available: Decimal = Decimal(1000)
    script: Script = field(default_factory=Script)
    name: str = "scripted"
    calls: list[tuple[str, Any]] = field(default_factory=list)
    positions_: dict[tuple[str, Side], ExchangePosition] = field(default_factory=dict)
    orders: dict[str, ExchangeOrder] = field(default_factory=dict)  # by client id
    algos: list[AlgoOrder] = field(default_factory=list)
    hidden_algos: list[AlgoOrder] = field(default_factory=list)
    uploads: list[AiLogUpload] = field(default_factory=list)
    _seq: int = 1000
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # the venue's clock

    def _id(self) -> str:
        self._seq += 1
        return str(self._seq)

    def count(self, name: str) -> int:
        return sum(1 for c, _ in self.calls if c == name)

    def names(self) -> list[str]:
        return [c for c, _ in self.calls]

    # ---------------------------------------------------------------- market data

    async def contracts(self, symbols: list[str] | None = None) -> dict[str, Contract]:
        self.calls.append(("contracts", symbols))
        return {s: c for s, c in self.contract_map.items() if symbols is None or s in symbols}

    async def ticker(self, symbol: str) -> Ticker:
        p = self.prices[symbol]
        return Ticker(symbol, p, p, self.now())  # stamped when answered, like a REST ticker

    async def last_price(self, symbol: str) -> Decimal:
        self.calls.append(("last_price", symbol))
        return self.prices[symbol]

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        """The current bar at the current price (what the price plausibility check compares with)."""
        if symbol not in self.prices or limit < 1:
            return []
        p = self.prices[symbol]
        return [Candle(floor_time(self.now(), interval_seconds(interval)), p, p, p, p, Decimal(0))]

    async def balance(self) -> Balance:
        self.calls.append(("balance", None))
        if self.script.balance_error is not None:
            raise self.script.balance_error
        return Balance("USDT", self.available, self.available, Decimal(0), Decimal(0))

    async def positions(self) -> list[ExchangePosition]:
        self.calls.append(("positions", None))
        return list(self.positions_.values())

    # ---------------------------------------------------------------- orders

    async def set_leverage(
        self, symbol: str, leverage: int, margin_mode: Literal["cross", "isolated"]
    ) -> None:
        self.calls.append(("set_leverage", (symbol, leverage, margin_mode)))
        if self.script.leverage_open_orders > 0:
            self.script.leverage_open_orders -= 1
            raise InvalidOrder("leverage cannot be changed while there are open orders", code="40015")

    def _fill(self, request: OrderRequest) -> ExchangeOrder:
        price = self.prices[request.symbol]
        oid = self._id()
        order = ExchangeOrder(
            order_id=oid,
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            position_side=request.position_side,
            reduce_only=request.reduce_only,
            order_type=request.order_type,
            status=OrderStatus.FILLED,
            size=request.size,
            filled_size=request.size,
            price=None,
            avg_price=price,
            created_at=OPENED_AT,
            updated_at=OPENED_AT,
        )
        self.orders[request.client_order_id] = order
        key = (request.symbol, request.position_side)
        self.positions_[key] = listed_position(
            request.symbol,
            request.position_side,
            request.size,
            opened_at=OPENED_AT,
            entry_price=price,
            margin=request.size * price / 20,
            position_id="pos-" + oid,
        )
        for kind, trigger, wanted in (
            ("tp", request.tp_price, self.script.attach_tp),
            ("sl", request.sl_price, self.script.attach_sl),
        ):
            if trigger is not None and wanted:
                self.hidden_algos.append(
                    AlgoOrder(
                        order_id=self._id(),
                        client_order_id=None,
                        symbol=request.symbol,
                        position_side=request.position_side,
                        kind=kind,  # type: ignore[arg-type]
                        trigger_price=trigger,
                        size=request.size,
                        status=OrderStatus.UNTRIGGERED,
                        created_at=OPENED_AT,
                        parent_order_id=oid,
                    )
                )
        return order

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        self.calls.append(("place_order", request))
        if self.script.on_place is not None:
            self.script.on_place(request)
        if self.script.reject_entry is not None:
            raise self.script.reject_entry
        if self.script.never_saw_entry:
            raise AmbiguousOutcome("connection reset", client_order_id=request.client_order_id)
        order = self._fill(request)
        if self.script.lose_entry_response:
            raise AmbiguousOutcome("connection dropped after send", client_order_id=request.client_order_id)
        return PlacedOrder(order.order_id, request.client_order_id)

    async def place_tp_sl(
        self,
        symbol: str,
        position_side: Side,
        kind: Literal["tp", "sl"],
        trigger_price: Decimal,
        size: Decimal,
        client_order_id: str,
    ) -> PlacedOrder:
        self.calls.append(("place_tp_sl", (symbol, position_side, kind, trigger_price, size)))
        if self.script.fail_place_tp_sl is not None:
            raise self.script.fail_place_tp_sl
        algo = AlgoOrder(
            self._id(), client_order_id, symbol, position_side, kind, trigger_price, size,
            OrderStatus.UNTRIGGERED, OPENED_AT,
        )  # fmt: skip
        self.algos.append(algo)
        return PlacedOrder(algo.order_id, client_order_id)

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        self.calls.append(("find_order", client_order_id))
        return self.orders.get(client_order_id)

    async def order(self, symbol: str, order_id: str) -> ExchangeOrder:
        for o in self.orders.values():
            if o.order_id == order_id:
                return o
        raise OrderNotFound(order_id)

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        self.calls.append(("cancel_order", order_id or client_order_id))

    async def cancel_algo_order(self, symbol: str, order_id: str) -> None:
        self.calls.append(("cancel_algo_order", order_id))
        self.algos = [a for a in self.algos if a.order_id != order_id]

    async def cancel_all(self, symbol: str) -> int:
        self.calls.append(("cancel_all", symbol))
        n = len([a for a in self.algos if a.symbol == symbol])
        self.algos = [a for a in self.algos if a.symbol != symbol]
        return n

    async def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        return []

    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        self.calls.append(("open_algo_orders", symbol))
        if self.hidden_algos:
            if self.script.legs_hidden_polls > 0:
                self.script.legs_hidden_polls -= 1
            else:
                self.algos.extend(self.hidden_algos)
                self.hidden_algos = []
        return [a for a in self.algos if symbol is None or a.symbol == symbol]

    async def order_history(
        self, symbol: str, since: datetime | None = None, limit: int = 100
    ) -> list[ExchangeOrder]:
        return [o for o in self.orders.values() if o.symbol == symbol]

    async def fills(self, symbol: str, since: datetime | None = None, limit: int = 100) -> list[Fill]:
        return []

    async def close_position(self, symbol: str, side: Side, client_order_id: str) -> PlacedOrder:
        self.calls.append(("close_position", (symbol, side)))
        pos = self.positions_.pop((symbol, side))
        req = OrderRequest(symbol, side, pos.size, client_order_id, reduce_only=True)
        order = self._fill(req)
        self.positions_.pop((symbol, side), None)
        return PlacedOrder(order.order_id, client_order_id)

    async def upload_ai_log(self, entry: AiLogUpload) -> None:
        self.calls.append(("upload_ai_log", entry.stage))
        if self.script.upload_errors:
            raise self.script.upload_errors.pop(0)
        if self.script.upload_failures > 0:
            self.script.upload_failures -= 1
            raise ExchangeUnavailable("upstream 502")
        self.uploads.append(entry)

    async def aclose(self) -> None:
        self.calls.append(("aclose", None))
