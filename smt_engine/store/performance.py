"""Realised performance of closed positions: PnL net of fees per UTC day, ISO week and all time; each
trade's fees and return on margin; win rate, profit factor and drawdown (what freqtrade's ``/daily``,
``/weekly``, ``/profit`` and hummingbot's ``history`` give their operators).

Arithmetic on stored rows, money in ``Decimal``; ``from_store`` reads them. It lives with the store so the
console (which imports only the store, domain and config) computes exactly what ``smt performance`` prints.

Fees. A position's stored ``realized_pnl`` is the venue's realised PnL of its *closing* fills minus
those fills' fees (``smt_engine/trading/closing.py`` and ``reconcile.py``); no fill fee is stored for the
entry. So a trade's fees are its closing fee, derived as gross PnL (entry to exit at the stored
prices) minus the stored realised PnL, plus the entry fee at the configured taker rate
(``exchange.taker_fee_pct``) on the entry notional. When the closing fills could not be read (no
realised PnL stored) both fees are at the taker rate and the trade says so (``fee_source = "rate"``).
The derived closing fee also carries any difference between the venue's fill prices and the stored
averages (and funding booked into realised PnL), so net PnL matches what the account received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from smt_engine.domain import Side
from smt_engine.store.records import ClosedTrade

if TYPE_CHECKING:
    from smt_engine.store import Store

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class TradeResult:
    trade: ClosedTrade
    gross: Decimal
    """Exit minus entry times size, signed by side: before any fee."""
    fees: Decimal
    net: Decimal
    return_pct: Decimal | None
    """Net PnL as a percentage of the margin put up; None for an adopted position without a margin."""
    fee_source: str
    """``fills``: closing fee from the fills, entry fee at the taker rate; ``rate``: both at the rate."""


@dataclass(frozen=True, slots=True)
class Bucket:
    label: str
    start: date | None
    trades: int
    wins: int
    gross: Decimal
    fees: Decimal
    net: Decimal


@dataclass(frozen=True, slots=True)
class Drawdown:
    amount: Decimal
    """The deepest fall of cumulative net PnL below its running high (0 when it never fell)."""
    peak_at: datetime | None
    """When that high was reached (None: before the first trade)."""
    trough_at: datetime | None


@dataclass(frozen=True, slots=True)
class Performance:
    at: datetime
    days: tuple[Bucket, ...]
    """The last N UTC days, newest first, days without a close included."""
    weeks: tuple[Bucket, ...]
    """The last N ISO weeks (Monday to Sunday, UTC), newest first."""
    total: Bucket
    trades: tuple[TradeResult, ...]
    """The most recent closed trades, newest first (at most the limit asked for)."""
    losses: int
    win_rate: Decimal | None
    profit_factor: Decimal | None
    """Gross wins over gross losses, both after fees; None with no losing trade (shown "n/a")."""
    max_drawdown: Drawdown
    equity: Decimal | None
    peak_equity: Decimal | None
    unpriced: int
    """Closed positions with neither an exit price nor a realised PnL: left out of every figure."""

    @property
    def drawdown_now(self) -> Decimal | None:
        """How far the latest equity is below the kept all-time equity peak, USDT."""
        if self.equity is None or self.peak_equity is None:
            return None
        return max(self.peak_equity - self.equity, ZERO)

    @property
    def drawdown_now_pct(self) -> Decimal | None:
        now = self.drawdown_now
        if now is None or self.peak_equity is None or self.peak_equity <= 0:
            return None
        return now / self.peak_equity * HUNDRED


def trade_result(trade: ClosedTrade, taker_fee_pct: Decimal) -> TradeResult | None:
    """One closed trade's gross, fees, net and return; None when nothing says what it made."""
    rate = taker_fee_pct / HUNDRED
    sign = 1 if trade.side is Side.LONG else -1
    entry_fee = trade.entry_price * trade.size * rate
    if trade.exit_price is not None:
        gross = (trade.exit_price - trade.entry_price) * trade.size * sign
        if trade.realized_pnl is not None:
            close_fee, source = gross - trade.realized_pnl, "fills"
        else:
            close_fee, source = trade.exit_price * trade.size * rate, "rate"
    elif trade.realized_pnl is not None:
        # No exit price: the closing fee at the rate on the entry notional, gross follows from it.
        close_fee, source = entry_fee, "rate"
        gross = trade.realized_pnl + close_fee
    else:
        return None
    fees = entry_fee + close_fee
    net = gross - fees
    ret = net / trade.margin * HUNDRED if trade.margin > 0 else None
    return TradeResult(trade, gross, fees, net, ret, source)


def _bucket(label: str, start: date | None, results: Sequence[TradeResult]) -> Bucket:
    return Bucket(
        label=label,
        start=start,
        trades=len(results),
        wins=sum(1 for r in results if r.net > 0),
        gross=sum((r.gross for r in results), ZERO),
        fees=sum((r.fees for r in results), ZERO),
        net=sum((r.net for r in results), ZERO),
    )


def _day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def max_drawdown(results: Sequence[TradeResult]) -> Drawdown:
    """Peak-to-trough fall of cumulative net PnL, trades in the order they closed (from zero)."""
    cumulative, high, high_at = ZERO, ZERO, None
    worst = Drawdown(ZERO, None, None)
    for r in results:
        cumulative += r.net
        if cumulative > high:
            high, high_at = cumulative, r.trade.closed_at
        elif high - cumulative > worst.amount:
            worst = Drawdown(high - cumulative, high_at, r.trade.closed_at)
    return worst


def compute(
    trades: Sequence[ClosedTrade],
    *,
    now: datetime,
    taker_fee_pct: Decimal,
    days: int = 7,
    weeks: int = 4,
    trade_limit: int = 50,
    equity: Decimal | None = None,
    peak_equity: Decimal | None = None,
) -> Performance:
    """The figures of ``trades`` (closed positions, any order) as of ``now``."""
    priced = [r for r in (trade_result(t, taker_fee_pct) for t in trades) if r is not None]
    priced.sort(key=lambda r: (r.trade.closed_at, r.trade.id))
    today = _day(now)
    by_day: dict[date, list[TradeResult]] = {}
    by_week: dict[date, list[TradeResult]] = {}
    for r in priced:
        day = _day(r.trade.closed_at)
        by_day.setdefault(day, []).append(r)
        by_week.setdefault(_monday(day), []).append(r)
    day_buckets = tuple(
        _bucket(d.isoformat(), d, by_day.get(d, []))
        for d in (today - timedelta(days=i) for i in range(max(days, 0)))
    )
    week_buckets = []
    for i in range(max(weeks, 0)):
        monday = _monday(today) - timedelta(weeks=i)
        year, week, _ = monday.isocalendar()
        week_buckets.append(_bucket(f"{year}-W{week:02d}", monday, by_week.get(monday, [])))
    wins = [r.net for r in priced if r.net > 0]
    losses = [r.net for r in priced if r.net < 0]
    lost = -sum(losses, ZERO)
    return Performance(
        at=now,
        days=day_buckets,
        weeks=tuple(week_buckets),
        total=_bucket("all time", None, priced),
        trades=tuple(reversed(priced[-trade_limit:] if trade_limit > 0 else [])),
        losses=len(losses),
        win_rate=Decimal(len(wins)) / Decimal(len(priced)) * HUNDRED if priced else None,
        profit_factor=sum(wins, ZERO) / lost if lost > 0 else None,
        max_drawdown=max_drawdown(priced),
        equity=equity,
        peak_equity=peak_equity,
        unpriced=len(trades) - len(priced),
    )


def from_store(
    store: Store,
    *,
    now: datetime,
    taker_fee_pct: Decimal,
    days: int = 7,
    weeks: int = 4,
    trade_limit: int = 50,
) -> Performance:
    """Read what ``compute`` needs (closed positions, the latest snapshot, the kept equity peak) and run it.

    Called on demand (the console's screen opening or a position closing, ``smt performance``). A close
    later than ``now`` (a demo database, its clock accelerated, read with the wall clock) moves ``now`` to
    it, so its days and weeks are the ones shown.
    """
    latest = store.account.latest()
    peak = store.account.peak_equity()
    trades = store.positions.closed_trades()
    return compute(
        trades,
        now=max(now, trades[-1].closed_at) if trades else now,
        taker_fee_pct=taker_fee_pct,
        days=days,
        weeks=weeks,
        trade_limit=trade_limit,
        equity=latest.equity if latest is not None else None,
        peak_equity=max(peak.equity, latest.equity) if peak is not None and latest is not None else None,
    )


__all__ = [
    "Bucket",
    "Drawdown",
    "Performance",
    "TradeResult",
    "compute",
    "from_store",
    "max_drawdown",
    "trade_result",
]
