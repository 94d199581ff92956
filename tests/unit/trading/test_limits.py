"""The engine publishes the limits it enforces: phase max hold, exposure caps on the risk gate's base,
live drift of waiting proposals; and writes nothing when nothing changed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EngineState, PositionState, Side
from smt_engine.store import Store
from smt_engine.store import limits as names
from smt_engine.store.records import AccountSnapshot, Position
from smt_engine.trading import limits as L
from smt_engine.trading.proposals import ProposalBook
from smt_engine.trading.risk import RiskEngine
from tests.unit.trading.conftest import CONTRACTS, NOW, account, decision, make_settings
from tests.unit.trading.test_proposals import ETH


def _seed(store: Store) -> None:
    store.account.insert(
        AccountSnapshot(at=NOW, balance=Decimal(1000), equity=Decimal(990), available=Decimal(800))
    )
    store.positions.insert(
        Position(
            symbol="BTCUSDT",
            side=Side.LONG,
            size=Decimal("0.01"),
            entry_price=Decimal(100000),
            opened_at=NOW - timedelta(minutes=10),
            state=PositionState.OPEN,
            leverage=20,
            updated_at=NOW,
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
    acct = L._account_from_store(store, settings, NOW, EngineState.RUNNING)
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
