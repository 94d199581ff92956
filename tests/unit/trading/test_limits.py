"""The engine publishes the limits it enforces: phase max hold, exposure caps on the risk gate's base,
the loss figures the halting gates use, live drift of waiting proposals; and writes nothing when nothing
changed."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EngineState
from smt_engine.store import Store
from smt_engine.store import limits as names
from smt_engine.store.records import AccountSnapshot
from smt_engine.trading import limits as L
from smt_engine.trading.account import AccountState
from smt_engine.trading.account_reader import stored_account
from smt_engine.trading.loss_limits import LossMeasure, daily_loss, drawdown, loss_from
from smt_engine.trading.proposals import ProposalBook
from smt_engine.trading.risk import ReasonCode, RiskEngine
from tests.unit.trading.conftest import CONTRACTS, NOW, account, decision, eth_position, make_settings
from tests.unit.trading.test_proposals import ETH


def _seed(store: Store) -> None:
    store.account.insert(
        AccountSnapshot(at=NOW, balance=Decimal(1000), equity=Decimal(990), available=Decimal(800))
    )
    store.positions.insert(
        eth_position(
            symbol="BTCUSDT",
            size=Decimal("0.01"),
            entry_price=Decimal(100000),
            opened_at=NOW - timedelta(minutes=10),
            margin=Decimal(50),
        )
    )


async def test_published_limits_are_the_enforced_ones(store: Store, clock: SimulatedClock) -> None:
    settings = make_settings(
        competition={"start": date(2026, 1, 1), "end": date(2026, 1, 21)},
        risk={"final_days_max_hold": "1h"},
    )
    _seed(store)
    publisher = L.LimitsPublisher(settings, store, clock, None)
    assert await publisher.publish(EngineState.RUNNING) is True
    rows = store.limits.by_name()
    # In the final days the enforced max hold is the final-days one, not the 48 h default.
    assert rows[names.MAX_HOLD].value == Decimal(3600)
    assert "final 3 days" in rows[names.MAX_HOLD].detail
    # The total exposure cap is the risk gate's: % of (available + margin in positions) = 60% of 850.
    acct = stored_account(store, settings, NOW, EngineState.RUNNING)
    base = RiskEngine(settings).exposure_base(acct)
    assert base == Decimal(850)
    assert rows[names.TOTAL_EXPOSURE].value == Decimal("510.00")
    assert rows[names.TOTAL_EXPOSURE].used == Decimal("50.00")
    assert rows[names.SINGLE_EXPOSURE].value == Decimal("212.50")
    assert rows[names.MAX_OPEN_POSITIONS].used == 1
    assert rows[names.MAX_DRIFT].value == settings.risk.max_drift_pct


async def test_nothing_written_when_nothing_changed(store: Store, clock: SimulatedClock) -> None:
    settings = make_settings()
    _seed(store)
    publisher = L.LimitsPublisher(settings, store, clock, None)
    reader = Store.open(store.path, readonly=True)
    try:
        assert await publisher.publish(EngineState.RUNNING)
        version = reader.data_version()
        await clock.advance(60)
        assert await publisher.publish(EngineState.RUNNING) is False
        assert reader.data_version() == version  # the console's change check sees no commit at all
        store.account.insert(
            AccountSnapshot(at=NOW, balance=Decimal(2000), equity=Decimal(2000), available=Decimal(1800))
        )
        assert await publisher.publish(EngineState.RUNNING) is True
        assert store.limits.by_name()[names.TOTAL_EXPOSURE].value == Decimal("1110.00")
    finally:
        reader.close()


async def test_drift_of_waiting_proposals_from_the_price_at_proposal_time(
    store: Store, clock: SimulatedClock
) -> None:
    settings = make_settings(engine={"approval": "manual"})
    book = ProposalBook(store, clock, settings)
    proposal = book.create(ETH, decision(), account(settings), CONTRACTS["ETHUSDT"], Decimal(2000))
    assert proposal.id is not None
    price = {"ETHUSDT": Decimal(2006)}

    async def live(symbol: str) -> Decimal:
        return price[symbol]

    publisher = L.LimitsPublisher(settings, store, clock, live)
    await publisher.publish(EngineState.RUNNING)
    row = store.limits.by_name()[names.drift_name(proposal.id)]
    assert (row.used, row.value) == (Decimal("0.300"), Decimal("0.5"))
    assert publisher.interval() == L.DRIFT_REFRESH.total_seconds()
    price["ETHUSDT"] = Decimal(1990)
    assert await publisher.publish(EngineState.RUNNING)
    assert store.limits.by_name()[names.drift_name(proposal.id)].used == Decimal("0.500")
    book.reject(proposal.id, "op")
    await publisher.publish(EngineState.RUNNING)
    assert names.drift_name(proposal.id) not in store.limits.by_name()
    assert publisher.interval() == L.DRIFT_REFRESH.total_seconds()  # the next proposal is not kept waiting


def test_a_slow_heartbeat_still_refreshes_drift_soon_after_a_proposal_appears(
    store: Store, clock: SimulatedClock
) -> None:
    """The wait is chosen before the proposal exists: with a demo minute as the heartbeat, the next pass
    must still come within the drift refresh, or the drift column stays blank for a minute."""
    settings = make_settings(engine={"heartbeat_interval": "60s"})
    publisher = L.LimitsPublisher(settings, store, clock, None)
    assert store.proposals.count("state = 'proposed'") == 0
    assert publisher.interval() == L.DRIFT_REFRESH.total_seconds()


def _gate(account_state: AccountState, code: ReasonCode) -> tuple[bool, str]:
    """The verdict and detail of one gate as a real assessment of a trade runs it."""
    settings = make_settings()
    result = RiskEngine(settings).assess(
        ETH, decision(), account_state, CONTRACTS["ETHUSDT"], Decimal(2000), NOW
    )
    gate = next(g for g in result.gates if g.code is code)
    return gate.passed, gate.detail


def _shown_pct(detail: str) -> Decimal:
    match = re.search(r"(\d+\.\d\d)%", detail)
    assert match is not None, detail
    return Decimal(match.group(1))


_LOSS_STATES = {
    "loss under the limit": {"opening": Decimal(1000), "equity": Decimal(950)},
    "loss past the limit": {"opening": Decimal(1000), "equity": Decimal(850)},
    # Equity read as exactly 0: everything the day opened with is lost (100 %); the table once fell
    # back to the available balance here and showed 1.96 % while the gate halted.
    "equity zero": {"opening": Decimal(10), "equity": Decimal(0), "available": Decimal(500)},
    "profit today": {"opening": Decimal(1000), "equity": Decimal(1020)},
}


@pytest.mark.parametrize("state", list(_LOSS_STATES), ids=list(_LOSS_STATES))
def test_the_daily_loss_shown_is_the_figure_the_gate_halts_on(state: str) -> None:
    settings = make_settings()
    values = dict(_LOSS_STATES[state])
    equity = values.pop("equity")
    acct = replace(account(settings, **values), equity=equity, peak_equity=equity)
    row = next(r for r in L.enforced_limits(settings, acct, NOW) if r.name == names.DAILY_LOSS)
    passed, detail = _gate(acct, ReasonCode.DAILY_LOSS)
    measure = daily_loss(acct)
    if measure is None:
        assert (passed, detail, row.used) == (True, "", Decimal("0.00"))
        assert "no loss today (UTC day)" in row.detail
        return
    assert row.used == measure.pct.quantize(Decimal("0.01")) == _shown_pct(detail)
    assert row.detail == detail
    assert passed is (row.used < row.value)


def test_the_daily_loss_figure_is_equity_below_the_opening_equity() -> None:
    settings = make_settings()
    acct = account(settings, opening=Decimal(1000), equity=Decimal(850))
    measure = daily_loss(acct)
    assert measure is not None
    assert (measure.loss, measure.reference, measure.pct) == (Decimal(150), Decimal(1000), Decimal(15))
    assert daily_loss(replace(acct, opening_equity=Decimal(850))) is None
    assert daily_loss(replace(acct, opening_equity=None)) is None


@pytest.mark.parametrize(
    ("reference", "equity"),
    [
        (Decimal(1000), None),  # equity not read
        (None, Decimal(1000)),  # no reference yet
        (Decimal(0), Decimal(-5)),  # a reference of nothing has no share to lose
        (Decimal(-10), Decimal(-20)),
        (Decimal(1000), Decimal(1000)),  # no loss
    ],
)
def test_there_is_no_loss_figure_without_two_known_amounts_and_a_positive_reference(
    reference: Decimal | None, equity: Decimal | None
) -> None:
    assert loss_from(reference, equity) is None


def test_a_loss_below_a_reference_of_one_usdt_is_still_measured() -> None:
    assert loss_from(Decimal(1), Decimal("0.25")) == LossMeasure(Decimal("0.75"), Decimal(1), Decimal(75))


def test_the_drawdown_shown_is_the_figure_the_gate_halts_on() -> None:
    settings = make_settings()
    acct = account(settings, peak=Decimal(1500), equity=Decimal(1000))
    row = next(r for r in L.enforced_limits(settings, acct, NOW) if r.name == names.DRAWDOWN)
    passed, detail = _gate(acct, ReasonCode.MAX_DRAWDOWN)
    measure = drawdown(acct)
    assert measure is not None
    assert measure.reference == Decimal(1500)
    assert row.used == measure.pct.quantize(Decimal("0.01")) == _shown_pct(detail) == Decimal("33.33")
    assert row.detail == detail
    assert passed is False
    assert drawdown(replace(acct, equity=Decimal(1500))) is None


def test_the_daily_loss_row_names_the_configured_loss_day() -> None:
    settings = make_settings(risk={"loss_day_timezone": "Europe/Berlin"})
    rows = L.enforced_limits(settings, account(settings), NOW)
    row = next(r for r in rows if r.name == names.DAILY_LOSS)
    assert "today (Europe/Berlin day)" in row.detail
