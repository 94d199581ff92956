"""The limits table row by row, as the operator reads it: every value, unit and detail of the enforced
limits (with a balance read and without), the edge gate's rows in live mode, and the live drift of
waiting proposals, including the ones that cannot be measured."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EngineState, Side
from smt_engine.store import Store
from smt_engine.store import limits as names
from smt_engine.store.limits import Limit
from smt_engine.trading import limits as L
from smt_engine.trading.account import OpenExposure
from tests.unit.trading.conftest import NOW, account, eth_proposal, make_settings

NOT_READ = "% of available balance + margin in positions (balance not read yet)"


def row(name: str, value: Decimal, unit: str, detail: str, *, used: Decimal | None = None) -> Limit:
    """A limit row as published at ``NOW``: what each expected table below is made of."""
    return Limit(name=name, value=value, unit=unit, used=used, detail=detail, updated_at=NOW)


def test_every_enforced_limit_shows_its_value_use_and_how_it_is_measured() -> None:
    settings = make_settings(competition={"start": date(2026, 1, 12), "end": date(2026, 2, 2)})
    acct = account(
        settings,
        available=Decimal(800),
        equity=Decimal(950),
        opening=Decimal(1000),
        peak=Decimal(1100),
        open_positions=(OpenExposure("BTCUSDT", Side.LONG, Decimal(50)),),
    )
    basis = "% of available balance + margin in positions (850.00 USDT)"
    assert L.enforced_limits(settings, acct, NOW) == [
        row(names.MAX_HOLD, Decimal(172800), "s", "positions held 48 h are force-closed (active phase)"),
        row(
            names.MAX_OPEN_POSITIONS,
            Decimal(5),
            "count",
            "open positions and entries in flight",
            used=Decimal(1),
        ),
        row(names.SINGLE_EXPOSURE, Decimal("212.50"), "USDT", f"margin of one position: 25{basis}"),
        row(
            names.TOTAL_EXPOSURE,
            Decimal("510.00"),
            "USDT",
            f"margin of all positions: 60{basis}",
            used=Decimal("50.00"),
        ),
        row(
            names.DAILY_LOSS,
            Decimal(10),
            "%",
            "loss today 50 USDT = 5.00% of opening equity 1000 (limit 10%)",
            used=Decimal("5.00"),
        ),
        row(
            names.DRAWDOWN,
            Decimal(25),
            "%",
            "drawdown 13.64% from peak 1100 (limit 25%)",
            used=Decimal("13.64"),
        ),
        row(
            names.MAX_DRIFT,
            Decimal("0.5"),
            "%",
            "approval refused when the price moved more than this from the price at proposal time",
        ),
        row(names.PROPOSAL_TTL, Decimal(900), "s", "a waiting proposal expires after this"),
    ]


def test_before_a_balance_is_read_the_table_says_so_and_shows_no_loss() -> None:
    settings = make_settings(risk={"max_hold": "90m"})
    rows = {r.name: r for r in L.enforced_limits(settings, account(settings, available=None), NOW)}
    assert (rows[names.MAX_HOLD].value, rows[names.MAX_HOLD].detail) == (
        Decimal(5400),
        "positions held 1.5 h are force-closed (continuous phase)",
    )
    assert (rows[names.SINGLE_EXPOSURE].value, rows[names.SINGLE_EXPOSURE].detail) == (
        Decimal("0.00"),
        f"margin of one position: 25{NOT_READ}",
    )
    assert (rows[names.TOTAL_EXPOSURE].value, rows[names.TOTAL_EXPOSURE].detail) == (
        Decimal("0.00"),
        f"margin of all positions: 60{NOT_READ}",
    )
    assert (rows[names.DAILY_LOSS].used, rows[names.DAILY_LOSS].detail) == (
        Decimal("0.00"),
        "no loss today (UTC day); halts the engine at the limit",
    )
    assert (rows[names.DRAWDOWN].used, rows[names.DRAWDOWN].detail) == (
        Decimal("0.00"),
        "equity at its peak; halts the engine at the limit",
    )


def test_live_mode_adds_the_edge_gate_and_its_overrides_to_the_table() -> None:
    settings = make_settings(
        engine={"mode": "live"},
        risk={
            "edge_min_decisions": 40,
            "evidence_horizon": "1h",
            "edge_overrides": ["heuristic:ETH", "gemini:BTC"],
        },
    )
    rows = L.enforced_limits(settings, account(settings), NOW)
    assert [r.name for r in rows[:-2]] == [
        names.MAX_HOLD,
        names.MAX_OPEN_POSITIONS,
        names.SINGLE_EXPOSURE,
        names.TOTAL_EXPOSURE,
        names.DAILY_LOSS,
        names.DRAWDOWN,
        names.MAX_DRIFT,
        names.PROPOSAL_TTL,
    ]
    assert rows[-2:] == [
        row(
            names.EDGE_GATE,
            Decimal(40),
            "count",
            "live entries need a source's record on the pair over at least 40 decisions scored at 1h, "
            "with a 95% lower bound of the after-fee mean above 0; otherwise denied no_proven_edge",
        ),
        row(names.EDGE_OVERRIDES, Decimal(2), "count", "heuristic:ETH, gemini:BTC"),
    ]
    assert [r.name for r in L.edge_limits(make_settings(engine={"mode": "live"}), NOW)] == [names.EDGE_GATE]
    assert L.edge_limits(make_settings(engine={"mode": "paper"}), NOW) == []


def _waiting(store: Store, symbol: str, entry_ref: str) -> int:
    """A proposal on ``symbol`` waiting for the operator, proposed at ``entry_ref``; its id."""
    ref = Decimal(entry_ref)
    proposal = store.proposals.insert(
        eth_proposal(
            pair=symbol.removesuffix("USDT"), symbol=symbol, entry_ref=ref, tp_price=ref * 2, sl_price=ref / 2
        )
    )
    assert proposal.id is not None
    return proposal.id


async def test_a_drift_that_cannot_be_measured_is_left_out_and_the_others_are_still_shown(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    unread = _waiting(store, "BTCUSDT", "100000")
    zero_price = _waiting(store, "SOLUSDT", "150")
    zero_ref = _waiting(store, "XRPUSDT", "0")
    doge = _waiting(store, "DOGEUSDT", "0.1")
    eth = _waiting(store, "ETHUSDT", "2000")
    again = _waiting(store, "BTCUSDT", "99000")
    live = {
        "SOLUSDT": Decimal(0),
        "XRPUSDT": Decimal(2),
        "DOGEUSDT": Decimal("0.102"),
        "ETHUSDT": Decimal(2006),
    }
    asked: list[str] = []

    async def price(symbol: str) -> Decimal:
        asked.append(symbol)
        if symbol == "BTCUSDT":
            raise ConnectionError("venue down")
        return live[symbol]

    caplog.set_level(logging.INFO, logger=L.__name__)
    publisher = L.LimitsPublisher(make_settings(), store, clock, price)
    assert await publisher.publish(EngineState.RUNNING) is True
    drifts = [r for r in store.limits.select(order_by="name") if r.name.startswith(names.DRIFT_PREFIX)]
    assert drifts == [
        row(
            names.drift_name(doge),
            Decimal("0.5"),
            "%",
            "price 0.102 vs 0.1 at proposal time",
            used=Decimal("2.000"),
        ),
        row(
            names.drift_name(eth),
            Decimal("0.5"),
            "%",
            "price 2006 vs 2000 at proposal time",
            used=Decimal("0.300"),
        ),
    ]
    assert {unread, zero_price, zero_ref, again}.isdisjoint(int(r.name.rsplit(".", 1)[1]) for r in drifts)
    assert asked == ["BTCUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT", "ETHUSDT"]  # one read per symbol
    assert [r.getMessage() for r in caplog.records] == ["no live price for BTCUSDT: venue down"]


async def test_without_a_price_source_no_drift_is_read_or_shown(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    _waiting(store, "ETHUSDT", "2000")
    caplog.set_level(logging.INFO, logger=L.__name__)
    await L.LimitsPublisher(make_settings(), store, clock, None).publish(EngineState.RUNNING)
    assert not any(name.startswith(names.DRIFT_PREFIX) for name in store.limits.by_name())
    assert caplog.records == []
