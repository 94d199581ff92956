"""The two loss-limit figures, measured one way for everyone.

The ``DAILY_LOSS`` and ``MAX_DRAWDOWN`` risk gates halt on these figures and the limits table shows
them, so the console never shows a loss its own arithmetic made up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # risk.py builds its gates on these functions, so it cannot be imported at run time
    from smt_engine.trading.risk import AccountState


@dataclass(frozen=True, slots=True)
class LossMeasure:
    """How far a loss limit is used: ``loss`` USDT out of ``reference`` USDT, ``pct`` percent of it."""

    loss: Decimal
    reference: Decimal
    pct: Decimal


def daily_loss(account: AccountState) -> LossMeasure | None:
    """Today's realised loss as a % of what the account held before it (equity now plus that loss).

    The one daily-loss figure: the ``DAILY_LOSS`` gate halts on it and the limits table shows it.
    ``None`` when there is nothing to measure (no loss today, or no positive reference).
    """
    loss = -account.realized_pnl_today
    reference = (account.equity if account.equity is not None else account.available or Decimal(0)) + loss
    if loss <= 0 or reference <= 0:
        return None
    return LossMeasure(loss, reference, loss / reference * 100)


def drawdown(account: AccountState) -> LossMeasure | None:
    """Equity below its peak, as a % of the peak: the ``MAX_DRAWDOWN`` gate's and the limits table's figure.

    ``None`` when equity or the peak is unknown, or equity is at (or above) its peak.
    """
    peak, equity = account.peak_equity, account.equity
    if peak is None or equity is None or peak <= 0 or equity >= peak:
        return None
    return LossMeasure(peak - equity, peak, (peak - equity) / peak * 100)
