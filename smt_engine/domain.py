"""Value types and enums shared by the engine, the store and the console.

Money is ``Decimal`` everywhere. Margin and notional are distinct types so a function
that expects one cannot silently be handed the other (the seed system confused them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import NewType, Protocol

MarginUsdt = NewType("MarginUsdt", Decimal)
"""USDT the position locks up as collateral."""

NotionalUsdt = NewType("NotionalUsdt", Decimal)
"""USDT value of the position at entry: margin x leverage."""


class Mode(StrEnum):
    DEMO = "demo"
    PAPER = "paper"
    LIVE = "live"


class ApprovalMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


class Side(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"

    @property
    def sign(self) -> int:
        """+1 for long, -1 for short: multiplies a price move into PnL direction."""
        return 1 if self is Side.LONG else -1

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG


class Action(StrEnum):
    """What the analyst recommends for a pair."""

    LONG = "LONG"
    SHORT = "SHORT"
    WAIT = "WAIT"

    @property
    def side(self) -> Side | None:
        return {Action.LONG: Side.LONG, Action.SHORT: Side.SHORT}.get(self)


class Tier(StrEnum):
    """Tier 1 pairs get whale intelligence in their prompt; tier 2 rely on grounding only."""

    ONE = "1"
    TWO = "2"


class EngineState(StrEnum):
    STARTING = "starting"
    RECONCILING = "reconciling"
    RUNNING = "running"
    PAUSED = "paused"
    HALTED = "halted"
    STOPPED = "stopped"

    @property
    def accepts_entries(self) -> bool:
        return self is EngineState.RUNNING


class ProposalState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    DENIED = "denied"
    SUBMITTING = "submitting"
    OPEN = "open"
    FAILED = "failed"
    CLOSED = "closed"


PROPOSAL_TRANSITIONS: dict[ProposalState, frozenset[ProposalState]] = {
    ProposalState.PROPOSED: frozenset(
        {ProposalState.APPROVED, ProposalState.REJECTED, ProposalState.EXPIRED, ProposalState.DENIED}
    ),
    ProposalState.APPROVED: frozenset({ProposalState.SUBMITTING, ProposalState.DENIED, ProposalState.FAILED}),
    ProposalState.SUBMITTING: frozenset({ProposalState.OPEN, ProposalState.FAILED}),
    ProposalState.OPEN: frozenset({ProposalState.CLOSED}),
    ProposalState.REJECTED: frozenset(),
    ProposalState.EXPIRED: frozenset(),
    ProposalState.DENIED: frozenset(),
    ProposalState.FAILED: frozenset(),
    ProposalState.CLOSED: frozenset(),
}
"""The proposal state machine (docs/design.md); anything not listed is an illegal transition."""


class OrderKind(StrEnum):
    ENTRY = "entry"
    TP = "tp"
    SL = "sl"
    CLOSE = "close"


class OrderState(StrEnum):
    PENDING_SUBMIT = "pending_submit"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in {OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED}


ORDER_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.PENDING_SUBMIT: frozenset({OrderState.SUBMITTED, OrderState.REJECTED, OrderState.UNKNOWN}),
    OrderState.SUBMITTED: frozenset(
        {
            OrderState.PARTIALLY_FILLED,
            OrderState.FILLED,
            OrderState.CANCELLED,
            OrderState.REJECTED,
            OrderState.UNKNOWN,
        }
    ),
    OrderState.PARTIALLY_FILLED: frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.UNKNOWN}),
    OrderState.UNKNOWN: frozenset(
        {
            OrderState.SUBMITTED,
            OrderState.PARTIALLY_FILLED,
            OrderState.FILLED,
            OrderState.CANCELLED,
            OrderState.REJECTED,
        }
    ),
    OrderState.FILLED: frozenset(),
    OrderState.CANCELLED: frozenset(),
    OrderState.REJECTED: frozenset(),
}
"""The order state machine (docs/design.md): any live state may become ``unknown``, a lookup resolves it."""


class PositionState(StrEnum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


POSITION_TRANSITIONS: dict[PositionState, frozenset[PositionState]] = {
    # open -> closed directly when the exchange closed it (TP, SL, liquidation, a manual close elsewhere).
    PositionState.OPEN: frozenset({PositionState.CLOSING, PositionState.CLOSED}),
    # closing -> open when our close order ended unfilled and the position is still there.
    PositionState.CLOSING: frozenset({PositionState.CLOSED, PositionState.OPEN}),
    PositionState.CLOSED: frozenset(),
}


class CloseReason(StrEnum):
    TAKE_PROFIT = "take-profit"
    STOP_LOSS = "stop-loss"
    MANUAL = "manual"
    LIQUIDATION = "liquidation"
    FORCED = "forced"
    UNPROTECTED = "unprotected"
    UNKNOWN = "unknown"


class CommandKind(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    CLOSE = "close"
    CLOSE_ALL = "close_all"
    CLEANUP = "cleanup"
    PAUSE = "pause"
    RESUME = "resume"
    RUN_CYCLE = "run_cycle"
    RELOAD_CONFIG = "reload_config"
    MOVE_PROTECTION = "move_protection"
    CLEAR_COOLDOWN = "clear_cooldown"
    ENTER = "enter"


class CommandState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class EventLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class NotificationKind(StrEnum):
    """The notifications an operator can receive, each with its level (listed by ``notify.events``)."""

    PROPOSAL_WAITING = "proposal_waiting"
    ENTRY_FILLED = "entry_filled"
    POSITION_CLOSED = "position_closed"
    HALTED = "halted"
    RESUMED = "resumed"
    STARTED = "started"
    STOPPED = "stopped"
    CRASH_RESTART = "crash_restart"
    MODEL_UNAVAILABLE = "model_unavailable"
    BUDGET_REACHED = "budget_reached"
    STREAM_DOWN = "stream_down"
    DATABASE_LOST = "database_lost"

    @property
    def level(self) -> EventLevel:
        return _LEVELS[self]


_LEVELS = {
    NotificationKind.PROPOSAL_WAITING: EventLevel.WARNING,  # needs the operator before it expires
    NotificationKind.ENTRY_FILLED: EventLevel.INFO,
    NotificationKind.POSITION_CLOSED: EventLevel.INFO,
    NotificationKind.HALTED: EventLevel.CRITICAL,
    NotificationKind.RESUMED: EventLevel.INFO,
    NotificationKind.STARTED: EventLevel.INFO,
    NotificationKind.STOPPED: EventLevel.WARNING,
    NotificationKind.CRASH_RESTART: EventLevel.ERROR,
    NotificationKind.MODEL_UNAVAILABLE: EventLevel.ERROR,
    NotificationKind.BUDGET_REACHED: EventLevel.WARNING,
    NotificationKind.STREAM_DOWN: EventLevel.ERROR,
    NotificationKind.DATABASE_LOST: EventLevel.CRITICAL,
}


class HealthStatus(StrEnum):
    """How one part of the engine is doing, as shown in `smt status` and the console's health strip."""

    OK = "ok"
    WARN = "warn"  # degraded: working, but not as configured (fallback model, stale feed, slow stream)
    DOWN = "down"  # not doing its job (stream disconnected, feed failing, all analyses failed)
    OFF = "off"  # disabled by configuration; not a fault


class AiLogState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class AnalystKind(StrEnum):
    GEMINI = "gemini"
    HEURISTIC = "heuristic"


class Bias(StrEnum):
    BULLISH = "BULLISH"
    BEARISH = "BEARISH"
    NEUTRAL = "NEUTRAL"
    AVOID = "AVOID"


class Flow(StrEnum):
    INFLOW = "inflow"
    OUTFLOW = "outflow"
    MIXED = "mixed"


CONFIDENCE_STEP = Decimal("0.0001")
"""Confidences are kept to four places."""


def round_confidence(value: float | Decimal) -> Decimal:
    """A confidence on the four-place step, half up: compared after rounding (0.85 - 0.05 must equal
    0.80), the same way where the analyst's answer is read and where the risk gates weigh it. NaN or an
    infinity (float or Decimal) is -1, below every threshold, and so is a number too large to round."""
    number = Decimal(str(value))
    if not number.is_finite():
        return Decimal(-1)
    try:
        return number.quantize(CONFIDENCE_STEP, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than the context's precision holds
        return Decimal(-1)


@dataclass(frozen=True, slots=True)
class Pair:
    """A traded pair: the short name operators use and the WEEX v3 symbol."""

    base: str
    tier: Tier

    @property
    def symbol(self) -> str:
        return f"{self.base}USDT"


@dataclass(frozen=True, slots=True)
class Contract:
    """Per-symbol precision as the exchange reports it; sizes are in base-asset units."""

    symbol: str
    step_size: Decimal
    tick_size: Decimal
    min_size: Decimal
    max_size: Decimal | None = None
    min_notional: Decimal = Decimal(0)
    max_leverage: int = 125


@dataclass(frozen=True, slots=True)
class Sizing:
    """A trade's size stated in both units, so no caller has to guess which one it holds."""

    margin: MarginUsdt
    leverage: int

    @property
    def notional(self) -> NotionalUsdt:
        return NotionalUsdt(self.margin * self.leverage)


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar; ``open_time`` is the bar's start (UTC)."""

    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class MarketData(Protocol):
    """Prices for the analyst and sizing: live WEEX public data or the synthetic market."""

    async def last_price(self, symbol: str) -> Decimal:
        """Most recent trade price."""
        ...

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        """Oldest first; the last bar may still be forming. ``interval`` as WEEX spells it (1m, 1h, 4h...)."""
        ...


class Sentiment(StrEnum):
    BULLISH = "BULLISH"
    BEARISH = "BEARISH"
    NEUTRAL = "NEUTRAL"


@dataclass(frozen=True, slots=True)
class Decision:
    """An analyst's validated answer for one pair. Only ``parse``/``heuristic`` construct these.

    Percentages are price distances from entry (``tp_pct=5`` means 5 %), already checked against the
    configured bounds; ``confidence`` is in [0, 1]. Nothing here says anything about size or leverage:
    those come from the risk engine alone.
    """

    action: Action
    confidence: float
    tp_pct: Decimal
    sl_pct: Decimal
    hold_hours: float
    reasoning: str
    key_catalyst: str = ""
    risk_factors: tuple[str, ...] = ()
    sentiment: Sentiment = Sentiment.NEUTRAL
    grounded: bool = False
    analyst: AnalystKind = AnalystKind.HEURISTIC
    error: str | None = None

    @classmethod
    def wait(cls, reason: str, analyst: AnalystKind, error: str | None = None) -> Decision:
        """The safe answer for anything invalid or failed: never an order."""
        return cls(Action.WAIT, 0.0, Decimal(0), Decimal(0), 0.0, reason, analyst=analyst, error=error)
