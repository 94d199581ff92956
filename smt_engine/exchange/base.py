"""The ``Exchange`` protocol every venue implements (WEEX, the paper venue), its value types and errors.

Everything above this layer (trading, monitor, engine) speaks only this protocol, so the same code
runs live, in paper mode, in the demo and in tests. Sizes are base-asset units; money is ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Protocol

from smt_engine.domain import Candle, Contract, Side
from smt_engine.exchange.precision import PrecisionError

# --------------------------------------------------------------------------- errors


class ExchangeError(Exception):
    """Base of every venue error; ``code`` and ``raw`` keep what the venue said (never secrets)."""

    def __init__(self, message: str, *, code: str | None = None, raw: Any = None) -> None:
        self.code = code
        self.raw = raw
        super().__init__(message)


class AuthError(ExchangeError):
    """Bad key, signature, passphrase or timestamp."""


class PermissionDenied(ExchangeError):
    """The key lacks a permission (trading, AI log) or the IP is not allow-listed."""


class RateLimited(ExchangeError):
    def __init__(
        self, message: str, *, retry_after: float = 10.0, code: str | None = None, raw: Any = None
    ) -> None:
        super().__init__(message, code=code, raw=raw)
        self.retry_after = retry_after


class InsufficientMargin(ExchangeError):
    pass


class OrderNotFound(ExchangeError):
    pass


class InvalidOrder(ExchangeError):
    """Rejected for a reason other than precision (e.g. leverage change with open orders)."""


class EndpointNotFound(ExchangeError):
    """HTTP 404: the path does not exist on this venue (wrong or retired API version); nothing was done."""


class ExchangeUnavailable(ExchangeError):
    """Network failure, timeout or 5xx before anything could have been accepted (safe to retry reads)."""


class AmbiguousOutcome(ExchangeError):
    """An order request may or may not have been accepted: look it up by client id before anything else."""

    def __init__(
        self, message: str, *, client_order_id: str, code: str | None = None, raw: Any = None
    ) -> None:
        super().__init__(message, code=code, raw=raw)
        self.client_order_id = client_order_id


class VenuePrecisionError(PrecisionError):
    """The venue rejected an order for precision (40015 / -1160); its message may quote the new step."""


# --------------------------------------------------------------------------- value types


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNTRIGGERED = "untriggered"
    TRIGGERED = "triggered"

    @property
    def is_open(self) -> bool:
        return self in {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNTRIGGERED}


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    last: Decimal
    mark: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class Balance:
    """USDT futures account. ``available`` is what sizing may use."""

    asset: str
    balance: Decimal
    available: Decimal
    frozen: Decimal
    unrealized_pnl: Decimal

    @property
    def equity(self) -> Decimal:
        return self.balance + self.unrealized_pnl


@dataclass(frozen=True, slots=True)
class ExchangePosition:
    symbol: str
    side: Side
    size: Decimal
    entry_price: Decimal
    margin: Decimal
    leverage: Decimal
    unrealized_pnl: Decimal
    liquidation_price: Decimal | None
    opened_at: datetime
    updated_at: datetime
    position_id: str
    margin_mode: Literal["cross", "isolated"] = "cross"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An entry (optionally with attached TP/SL) or a reduce-only close, already on step and tick."""

    symbol: str
    position_side: Side
    size: Decimal
    client_order_id: str
    reduce_only: bool = False
    order_type: Literal["MARKET", "LIMIT"] = "MARKET"
    price: Decimal | None = None
    tp_price: Decimal | None = None
    sl_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    order_id: str
    client_order_id: str


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """A regular order, or a TP/SL leg as order history reports it (``kind`` tp/sl)."""

    order_id: str
    client_order_id: str | None
    symbol: str
    position_side: Side
    reduce_only: bool
    order_type: str
    status: OrderStatus
    size: Decimal
    filled_size: Decimal
    price: Decimal | None
    avg_price: Decimal | None
    created_at: datetime
    updated_at: datetime
    kind: Literal["entry", "close", "tp", "sl"] = "entry"
    trigger_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AlgoOrder:
    """A resting TP/SL trigger protecting a position."""

    order_id: str
    client_order_id: str | None
    symbol: str
    position_side: Side
    kind: Literal["tp", "sl"]
    trigger_price: Decimal
    size: Decimal
    status: OrderStatus
    created_at: datetime
    parent_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Fill:
    order_id: str
    symbol: str
    position_side: Side
    price: Decimal
    size: Decimal
    fee: Decimal
    realized_pnl: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class AiLogUpload:
    stage: str
    model: str
    input: dict[str, Any]
    output: dict[str, Any]
    explanation: str
    order_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- protocol


class Exchange(Protocol):
    """What the engine needs from a venue. Implementations: ``WeexClient``, ``PaperExchange``."""

    name: str

    async def contracts(self, symbols: list[str] | None = None) -> dict[str, Contract]:
        """Precision per symbol, loaded from the venue (never a static table). ``None`` lists every
        contract, read from the venue itself past any cache: the engine's start-up load, so a restart
        never trades on a step the venue changed while it was down."""
        ...

    async def ticker(self, symbol: str) -> Ticker: ...

    async def last_price(self, symbol: str) -> Decimal: ...

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        """Oldest first."""
        ...

    async def balance(self) -> Balance: ...

    async def positions(self) -> list[ExchangePosition]: ...

    async def set_leverage(
        self, symbol: str, leverage: int, margin_mode: Literal["cross", "isolated"]
    ) -> None: ...

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        """Never retried. A lost response raises ``AmbiguousOutcome``: resolve with ``find_order``."""
        ...

    async def place_tp_sl(
        self,
        symbol: str,
        position_side: Side,
        kind: Literal["tp", "sl"],
        trigger_price: Decimal,
        size: Decimal,
        client_order_id: str,
    ) -> PlacedOrder:
        """A reduce-only trigger on an existing position (re-placing a missing stop-loss)."""
        ...

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        """Look an order up by our client id (open orders, then history); None when the venue never saw it."""
        ...

    async def order(self, symbol: str, order_id: str) -> ExchangeOrder:
        """Raises ``OrderNotFound``."""
        ...

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None: ...

    async def cancel_algo_order(self, symbol: str, order_id: str) -> None: ...

    async def cancel_all(self, symbol: str) -> int:
        """Cancel every regular and TP/SL order on ``symbol``; returns how many were cancelled."""
        ...

    async def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]: ...

    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]: ...

    async def order_history(
        self, symbol: str, since: datetime | None = None, limit: int = 100
    ) -> list[ExchangeOrder]:
        """Newest first; includes filled TP/SL legs (``kind`` tp/sl) and closes."""
        ...

    async def fills(self, symbol: str, since: datetime | None = None, limit: int = 100) -> list[Fill]: ...

    async def close_position(self, symbol: str, side: Side, client_order_id: str) -> PlacedOrder:
        """Market, reduce-only, full size."""
        ...

    async def upload_ai_log(self, entry: AiLogUpload) -> None: ...

    async def aclose(self) -> None: ...


def open_leg(order: ExchangeOrder) -> AlgoOrder | None:
    """The open TP/SL leg an order row reports (order detail or history, where WEEX shows attached
    take-profits), or None for anything else."""
    if order.kind not in ("tp", "sl") or not order.status.is_open or order.trigger_price is None:
        return None
    return AlgoOrder(
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        position_side=order.position_side,
        kind=order.kind,
        trigger_price=order.trigger_price,
        size=order.size,
        status=order.status,
        created_at=order.created_at,
    )
