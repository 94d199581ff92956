"""The limits the engine enforces right now, published to the ``limits`` table for the console.

Every figure comes from the same code the engine enforces with (``competition_status`` for the max hold,
``RiskEngine`` for exposure, ``loss_limits`` and the risk gates for daily loss and drawdown,
``drift_pct`` for approval drift), so the console never shows a limit of its own making. Rows are
rewritten only when a value changed, so an idle engine does not wake its readers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import EngineState, Mode
from smt_engine.store import Store
from smt_engine.store.limits import (
    DAILY_LOSS,
    DRAWDOWN,
    EDGE_GATE,
    EDGE_OVERRIDES,
    MAX_DRIFT,
    MAX_HOLD,
    MAX_OPEN_POSITIONS,
    PROPOSAL_TTL,
    SINGLE_EXPOSURE,
    TOTAL_EXPOSURE,
    Limit,
    drift_name,
)
from smt_engine.trading.account import AccountState
from smt_engine.trading.account_reader import stored_account
from smt_engine.trading.cooldowns import cooldown_limits
from smt_engine.trading.loss_limits import LossMeasure, daily_loss, drawdown
from smt_engine.trading.risk import RiskEngine, drift_pct

log = logging.getLogger(__name__)

PriceSource = Callable[[str], Awaitable[Decimal]]

DRIFT_REFRESH = timedelta(seconds=5)
"""How often the live drift of waiting proposals is re-measured (only while one waits)."""

CENT = Decimal("0.01")
MILLI = Decimal("0.001")


def _hours(value: timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours:g} h"


def _used_pct(measure: LossMeasure | None) -> Decimal:
    return (measure.pct if measure is not None else Decimal(0)).quantize(CENT)


def enforced_limits(settings: Settings, account: AccountState, now: datetime) -> list[Limit]:
    """The account-wide limits, each with how the engine measures it."""
    risk = RiskEngine(settings)
    rs = settings.risk
    comp = account.competition
    if comp.final_days:
        phase = f"final {settings.risk.final_days} days of the competition"
    else:
        phase = f"{comp.phase.value.lower()} phase"
    base = risk.exposure_base(account)
    known = account.available is not None
    basis = (
        f"% of available balance + margin in positions ({base.quantize(CENT)} USDT)"
        if known
        else "% of available balance + margin in positions (balance not read yet)"
    )
    # The loss gates' own figures and details, so the table shows exactly what halts the engine.
    daily_gate = risk.daily_loss_gate(account)
    drawdown_gate = risk.drawdown_gate(account)
    return [
        Limit(
            name=MAX_HOLD,
            value=Decimal(int(comp.max_hold.total_seconds())),
            unit="s",
            detail=f"positions held {_hours(comp.max_hold)} are force-closed ({phase})",
            updated_at=now,
        ),
        Limit(
            name=MAX_OPEN_POSITIONS,
            value=Decimal(rs.max_open_positions),
            unit="count",
            used=Decimal(len(account.open_positions)),
            detail="open positions and entries in flight",
            updated_at=now,
        ),
        Limit(
            name=SINGLE_EXPOSURE,
            value=(base * rs.max_single_position_pct / 100).quantize(CENT),
            unit="USDT",
            detail=f"margin of one position: {rs.max_single_position_pct}{basis}",
            updated_at=now,
        ),
        Limit(
            name=TOTAL_EXPOSURE,
            value=(base * rs.max_total_exposure_pct / 100).quantize(CENT),
            unit="USDT",
            used=account.open_margin.quantize(CENT),
            detail=f"margin of all positions: {rs.max_total_exposure_pct}{basis}",
            updated_at=now,
        ),
        Limit(
            name=DAILY_LOSS,
            value=rs.daily_loss_limit_pct,
            unit="%",
            used=_used_pct(daily_loss(account)),
            detail=daily_gate.detail
            or f"no loss today ({rs.loss_day_timezone} day); halts the engine at the limit",
            updated_at=now,
        ),
        Limit(
            name=DRAWDOWN,
            value=rs.max_drawdown_pct,
            unit="%",
            used=_used_pct(drawdown(account)),
            detail=drawdown_gate.detail or "equity at its peak; halts the engine at the limit",
            updated_at=now,
        ),
        Limit(
            name=MAX_DRIFT,
            value=rs.max_drift_pct,
            unit="%",
            detail="approval refused when the price moved more than this from the price at proposal time",
            updated_at=now,
        ),
        Limit(
            name=PROPOSAL_TTL,
            value=Decimal(int(settings.trading.proposal_ttl.total_seconds())),
            unit="s",
            detail="a waiting proposal expires after this",
            updated_at=now,
        ),
        *edge_limits(settings, now),
    ]


def edge_limits(settings: Settings, now: datetime) -> list[Limit]:
    """The edge gate and its overrides, in live mode (paper and demo are never gated)."""
    if settings.engine.mode is not Mode.LIVE:
        return []
    rs = settings.risk
    rows = [
        Limit(
            name=EDGE_GATE,
            value=Decimal(rs.edge_min_decisions),
            unit="count",
            detail=f"live entries need a source's record on the pair over at least {rs.edge_min_decisions} "
            f"decisions scored at {rs.evidence_horizon}, with a 95% lower bound of the after-fee mean above "
            "0; otherwise denied no_proven_edge",
            updated_at=now,
        )
    ]
    if rs.edge_overrides:
        rows.append(
            Limit(
                name=EDGE_OVERRIDES,
                value=Decimal(len(rs.edge_overrides)),
                unit="count",
                detail=", ".join(rs.edge_overrides),
                updated_at=now,
            )
        )
    return rows


class LimitsPublisher:
    """Writes the enforced limits, and the live drift of each waiting proposal, to the ``limits`` table."""

    def __init__(self, settings: Settings, store: Store, clock: Clock, price: PriceSource | None) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.price = price

    async def publish(self, state: EngineState) -> bool:
        """One pass; True when something changed. A price that cannot be read leaves that drift out."""
        now = self.clock.now()
        account = stored_account(self.store, self.settings, now, state)
        rows = enforced_limits(self.settings, account, now)
        rows += await self._drifts(now)
        rows += cooldown_limits(self.store, self.settings, now)
        return self.store.limits.replace_all(rows)

    async def _drifts(self, now: datetime) -> list[Limit]:
        waiting = self.store.proposals.pending()
        if not waiting or self.price is None:
            return []
        prices: dict[str, Decimal | None] = {}
        rows: list[Limit] = []
        limit = self.settings.risk.max_drift_pct
        for proposal in waiting:
            if proposal.symbol not in prices:
                try:
                    prices[proposal.symbol] = await self.price(proposal.symbol)
                except Exception as exc:  # a missed price is a missing row, never a crash
                    log.info("no live price for %s: %s", proposal.symbol, exc)
                    prices[proposal.symbol] = None
            live = prices[proposal.symbol]
            if live is None or live <= 0 or proposal.entry_ref <= 0 or proposal.id is None:
                continue
            drift = drift_pct(proposal.entry_ref, live)
            rows.append(
                Limit(
                    name=drift_name(proposal.id),
                    value=limit,
                    unit="%",
                    used=drift.quantize(MILLI),
                    detail=f"price {live} vs {proposal.entry_ref} at proposal time",
                    updated_at=now,
                )
            )
        return rows

    def interval(self) -> float:
        """Seconds to the next pass: never slower than the drift refresh.

        Chosen before the wait, so a proposal created during it must not wait a whole heartbeat (a demo
        minute) for its drift; passes that change nothing write nothing, so the faster pace is cheap.
        """
        return min(self.settings.engine.heartbeat_interval, DRIFT_REFRESH).total_seconds()
