"""The monitor: one reconciliation tick with the exchange, the source of truth; the store is our memory of it.

One ``tick`` (start-up and every ``monitor_interval``):

1. read positions, open orders and open TP/SL orders (together: one round trip); any read failure
   aborts the tick (an API error is never "closed"). A TP/SL fill the private
   stream pushed closes its position as soon as the position list confirms it is gone, from what the
   push says, and its sibling is cancelled at once, or with the reads when the venue also pushed the
   side flat (``pushed_closes``);
2. adopt positions the store does not know (opened-at from the exchange, so max hold survives
   restarts); update the ones it knows (``reconcile``);
3. close out stored positions the exchange no longer has, with the reason (take-profit, stop-loss,
   liquidation, manual, forced) and closing order id read from order history, and realised PnL
   from the fills; queue an AI log for every close (``reconcile``);
4. cancel TP/SL orders that protect nothing (WEEX leaves them behind) and flag unknown regular orders
   (``orphans``);
4b. finish every order and proposal left in flight (``inflight``);
5. make sure every position the exchange reports has a stop-loss resting on it, re-placing it on the
   venue's tick (corrected and re-sent once when the venue refuses its precision) or closing at market
   when that fails (``position_guard``); a stored position the exchange no longer has, whose close is
   not yet explained, is left alone;
6. force-close positions held longer than the phase's max hold (``position_guard``);
7. snapshot the account for the equity curve and run the kill switch on it.

The start-up tick first loads every traded contract's precision from the venue into the store, so a
re-placed stop is on the venue's tick in every mode.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Protocol

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import EventLevel, HealthStatus
from smt_engine.exchange.base import (
    AlgoOrder,
    Balance,
    Exchange,
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
)
from smt_engine.health import report_health
from smt_engine.store import Store
from smt_engine.store.records import AccountSnapshot, Position
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.execution import Executor
from smt_engine.trading.inflight import InFlightTracker
from smt_engine.trading.kill_switch import KillSwitch
from smt_engine.trading.orphans import OrphanSweep
from smt_engine.trading.position_guard import PositionGuard
from smt_engine.trading.pushed import PushedFills, PushedLegFill
from smt_engine.trading.pushed_closes import PushedCloses
from smt_engine.trading.reconcile import PositionReconciler
from smt_engine.trading.risk import ReasonCode
from smt_engine.trading.settle import settle_orders
from smt_engine.trading.tick_report import TickReport

log = logging.getLogger(__name__)

RECONCILE = "exchange.reconcile"


class HaltHandler(Protocol):
    def __call__(self, reason: str, code: ReasonCode) -> None: ...


class Monitor:
    """Runs reconciliation ticks; the engine serialises ticks with commands under one lock."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        exchange: Exchange,
        executor: Executor,
        ailog: AiLogOutbox | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.exchange = exchange
        self.reconciler = PositionReconciler(
            store, clock, exchange, ailog, unexplained_wait=settings.trading.order_visibility
        )
        self.settler = PushedCloses(store, clock, exchange, self.reconciler)
        self.orphans = OrphanSweep(store, clock, exchange)
        self.guard = PositionGuard(settings, store, clock, exchange, executor)
        self.inflight = InFlightTracker(settings, store, clock, executor)
        self.kill_switch = KillSwitch(settings, store, clock)
        self.on_halt: HaltHandler | None = None
        """Called when the kill switch trips (the engine halts); None runs the tick without halting."""
        self.pushed: PushedFills | None = None
        """TP/SL fills the private stream pushed (the engine wires it when a stream runs)."""
        self.recheck_soon = False
        """The last tick stopped after a sibling went on the pushed word alone, its close unconfirmed:
        the engine runs the next tick at the stream-down period instead of a whole poll later."""

    async def tick(self, *, startup: bool = False) -> TickReport:
        report = TickReport()
        pushed = self.pushed.take() if self.pushed is not None else []
        try:
            if startup:
                await self._load_contracts()
            ex_positions, algos, regular = await self._read(pushed, report)
        except ExchangeError as exc:
            report.ok, report.error = False, f"{type(exc).__name__}: {exc}"
            log.warning(
                "monitor: exchange read failed, the rest of the tick skipped: %s",
                report.error,
                extra={"event": "monitor.read_failed"},
            )
            report_health(self.store, self.clock, RECONCILE, HealthStatus.DOWN, report.error)
            return report

        live = {(p.symbol, p.side): p for p in ex_positions if p.size > 0}
        stored = {(p.symbol, p.side): p for p in self.store.positions.open_positions()}

        for key, ex in live.items():
            if key in stored:
                self.reconciler.refresh(stored[key], ex, algos)
            else:
                stored[key] = self.reconciler.adopt(ex, algos)
                report.adopted.append(stored[key].id or 0)

        for key, pos in list(stored.items()):
            if key not in live:
                reason = await self.reconciler.close_out(pos)
                if reason is not None:
                    report.closed.append((pos.id or 0, reason))
                    del stored[key]
                    resting = {a.order_id for a in algos} | {o.order_id for o in regular}
                    settle_orders(self.store, self.clock.now(), pos.id or 0, resting)

        resting = {a.order_id for a in algos if a.status.is_open} | {o.order_id for o in regular}
        # A position the books still hold (listed, or missing with nothing yet to explain it) keeps its
        # orders: the tracker and the sweep leave them, so one empty answer strips no stop.
        report.inflight = await self.inflight.resolve(resting, set(stored), algos)
        gone = set(report.inflight.cancelled)
        algos = [a for a in algos if a.order_id not in gone]  # the sweep and the guard see the venue now
        unresolved = len(report.inflight.unresolved)
        report_health(
            self.store,
            self.clock,
            RECONCILE,
            HealthStatus.OK,
            f"{len(live)} position(s), {unresolved} order(s) still being resolved",
            {"positions": len(live), "unresolved_orders": unresolved},
        )
        await self.orphans.sweep(set(stored), algos, regular, report, cancel=not startup)
        # The guard acts only on positions the venue reports: one whose close is not yet explained is
        # gone there, and a stop or a market close sent for it could only fail or hit a newer position.
        held = [stored[key] for key in stored if key in live]
        for i, pos in enumerate(held):
            refreshed = self.reconciler.reopen_if_close_ended(pos)
            if refreshed is not None:
                held[i] = refreshed
        for pos in held:
            await self.guard.ensure_stop(pos, algos, report)
        await self.guard.enforce_max_hold(held, report)
        balance = await self._snapshot()
        if balance is not None:
            breach = self.kill_switch.check(balance.equity)
            if breach is not None:
                report.halted = breach.code
                if self.on_halt is not None:
                    self.on_halt(breach.reason, breach.code)
        return report

    async def _read(
        self, pushed: list[PushedLegFill], report: TickReport
    ) -> tuple[list[ExchangePosition], list[AlgoOrder], list[ExchangeOrder]]:
        """Positions, open TP/SL and open orders, issued together: one round trip instead of three.

        A close the stream pushed is settled as soon as the position list confirms it. Its sibling's
        cancel goes out with the reads when the venue has also pushed the side flat, else as soon as
        the list confirms the close, while the other two reads are still on their way: done one round
        trip after the push, or two (docs/benchmarks.md, "At internet distance"). When the list still
        holds a position whose sibling went on the pushed word, it is read once more (a list a moment
        behind its push is no contradiction); a tick that cannot finish after such a cancel asks for the
        next one soon (``recheck_soon``).
        """
        early = self.settler.early(pushed, self.pushed) if self.pushed is not None else []
        cancelling_early = asyncio.ensure_future(self.settler.cancel_siblings(early))
        others = asyncio.ensure_future(
            asyncio.gather(self.exchange.open_algo_orders(), self.exchange.open_orders())
        )
        cancelling: asyncio.Future[set[str]] | None = None
        booked: set[int | None] = set()
        try:
            ex_positions = await self.exchange.positions()
            settled = self.settler.settle(pushed, ex_positions)
            report.closed.extend((pos.id or 0, reason) for pos, reason, _ in settled)
            booked = {pos.id for pos, _, _ in settled}
            started = {pos.id for pos, _ in early}
            late = [(pos, fill) for pos, _, fill in settled if pos.id not in started]
            cancelling = asyncio.ensure_future(self.settler.cancel_siblings(late))
            doubted = [fill for pos, fill in early if pos.id not in booked]
            if doubted:
                ex_positions = await self.exchange.positions()
                again = self.settler.settle(doubted, ex_positions)
                report.closed.extend((pos.id or 0, reason) for pos, reason, _ in again)
                booked |= {pos.id for pos, _, _ in again}
                settled += again
            algos, regular = await others
        except BaseException:
            others.cancel()
            waiting: list[asyncio.Future[Any]] = [others, cancelling_early]
            if cancelling is not None:
                waiting.append(cancelling)
            await asyncio.gather(*waiting, return_exceptions=True)
            # A sibling may have gone on the pushed word alone: look again soon, not a whole poll later.
            self.recheck_soon = any(pos.id not in booked for pos, _ in early)
            if self.pushed is not None:
                self.pushed.restore(pushed)  # unchecked: the next tick looks at them again
            raise
        self.recheck_soon = False
        for pos, fill in early:
            if pos.id not in booked:
                self._contradicted(pos, fill)
        cancelled = await cancelling | await cancelling_early
        algos = [a for a in algos if a.order_id not in cancelled]
        resting = {a.order_id for a in algos} | {o.order_id for o in regular}
        for pos, _, _ in settled:
            settle_orders(self.store, self.clock.now(), pos.id or 0, resting)
        return ex_positions, algos, regular

    def _contradicted(self, pos: Position, fill: PushedLegFill) -> None:
        """The venue pushed the fill and the side flat, but its list, read twice, still holds the
        position: its siblings were cancelled on that word, so the guard re-places the stop in this
        tick (every read of it succeeded)."""
        self.store.events.append(
            self.clock.now(),
            EventLevel.WARNING,
            "push.contradicted",
            f"{pos.symbol} {pos.side.value}: the stream pushed leg {fill.order_id} filled and the side flat, "
            f"but the venue still lists position #{pos.id} after a second look; nothing booked, its other "
            "legs were cancelled and the stop guard re-places its stop now",
            data={"position_id": pos.id, "order_id": fill.order_id},
        )

    async def _load_contracts(self) -> None:
        """Every contract the venue lists, read from the venue itself (never a cached copy, which a
        restart inside its lifetime would otherwise re-stamp as new), into the store (all modes). All of
        them, not only the traded pairs: a position adopted at start-up in a symbol no longer configured
        and unknown to the books gets its stop on today's tick, not on a row of any age."""
        now = self.clock.now()
        for contract in (await self.exchange.contracts(None)).values():
            self.store.contracts.save(contract, now)

    async def _snapshot(self) -> Balance | None:
        try:
            bal = await self.exchange.balance()
        except ExchangeError as exc:
            log.debug("no equity snapshot this tick: %s", exc)
            return None
        record_equity(self.store, self.clock.now(), bal)
        return bal


def record_equity(store: Store, at: datetime, balance: Balance) -> AccountSnapshot:
    """One point of the equity curve (the console's sparkline, drawdown and the daily loss limit)."""
    return store.account.insert(
        AccountSnapshot(
            at=at,
            balance=balance.balance,
            equity=balance.equity,
            available=balance.available,
            unrealized_pnl=balance.unrealized_pnl,
            margin_used=balance.balance - balance.available,
        )
    )
