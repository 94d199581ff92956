"""The position guard: every open position has a stop-loss resting, and none is held past max hold.

A missing stop is re-placed on the venue's tick (rounded toward the entry: never more risk than
planned); a precision refusal reloads the venue's precision and re-sends the corrected stop once; a
stop that cannot be placed closes the position at market, unless the refusal may rest on a glitch of our
price feed (the price is implausible while the independent reference still has the stop on its valid
side: then the guard tries again next tick, with a WARNING). A position held as long as the phase's max
hold is force-closed.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from smt_engine.clock import Clock
from smt_engine.competition import competition_status
from smt_engine.config import Settings
from smt_engine.domain import CloseReason, EventLevel, OrderKind, PositionState
from smt_engine.exchange.base import AlgoOrder, Exchange, ExchangeError
from smt_engine.exchange.market.plausibility import (
    ImplausiblePrice,
    PriceRule,
    number_problem,
    plausible_price,
)
from smt_engine.exchange.precision import PrecisionError, plain, round_stop
from smt_engine.store import Store
from smt_engine.store.records import Position
from smt_engine.trading.execution import Executor
from smt_engine.trading.tick_report import TickReport

log = logging.getLogger(__name__)


class PositionGuard:
    def __init__(
        self, settings: Settings, store: Store, clock: Clock, exchange: Exchange, executor: Executor
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.exchange = exchange
        self.executor = executor

    async def ensure_stop(self, pos: Position, algos: list[AlgoOrder], report: TickReport) -> None:
        assert pos.id is not None
        has_sl = any(
            a.kind == "sl" and a.symbol == pos.symbol and a.position_side is pos.side and a.status.is_open
            for a in algos
        )
        if has_sl:
            return
        wanted = pos.sl_price or self.default_stop(pos)
        price = await self._on_tick(pos, wanted, refresh=False)
        placed_id: str | None = None
        for corrected in (False, True):
            attempt = sum(1 for o in self.store.orders.for_position(pos.id) if o.kind is OrderKind.SL) + 1
            try:
                placed_id = await self.executor.protection.place_leg(
                    pos,
                    "sl",
                    price,
                    leg=f"msl{attempt}",
                    request={"reason": "stop-loss missing on the exchange"},
                    raise_precision=not corrected,
                )
                break
            except PrecisionError as exc:
                # The venue's precision differs from ours: reload it and send the corrected stop once.
                price = await self._on_tick(pos, wanted, refresh=True)
                self.store.events.append(
                    self.clock.now(),
                    EventLevel.WARNING,
                    "protection.sl_corrected",
                    f"{pos.symbol} {pos.side.value}: stop refused for precision ({exc}); "
                    f"re-sending once at {plain(price)}",
                    proposal_id=pos.proposal_id,
                    position_id=pos.id,
                )
        if placed_id is None and await self._refusal_may_rest_on_a_glitch(pos, price):
            # A pushed price 10x low makes a good stop look wrong-sided: closing at market on it would
            # sell a healthy position. Try again on the next tick, loudly.
            log.warning(
                "%s %s has no stop-loss, and re-placing it failed while its price is implausible: "
                "not closing on a price that cannot be trusted; trying again next tick",
                pos.symbol,
                pos.side,
                extra={"event": "protection.deferred", "position_id": pos.id},
            )
            return
        if placed_id is None:
            log.error(
                "%s %s has no stop-loss and re-placing it failed: closing at market",
                pos.symbol,
                pos.side,
                extra={"event": "position.unprotected", "position_id": pos.id},
            )
            await self._close(pos, CloseReason.UNPROTECTED)
            return
        self.store.positions.update(
            pos.id, sl_order_id=placed_id, sl_price=price, updated_at=self.clock.now()
        )
        report.stops_placed.append(pos.id)
        log.warning(
            "%s %s had no stop-loss resting: placed one at %s",
            pos.symbol,
            pos.side,
            price,
            extra={"event": "position.stop_replaced", "position_id": pos.id},
        )

    async def _refusal_may_rest_on_a_glitch(self, pos: Position, stop: Decimal) -> bool:
        """Whether the refusal of ``stop`` may rest on a glitch of our own price feed: the position's price
        is implausible while the independent reference the check read (the venue's REST 1-minute bar)
        still has the stop on its valid side. A stop the market has gone through by that reference cannot
        rest at any price the venue would accept, so waiting would hold the position past its stop for as
        long as the feed stays bad; with no reference, or a price that cannot be read at all, nothing says
        the refusal is a glitch. In those cases the position is closed at market, as it always was."""
        try:
            await plausible_price(self.exchange, pos.symbol, self.clock, PriceRule.of(self.settings))
        except ImplausiblePrice as exc:
            ref = exc.reference
            return ref is not None and number_problem(ref) is None and (ref - stop) * pos.side.sign > 0
        except ExchangeError:
            return False
        return False

    def default_stop(self, pos: Position) -> Decimal:
        """The phase's default stop distance from the entry, for a position that came without one."""
        status = competition_status(
            self.settings, self.clock.now(), self.settings.competition.starting_balance
        )
        distance = pos.entry_price * status.default_sl_pct / 100
        return pos.entry_price - distance * pos.side.sign

    async def enforce_max_hold(self, positions: list[Position], report: TickReport) -> None:
        latest = self.store.account.latest()
        balance = latest.balance if latest else self.settings.competition.starting_balance
        max_hold = competition_status(self.settings, self.clock.now(), balance).max_hold
        for pos in positions:
            if pos.state is PositionState.OPEN and self.clock.now() - pos.opened_at >= max_hold:
                log.warning(
                    "%s %s held %.1f h >= max hold %.1f h: force-closing",
                    pos.symbol,
                    pos.side,
                    (self.clock.now() - pos.opened_at).total_seconds() / 3600,
                    max_hold.total_seconds() / 3600,
                    extra={"event": "position.max_hold", "position_id": pos.id},
                )
                if await self._close(pos, CloseReason.FORCED):
                    report.forced.append(pos.id or 0)

    async def _on_tick(self, pos: Position, price: Decimal, *, refresh: bool) -> Decimal:
        """``price`` on the venue's tick (toward the entry: never more risk than planned)."""
        loaded = None if refresh else self.store.contracts.load(pos.symbol)
        contract = loaded[0] if loaded else None
        if contract is None:
            try:
                fetched = (await self.exchange.contracts([pos.symbol])).get(pos.symbol)
            except ExchangeError as exc:
                log.warning("%s: contract precision unreadable: %s", pos.symbol, exc)
                fetched = None
            if fetched is not None:
                self.store.contracts.save(fetched, self.clock.now())
                contract = fetched
        return round_stop(price, contract.tick_size, pos.side) if contract is not None else price

    async def _close(self, pos: Position, reason: CloseReason) -> bool:
        """Close at market (triggers cancelled first); True when the close was sent."""
        result = await self.executor.closer.close_position(pos, reason, actor="monitor")
        return result.state is not PositionState.OPEN


__all__ = ["PositionGuard"]
