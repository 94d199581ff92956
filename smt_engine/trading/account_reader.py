"""The one reader of the risk inputs (``AccountState``): from the exchange, or as the store last saw them.

The signal cycle, an approval, an operator's entry, `smt propose` and the limits publisher all gate on
an account built here, under one error policy: a balance or a position list that cannot be read means
no account (``AccountUnreadable``), never a made-up balance; a price that fails the plausibility check
is its own refusal (``ImplausiblePrice``, recorded as ``price.implausible``); any other venue error
propagates as the ``ExchangeError`` it is. Each caller words the refusal for its operator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, NamedTuple

from smt_engine.clock import Clock
from smt_engine.competition import competition_status
from smt_engine.config import Settings
from smt_engine.domain import Contract, EngineState, ProposalState
from smt_engine.exchange.base import Balance, Exchange, ExchangeError, ExchangePosition
from smt_engine.exchange.market.plausibility import PriceRule, plausible_price
from smt_engine.store import Store
from smt_engine.trading.account import AccountState, OpenExposure
from smt_engine.trading.cooldowns import gate_stop_losses
from smt_engine.trading.kill_switch import loss_references

IN_FLIGHT = (ProposalState.APPROVED, ProposalState.SUBMITTING)
"""Proposals whose entry may be on its way: they count as exposure until they become a position."""


class AccountUnreadable(ExchangeError):
    """The balance or the position list could not be read: there is no account to gate on.

    Its text is the venue's own error (each caller words the refusal around it); ``part`` names what
    failed; ``balance`` is the balance when it was read before the position list failed, which the
    signal cycle still records as a point of the equity curve.
    """

    def __init__(
        self, part: Literal["balance", "positions"], cause: ExchangeError, balance: Balance | None = None
    ) -> None:
        super().__init__(str(cause), code=cause.code, raw=cause.raw)
        self.part = part
        self.balance = balance


@dataclass(frozen=True, slots=True)
class Holdings:
    """The balance and the positions, both read."""

    balance: Balance
    positions: tuple[ExchangePosition, ...]


@dataclass(frozen=True, slots=True)
class SymbolAccount:
    """One symbol's plausible price and contract (None: the venue lists none), with the account."""

    price: Decimal
    contract: Contract | None
    account: AccountState


class AccountReader:
    """Reads the risk inputs from the exchange and builds them with what the store remembers."""

    def __init__(self, settings: Settings, store: Store, clock: Clock, exchange: Exchange) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.exchange = exchange

    async def price(self, symbol: str) -> Decimal:
        """A price that passed the plausibility check under the current (reloadable) ``risk`` settings;
        raises ``ImplausiblePrice`` or ``ExchangeError``."""
        return await plausible_price(self.exchange, symbol, self.clock, PriceRule.of(self.settings))

    async def holdings(self) -> Holdings:
        """The balance, then the positions; raises ``AccountUnreadable`` at the first that fails."""
        try:
            balance = await self.exchange.balance()
        except ExchangeError as exc:
            raise AccountUnreadable("balance", exc) from exc
        try:
            positions = await self.exchange.positions()
        except ExchangeError as exc:
            raise AccountUnreadable("positions", exc, balance) from exc
        return Holdings(balance, tuple(positions))

    def account(
        self,
        holdings: Holdings | None,
        engine_state: EngineState,
        *,
        contracts: Mapping[str, Contract] | None = None,
        prices: Mapping[str, Decimal] | None = None,
    ) -> AccountState:
        """The risk inputs now; ``holdings=None`` (unreadable) gives an account with no balance."""
        return snapshot_account(
            self.store,
            self.settings,
            self.clock.now(),
            holdings.balance if holdings is not None else None,
            holdings.positions if holdings is not None else (),
            engine_state,
            contracts=contracts,
            prices=prices,
        )

    async def for_symbol(self, symbol: str, engine_state: EngineState) -> SymbolAccount:
        """Price, contract and account for one entry, in that order; the first failure raises."""
        price = await self.price(symbol)
        contract = (await self.exchange.contracts([symbol])).get(symbol)
        holdings = await self.holdings()
        account = self.account(
            holdings,
            engine_state,
            contracts={symbol: contract} if contract else None,
            prices={symbol: price},
        )
        return SymbolAccount(price, contract, account)


def snapshot_account(
    store: Store,
    settings: Settings,
    now: datetime,
    balance: Balance | None,
    positions: Sequence[ExchangePosition],
    engine_state: EngineState,
    *,
    contracts: Mapping[str, Contract] | None = None,
    prices: Mapping[str, Decimal] | None = None,
) -> AccountState:
    """The risk inputs from what the exchange just said (``balance=None``: it could not be read) and what
    the store remembers (peak and opening equity, stop-loss times, entries in flight)."""
    return _account(
        store,
        settings,
        now,
        None if balance is None else _Funds(balance.available, balance.equity, balance.balance),
        [OpenExposure(p.symbol, p.side, p.margin) for p in positions if p.size > 0],
        engine_state,
        contracts=contracts,
        prices=prices,
    )


def stored_account(
    store: Store, settings: Settings, now: datetime, engine_state: EngineState
) -> AccountState:
    """The risk inputs as the last monitor tick recorded them (its account snapshot, the open positions),
    for a reader that must not call the exchange (the limits publisher)."""
    latest = store.account.latest()
    return _account(
        store,
        settings,
        now,
        None if latest is None else _Funds(latest.available, latest.equity, latest.balance),
        [OpenExposure(p.symbol, p.side, p.margin) for p in store.positions.open_positions() if p.size > 0],
        engine_state,
    )


class _Funds(NamedTuple):
    available: Decimal
    equity: Decimal
    balance: Decimal


def _account(
    store: Store,
    settings: Settings,
    now: datetime,
    funds: _Funds | None,
    exposures: list[OpenExposure],
    engine_state: EngineState,
    *,
    contracts: Mapping[str, Contract] | None = None,
    prices: Mapping[str, Decimal] | None = None,
) -> AccountState:
    """``funds`` None: no balance was read, and nothing is proposed on this account."""
    equity = funds.equity if funds is not None else None
    refs = loss_references(store, settings, now)
    peaks = [v for v in (equity, refs.peak_equity) if v is not None]
    held = {(e.symbol, e.side) for e in exposures}
    for prop in store.proposals.in_state(*IN_FLIGHT):
        if (prop.symbol, prop.side) not in held:
            exposures.append(OpenExposure(prop.symbol, prop.side, prop.margin))
    comp_balance = funds.balance if funds is not None else settings.competition.starting_balance
    return AccountState(
        available=funds.available if funds is not None else None,
        equity=equity,
        peak_equity=max(peaks) if peaks else None,
        opening_equity=refs.opening_equity,
        open_positions=tuple(exposures),
        last_stop_loss=gate_stop_losses(store),  # less the cooldowns an operator cleared
        engine_state=engine_state,
        competition=competition_status(settings, now, comp_balance),
        contracts=dict(contracts or {}),
        prices=dict(prices or {}),
    )
