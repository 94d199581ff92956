"""The two loss-limit figures, measured one way for everyone.

The kill switch halts on these figures, the ``DAILY_LOSS`` and ``MAX_DRAWDOWN`` risk gates refuse
entries on them and the limits table shows them, so no two parts of SMT disagree about a loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # risk.py builds its gates on these functions, so it cannot be imported at run time
    from smt_engine.trading.account import AccountState


@dataclass(frozen=True, slots=True)
class LossMeasure:
    """How far a loss limit is used: ``loss`` USDT out of ``reference`` USDT, ``pct`` percent of it."""

    loss: Decimal
    reference: Decimal
    pct: Decimal


def loss_from(reference: Decimal | None, equity: Decimal | None) -> LossMeasure | None:
    """Equity below ``reference``, as a % of it; ``None`` when either is unknown or there is no loss."""
    if reference is None or equity is None or reference <= 0 or equity >= reference:
        return None
    return LossMeasure(reference - equity, reference, (reference - equity) / reference * 100)


def daily_loss(account: AccountState) -> LossMeasure | None:
    """Equity below the day's opening equity (realised and unrealised), as a % of the opening equity.

    The one daily-loss figure: the kill switch halts on it every tick, the ``DAILY_LOSS`` gate refuses
    entries on it and the limits table shows it. The opening equity is the last snapshot before the
    loss day began (``risk.loss_day_timezone``) or the equity at an operator's resume, when later.
    """
    return loss_from(account.opening_equity, account.equity)


def drawdown(account: AccountState) -> LossMeasure | None:
    """Equity below its peak, as a % of the peak: the kill switch's, the ``MAX_DRAWDOWN`` gate's and
    the limits table's figure."""
    return loss_from(account.peak_equity, account.equity)
