"""The account as the risk gates see it: balances, equity references and the exposures that count.

Its own module so that the gates (``risk``) and the loss measures they apply (``loss_limits``) both
build on it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from smt_engine.competition import CompetitionStatus
from smt_engine.domain import Contract, EngineState, Side


@dataclass(frozen=True, slots=True)
class OpenExposure:
    """A position (or an entry in flight) that counts against the limits."""

    symbol: str
    side: Side
    margin: Decimal


@dataclass(frozen=True, slots=True)
class AccountState:
    """Everything account-wide the gates look at, read from the exchange and the store at one moment.

    ``available`` is the exchange's available balance; ``None`` means it could not be read, and then
    nothing is proposed (never a made-up balance). ``contracts``/``prices`` may carry per-symbol inputs
    so an approval can be re-checked with nothing else at hand.
    """

    available: Decimal | None
    equity: Decimal | None
    peak_equity: Decimal | None
    opening_equity: Decimal | None
    """Equity when the loss day began, or at the last resume (``kill_switch.loss_references``)."""
    open_positions: tuple[OpenExposure, ...]
    last_stop_loss: Mapping[str, datetime]
    engine_state: EngineState
    competition: CompetitionStatus
    contracts: Mapping[str, Contract] = field(default_factory=dict)
    prices: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def open_margin(self) -> Decimal:
        return sum((p.margin for p in self.open_positions), Decimal(0))

    def with_exposure(self, extra: OpenExposure) -> AccountState:
        """The same account with one more position counted (entries chosen earlier in a cycle)."""
        return AccountState(
            available=self.available,
            equity=self.equity,
            peak_equity=self.peak_equity,
            opening_equity=self.opening_equity,
            open_positions=(*self.open_positions, extra),
            last_stop_loss=self.last_stop_loss,
            engine_state=self.engine_state,
            competition=self.competition,
            contracts=self.contracts,
            prices=self.prices,
        )
