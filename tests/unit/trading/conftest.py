"""Shared builders for the trading tests: settings, contracts, accounts, decisions, positions, proposals, a
clock driver."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.competition import competition_status
from smt_engine.config import Settings
from smt_engine.domain import (
    Action,
    AnalystKind,
    Contract,
    Decision,
    EngineState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.store import Store
from smt_engine.store.records import Position, Proposal
from smt_engine.trading.account import AccountState, OpenExposure

T = TypeVar("T")

NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)

CONTRACTS = {
    "ETHUSDT": Contract("ETHUSDT", Decimal("0.01"), Decimal("0.01"), Decimal("0.01")),
    "BTCUSDT": Contract("BTCUSDT", Decimal("0.0001"), Decimal("0.1"), Decimal("0.0001")),
    "SOLUSDT": Contract("SOLUSDT", Decimal("0.1"), Decimal("0.01"), Decimal("0.1")),
    "DOGEUSDT": Contract("DOGEUSDT", Decimal("100"), Decimal("0.00001"), Decimal("100")),
}
PRICES = {
    "ETHUSDT": Decimal("2000"),
    "BTCUSDT": Decimal("100000"),
    "SOLUSDT": Decimal("150"),
    "DOGEUSDT": Decimal("0.1"),
}


def make_settings(**sections: dict[str, Any]) -> Settings:
    data: dict[str, Any] = {"engine": {"approval": "auto"}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings.model_validate(data)


def decision(
    action: Action = Action.LONG,
    confidence: float = 0.8,
    tp: str | Decimal = "5",
    sl: str | Decimal = "2",
    reasoning: str = "test",
    hold_hours: float = 0.0,
) -> Decision:
    return Decision(
        action=action,
        confidence=confidence,
        tp_pct=Decimal(tp),
        sl_pct=Decimal(sl),
        hold_hours=hold_hours,
        reasoning=reasoning,
        analyst=AnalystKind.HEURISTIC,
    )


def account(
    settings: Settings,
    *,
    available: Decimal | None = Decimal(1000),
    equity: Decimal | None = None,
    peak: Decimal | None = None,
    opening: Decimal | None = None,
    open_positions: tuple[OpenExposure, ...] = (),
    last_stop_loss: dict[str, datetime] | None = None,
    engine_state: EngineState = EngineState.RUNNING,
    now: datetime = NOW,
    comp_balance: Decimal | None = None,
) -> AccountState:
    eq = equity if equity is not None else (available if available is not None else None)
    balance = comp_balance if comp_balance is not None else (available or Decimal(1000))
    return AccountState(
        available=available,
        equity=eq,
        peak_equity=peak if peak is not None else eq,
        opening_equity=opening if opening is not None else eq,
        open_positions=open_positions,
        last_stop_loss=last_stop_loss or {},
        engine_state=engine_state,
        competition=competition_status(settings, now, balance),
        contracts=dict(CONTRACTS),
        prices=dict(PRICES),
    )


def contract(symbol: str, **changes: Any) -> Contract:
    return replace(CONTRACTS[symbol], **changes)


async def drive(clock: SimulatedClock, aw: Awaitable[T], step: float = 0.5, limit: int = 2000) -> T:
    """Run ``aw`` while moving simulated time, so the code's clock sleeps pass instantly."""
    task = asyncio.ensure_future(aw)
    for _ in range(limit):
        for _ in range(5):
            await asyncio.sleep(0)
        if task.done():
            return task.result()
        await clock.advance(step)
    task.cancel()
    raise AssertionError("the awaited operation did not finish in simulated time")


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "smt.db")
    yield s  # type: ignore[misc]
    s.close()


def eth_position(**fields: Any) -> Position:
    """An open 1.5 ETH long at 2000, leverage 20, opened and updated at ``NOW``; ``fields`` change it."""
    base: dict[str, Any] = {
        "symbol": "ETHUSDT",
        "side": Side.LONG,
        "size": Decimal("1.5"),
        "entry_price": Decimal(2000),
        "opened_at": NOW,
        "state": PositionState.OPEN,
        "leverage": 20,
        "updated_at": NOW,
    }
    return Position(**(base | fields))


def eth_proposal(**fields: Any) -> Proposal:
    """A 0.1 ETH long at 2000, leverage 20 (10 USDT of margin, TP 2100 at 5 %, SL 1960 at 2 %), waiting for
    the operator since ``NOW``; ``fields`` change it."""
    base: dict[str, Any] = {
        "pair": "ETH",
        "symbol": "ETHUSDT",
        "side": Side.LONG,
        "confidence": 0.8,
        "margin": Decimal(10),
        "notional": Decimal(200),
        "leverage": 20,
        "size": Decimal("0.1"),
        "entry_ref": Decimal(2000),
        "tp_price": Decimal(2100),
        "sl_price": Decimal(1960),
        "tp_pct": Decimal(5),
        "sl_pct": Decimal(2),
        "state": ProposalState.PROPOSED,
        "created_at": NOW,
    }
    return Proposal(**(base | fields))
