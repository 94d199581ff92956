"""The one account reader: its error policy, what an entry reads, and the store-side account the limits
publisher shows being the one the exchange-side reader builds from the same figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EngineState, ProposalState, Side
from smt_engine.exchange.base import Balance, ExchangePosition, ExchangeUnavailable
from smt_engine.store import Store
from smt_engine.store.records import AccountSnapshot
from smt_engine.trading.account import OpenExposure
from smt_engine.trading.account_reader import (
    AccountReader,
    AccountUnreadable,
    Holdings,
    snapshot_account,
    stored_account,
)
from smt_engine.trading.proposals import ProposalBook
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, account, decision, eth_position, make_settings
from tests.unit.trading.scripted import Script, ScriptedExchange, listed_position
from tests.unit.trading.test_proposals import ETH


def venue(clock: SimulatedClock, script: Script | None = None) -> ScriptedExchange:
    return ScriptedExchange(
        prices=dict(PRICES), contract_map=dict(CONTRACTS), script=script or Script(), now=clock.now
    )


def held(symbol: str, side: Side, margin: str) -> ExchangePosition:
    return listed_position(
        symbol, side, "1", opened_at=NOW, entry_price=Decimal(100), margin=Decimal(margin), position_id="p"
    )


async def test_an_unreadable_balance_is_no_account_and_the_positions_are_not_asked(
    store: Store, clock: SimulatedClock
) -> None:
    ex = venue(clock, Script(balance_error=ExchangeUnavailable("balance 502")))
    reader = AccountReader(make_settings(), store, clock, ex)  # type: ignore[arg-type]
    with pytest.raises(AccountUnreadable) as unreadable:
        await reader.holdings()
    assert (unreadable.value.part, unreadable.value.balance, str(unreadable.value)) == (
        "balance",
        None,
        "balance 502",
    )
    assert ex.names() == ["balance"]


async def test_unreadable_positions_are_no_account_and_keep_the_balance_read(
    store: Store, clock: SimulatedClock
) -> None:
    ex = venue(clock)

    async def broken() -> list[ExchangePosition]:
        raise ExchangeUnavailable("positions 503")

    ex.positions = broken  # type: ignore[method-assign]
    reader = AccountReader(make_settings(), store, clock, ex)  # type: ignore[arg-type]
    with pytest.raises(AccountUnreadable) as unreadable:
        await reader.holdings()
    assert unreadable.value.part == "positions"
    assert str(unreadable.value) == "positions 503"
    assert unreadable.value.balance is not None
    assert unreadable.value.balance.available == Decimal(1000)


async def test_an_entry_reads_price_contract_and_account_for_its_symbol(
    store: Store, clock: SimulatedClock
) -> None:
    ex = venue(clock)
    ex.positions_[("BTCUSDT", Side.SHORT)] = held("BTCUSDT", Side.SHORT, "40")
    ex.positions_[("SOLUSDT", Side.LONG)] = replace(held("SOLUSDT", Side.LONG, "99"), size=Decimal(0))
    reader = AccountReader(make_settings(), store, clock, ex)  # type: ignore[arg-type]
    read = await reader.for_symbol("ETHUSDT", EngineState.PAUSED)
    assert read.price == PRICES["ETHUSDT"]
    assert read.contract == CONTRACTS["ETHUSDT"]
    acct = read.account
    assert (acct.available, acct.equity, acct.engine_state) == (
        Decimal(1000),
        Decimal(1000),
        EngineState.PAUSED,
    )
    assert acct.contracts == {"ETHUSDT": CONTRACTS["ETHUSDT"]}
    assert acct.prices == {"ETHUSDT": PRICES["ETHUSDT"]}
    assert acct.open_positions == (OpenExposure("BTCUSDT", Side.SHORT, Decimal(40)),)  # a flat one counts not
    assert ex.names()[-2:] == ["balance", "positions"]


def test_the_stored_account_is_the_account_the_exchange_figures_give(store: Store) -> None:
    settings = make_settings()
    store.account.insert(
        AccountSnapshot(
            at=NOW - timedelta(minutes=1),
            balance=Decimal(1000),
            equity=Decimal(990),
            available=Decimal(800),
            unrealized_pnl=Decimal(-10),
            margin_used=Decimal(200),
        )
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
    # An entry in flight on another symbol counts as exposure on both sides.
    book = ProposalBook(store, SimulatedClock(NOW), settings)
    proposal = book.create(ETH, decision(), account(settings), CONTRACTS["ETHUSDT"], PRICES["ETHUSDT"])
    assert proposal.id is not None
    store.proposals.update(proposal.id, state=ProposalState.APPROVED)

    stored = stored_account(store, settings, NOW, EngineState.RUNNING)
    venue_side = snapshot_account(
        store,
        settings,
        NOW,
        Balance("USDT", Decimal(1000), Decimal(800), Decimal(0), Decimal(-10)),
        [held("BTCUSDT", Side.LONG, "50")],
        EngineState.RUNNING,
    )
    assert stored == venue_side
    assert (stored.available, stored.equity) == (Decimal(800), Decimal(990))
    assert [(e.symbol, e.margin) for e in stored.open_positions] == [
        ("BTCUSDT", Decimal(50)),
        ("ETHUSDT", proposal.margin),
    ]


def test_no_snapshot_yet_is_no_balance(store: Store) -> None:
    assert stored_account(store, make_settings(), NOW, EngineState.RUNNING).available is None


async def test_an_unreadable_balance_keeps_the_venues_code_and_words(
    store: Store, clock: SimulatedClock
) -> None:
    said = ExchangeUnavailable("balance 502", code="40001", raw={"code": "40001", "msg": "busy"})
    reader = AccountReader(make_settings(), store, clock, venue(clock, Script(balance_error=said)))  # type: ignore[arg-type]
    with pytest.raises(AccountUnreadable) as unreadable:
        await reader.holdings()
    assert (unreadable.value.code, unreadable.value.raw) == ("40001", {"code": "40001", "msg": "busy"})


async def test_an_entry_asks_the_venue_for_its_own_contract_only(store: Store, clock: SimulatedClock) -> None:
    ex = venue(clock)
    await AccountReader(make_settings(), store, clock, ex).for_symbol("ETHUSDT", EngineState.RUNNING)  # type: ignore[arg-type]
    assert [args for name, args in ex.calls if name == "contracts"] == [["ETHUSDT"]]


def test_no_balance_means_no_equity_and_no_peak_and_a_read_one_is_its_own_peak(
    store: Store, clock: SimulatedClock
) -> None:
    settings = make_settings()
    reader = AccountReader(settings, store, clock, venue(clock))  # type: ignore[arg-type]
    none = reader.account(None, EngineState.RUNNING)
    assert (none.available, none.equity, none.peak_equity, none.open_positions) == (None, None, None, ())
    book = ProposalBook(store, clock, settings)
    proposal = book.create(ETH, decision(), account(settings), CONTRACTS["ETHUSDT"], PRICES["ETHUSDT"])
    assert proposal.id is not None
    store.proposals.update(proposal.id, state=ProposalState.SUBMITTING)
    balance = Balance("USDT", Decimal(1200), Decimal(900), Decimal(0), Decimal(0))
    read = reader.account(Holdings(balance, (held("BTCUSDT", Side.SHORT, "40"),)), EngineState.RUNNING)
    assert (read.available, read.equity, read.peak_equity) == (Decimal(900), Decimal(1200), Decimal(1200))
    start = settings.competition.starting_balance
    assert read.competition.pnl == Decimal(1200) - start  # the balance read, not the configured start
    assert read.open_positions == (
        OpenExposure("BTCUSDT", Side.SHORT, Decimal(40)),
        OpenExposure("ETHUSDT", proposal.side, proposal.margin),
    )


def test_a_stored_position_of_size_zero_is_no_exposure(store: Store) -> None:
    store.positions.insert(
        eth_position(
            symbol="BTCUSDT",
            size=Decimal(0),
            entry_price=Decimal(100000),
            opened_at=NOW - timedelta(minutes=10),
            margin=Decimal(50),
        )
    )
    assert stored_account(store, make_settings(), NOW, EngineState.RUNNING).open_positions == ()


async def test_a_symbol_the_venue_lists_no_contract_for_has_no_contract_in_the_account(
    store: Store, clock: SimulatedClock
) -> None:
    ex = venue(clock)
    del ex.contract_map["ETHUSDT"]
    read = await AccountReader(make_settings(), store, clock, ex).for_symbol("ETHUSDT", EngineState.RUNNING)  # type: ignore[arg-type]
    assert read.contract is None
    assert read.account.contracts == {}  # no None entry a reader of the account would have to skip
