"""Reconciliation with the exchange: the exchange is the source of truth, the store our memory of it.

One ``tick`` (start-up and every ``monitor_interval``):

1. read positions, open orders and open TP/SL orders; any read failure aborts the tick and
   changes nothing (an API error is never "closed");
2. adopt positions the store does not know (opened-at from the exchange, so max hold survives
   restarts); update the ones it knows;
3. close out stored positions the exchange no longer has, with the reason (take-profit, stop-loss,
   liquidation, manual, forced) and closing order id read from order history, and realised PnL
   from the fills; queue an AI log for every close;
4. cancel TP/SL orders that protect nothing (WEEX leaves them behind) and flag unknown regular orders;
4b. finish every order and proposal left in flight (``InFlightTracker``);
5. make sure every position has a stop-loss resting on the exchange, re-placing it on the venue's tick
   (corrected and re-sent once when the venue refuses its precision) or closing at market when that fails;
6. force-close positions held longer than the phase's max hold;
7. snapshot the account for the equity curve and run the kill switch on it.

The start-up tick first loads every traded contract's precision from the venue into the store, so a
re-placed stop is on the venue's tick in every mode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from smt_engine.clock import Clock
from smt_engine.competition import competition_status
from smt_engine.config import Settings
from smt_engine.domain import (
    CloseReason,
    EventLevel,
    HealthStatus,
    OrderKind,
    OrderState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.exchange.base import (
    AlgoOrder,
    Balance,
    Exchange,
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
    OrderStatus,
)
from smt_engine.exchange.precision import PrecisionError, plain, round_stop
from smt_engine.health import report_health
from smt_engine.store import Store
from smt_engine.store.records import AccountSnapshot, Order, Position
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.execution import Executor
from smt_engine.trading.inflight import InFlightReport, InFlightTracker
from smt_engine.trading.kill_switch import KillSwitch
from smt_engine.trading.orders import advance_order, move_position, open_position
from smt_engine.trading.proposals import transition
from smt_engine.trading.risk import ReasonCode
from smt_engine.trading.settle import settle_orders

log = logging.getLogger(__name__)

RECONCILE = "exchange.reconcile"


@dataclass
class TickReport:
    ok: bool = True
    error: str | None = None
    adopted: list[int] = field(default_factory=list)
    closed: list[tuple[int, CloseReason]] = field(default_factory=list)
    orphans_cancelled: list[str] = field(default_factory=list)
    orphans_flagged: list[str] = field(default_factory=list)
    stops_placed: list[int] = field(default_factory=list)
    forced: list[int] = field(default_factory=list)
    inflight: InFlightReport = field(default_factory=InFlightReport)
    halted: ReasonCode | None = None


class HaltHandler(Protocol):
    def __call__(self, reason: str, code: ReasonCode) -> None: ...


def _key(symbol: str, side: Side) -> tuple[str, Side]:
    return symbol, side


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
        self.executor = executor
        self.ailog = ailog
        self.inflight = InFlightTracker(settings, store, clock, executor)
        self.kill_switch = KillSwitch(settings, store, clock)
        self.on_halt: HaltHandler | None = None
        """Called when the kill switch trips (the engine halts); None runs the tick without halting."""

    # ------------------------------------------------------------------ the tick

    async def tick(self, *, startup: bool = False) -> TickReport:
        report = TickReport()
        try:
            if startup:
                await self._load_contracts()
            ex_positions = await self.exchange.positions()
            algos = await self.exchange.open_algo_orders()
            regular = await self.exchange.open_orders()
        except ExchangeError as exc:
            report.ok, report.error = False, f"{type(exc).__name__}: {exc}"
            log.warning(
                "monitor: exchange read failed, nothing changed: %s",
                report.error,
                extra={"event": "monitor.read_failed"},
            )
            report_health(self.store, self.clock, RECONCILE, HealthStatus.DOWN, report.error)
            return report

        live = {_key(p.symbol, p.side): p for p in ex_positions if p.size > 0}
        stored = {_key(p.symbol, p.side): p for p in self.store.positions.open_positions()}

        for key, ex in live.items():
            if key in stored:
                self._refresh(stored[key], ex, algos)
            else:
                stored[key] = self._adopt(ex, algos)
                report.adopted.append(stored[key].id or 0)

        for key, pos in list(stored.items()):
            if key not in live:
                reason = await self._close_out(pos)
                if reason is not None:
                    report.closed.append((pos.id or 0, reason))
                    del stored[key]
                    resting = {a.order_id for a in algos} | {o.order_id for o in regular}
                    settle_orders(self.store, self.clock.now(), pos.id or 0, resting)

        resting = {a.order_id for a in algos if a.status.is_open} | {o.order_id for o in regular}
        report.inflight = await self.inflight.resolve(resting)
        unresolved = len(report.inflight.unresolved)
        report_health(
            self.store,
            self.clock,
            RECONCILE,
            HealthStatus.OK,
            f"{len(live)} position(s), {unresolved} order(s) still being resolved",
            {"positions": len(live), "unresolved_orders": unresolved},
        )
        await self._orphans(live, algos, regular, report, cancel=not startup)
        for key in list(stored):
            refreshed = self._reopen_if_close_ended(stored[key])
            if refreshed is not None:
                stored[key] = refreshed
        for pos in stored.values():
            await self._ensure_stop(pos, algos, report)
        await self._enforce_max_hold(list(stored.values()), report)
        balance = await self._snapshot()
        if balance is not None:
            breach = self.kill_switch.check(balance.equity)
            if breach is not None:
                report.halted = breach.code
                if self.on_halt is not None:
                    self.on_halt(breach.reason, breach.code)
        return report

    def _reopen_if_close_ended(self, pos: Position) -> Position | None:
        """A ``closing`` position whose close orders all ended unfilled is open again (the venue still has
        it), so max hold and operator closes apply to it once more."""
        current = self.store.positions.get(pos.id or 0)
        if current is None or current.state is not PositionState.CLOSING:
            return current
        closes = [o for o in self.store.orders.for_position(current.id or 0) if o.kind is OrderKind.CLOSE]
        if not closes or not all(o.state.is_terminal and o.state is not OrderState.FILLED for o in closes):
            return current
        return move_position(
            self.store,
            current.id or 0,
            PositionState.OPEN,
            actor="monitor",
            message=f"{current.symbol} {current.side.value}: close order {closes[-1].client_order_id} ended "
            f"{closes[-1].state.value}; the position is still open",
            at=self.clock.now(),
            level=EventLevel.WARNING,
        )

    async def _load_contracts(self) -> None:
        """Every traded symbol's precision, from the venue, into the store (all modes)."""
        symbols = [p.symbol for p in self.settings.pairs.all()]
        symbols += [p.symbol for p in self.store.positions.open_positions() if p.symbol not in symbols]
        now = self.clock.now()
        for contract in (await self.exchange.contracts(symbols)).values():
            self.store.contracts.save(contract, now)

    # ------------------------------------------------------------------ positions

    def _refresh(self, pos: Position, ex: ExchangePosition, algos: list[AlgoOrder]) -> None:
        assert pos.id is not None
        tp, sl = _protection(ex, algos)
        fields: dict[str, Any] = {
            "size": ex.size,
            "unrealized_pnl": ex.unrealized_pnl,
            "updated_at": self.clock.now(),
        }
        if ex.size:
            fields["mark_price"] = ex.entry_price + ex.unrealized_pnl / ex.size * ex.side.sign
        if tp is not None:
            fields.update(tp_order_id=tp.order_id, tp_price=tp.trigger_price)
        if sl is not None:
            fields.update(sl_order_id=sl.order_id, sl_price=sl.trigger_price)
        self.store.positions.update(pos.id, **fields)
        for name, value in fields.items():
            setattr(pos, name, value)

    def _adopt(self, ex: ExchangePosition, algos: list[AlgoOrder]) -> Position:
        tp, sl = _protection(ex, algos)
        now = self.clock.now()
        pos = open_position(
            self.store,
            Position(
                symbol=ex.symbol,
                side=ex.side,
                size=ex.size,
                entry_price=ex.entry_price,
                opened_at=ex.opened_at,
                state=PositionState.OPEN,
                leverage=int(ex.leverage),
                margin=ex.margin,
                updated_at=now,
                unrealized_pnl=ex.unrealized_pnl,
                tp_price=tp.trigger_price if tp else None,
                sl_price=sl.trigger_price if sl else None,
                tp_order_id=tp.order_id if tp else None,
                sl_order_id=sl.order_id if sl else None,
                adopted=True,
            ),
            actor="monitor",
            message=f"{ex.symbol} {ex.side.value} {plain(ex.size)} @ {plain(ex.entry_price)} "
            "adopted from the venue (unknown to the store)",
            at=now,
            level=EventLevel.WARNING,
        )
        log.warning(
            "adopted %s %s %s opened %s (unknown to the store)",
            ex.symbol,
            ex.side,
            ex.size,
            ex.opened_at.isoformat(),
            extra={"event": "position.adopted", "position_id": pos.id},
        )
        return pos

    async def _close_out(self, pos: Position) -> CloseReason | None:
        """The exchange no longer has ``pos``: find how it closed. A failed lookup defers to the next tick."""
        assert pos.id is not None
        try:
            history = await self.exchange.order_history(pos.symbol, since=pos.opened_at)
            fills = await self.exchange.fills(pos.symbol, since=pos.opened_at)
        except ExchangeError as exc:
            log.warning(
                "close of %s %s not yet explained (%s); retrying next tick", pos.symbol, pos.side, exc
            )
            return None
        closing = _closing_order(history, pos)
        reason = self._reason(closing, pos)
        order_ids = {closing.order_id} if closing else set()
        close_fills = [
            f for f in fills if f.position_side is pos.side and f.at >= pos.opened_at and f.realized_pnl
        ]
        if closing is not None:
            own = [f for f in close_fills if f.order_id in order_ids]
            close_fills = own or close_fills
        realized = (
            sum((f.realized_pnl - abs(f.fee) for f in close_fills), Decimal(0)) if close_fills else None
        )
        exit_price = (closing.avg_price if closing else None) or (
            close_fills[-1].price if close_fills else None
        )
        now = self.clock.now()
        move_position(
            self.store,
            pos.id,
            PositionState.CLOSED,
            actor="monitor",
            message=f"{pos.symbol} {pos.side.value} closed: {reason.value}, order "
            f"{closing.order_id if closing else '?'}, realised PnL {realized} USDT",
            at=now,
            data={"close_order_id": closing.order_id if closing else None, "reason": reason.value},
            close_reason=reason,
            close_order_id=closing.order_id if closing else None,
            closed_at=closing.updated_at if closing else now,
            exit_price=exit_price,
            realized_pnl=realized,
            size=Decimal(0),
            unrealized_pnl=Decimal(0),
        )
        log.info(
            "%s %s closed at the venue: %s, realised PnL %s USDT", pos.symbol, pos.side, reason, realized
        )
        if pos.proposal_id is not None:
            self._close_proposal(pos.proposal_id, reason)
        if self.ailog is not None:
            held = (now - pos.opened_at).total_seconds() / 3600
            self.ailog.close(
                closing.order_id if closing else None,
                {"symbol": pos.symbol, "side": pos.side.value, "entry_price": str(pos.entry_price)},
                {
                    "reason": reason.value,
                    "exit_price": str(exit_price) if exit_price else None,
                    "realized_pnl_usdt": str(realized) if realized is not None else None,
                    "hours_held": round(held, 2),
                },
                f"{pos.side.value} {pos.symbol} closed by {reason.value} after {held:.1f} h"
                + (f"; realised PnL {realized} USDT" if realized is not None else ""),
            )
        return reason

    def _reason(self, closing: ExchangeOrder | None, pos: Position) -> CloseReason:
        if closing is None:
            return CloseReason.UNKNOWN
        if closing.order_type.upper() == "LIQUIDATION":
            return CloseReason.LIQUIDATION
        if closing.kind == "tp":
            return CloseReason.TAKE_PROFIT
        if closing.kind == "sl":
            return CloseReason.STOP_LOSS
        ours = self.store.orders.by_client_id(closing.client_order_id) if closing.client_order_id else None
        if ours is not None and ours.kind is OrderKind.CLOSE:
            reason = (ours.request or {}).get("reason")
            return CloseReason(reason) if reason in {r.value for r in CloseReason} else CloseReason.MANUAL
        return CloseReason.MANUAL

    def _close_proposal(self, proposal_id: int, reason: CloseReason) -> None:
        proposal = self.store.proposals.get(proposal_id)
        if proposal is not None and proposal.state is ProposalState.OPEN:
            transition(
                self.store,
                proposal_id,
                ProposalState.CLOSED,
                actor="monitor",
                reason=f"position closed at the venue ({reason.value})",
                at=self.clock.now(),
            )

    # ------------------------------------------------------------------ orders

    async def _orphans(
        self,
        live: dict[tuple[str, Side], ExchangePosition],
        algos: list[AlgoOrder],
        regular: list[ExchangeOrder],
        report: TickReport,
        *,
        cancel: bool,
    ) -> None:
        for algo in algos:
            if _key(algo.symbol, algo.position_side) in live or not algo.status.is_open:
                continue
            if not cancel:
                self._flag_orphan(
                    algo.order_id, algo.symbol, algo.position_side, algo.kind, algo.size, algo.trigger_price
                )
                report.orphans_flagged.append(algo.order_id)
                continue
            try:
                await self.exchange.cancel_algo_order(algo.symbol, algo.order_id)
            except ExchangeError as exc:
                log.warning("could not cancel orphan %s %s: %s", algo.symbol, algo.order_id, exc)
                self._flag_orphan(
                    algo.order_id, algo.symbol, algo.position_side, algo.kind, algo.size, algo.trigger_price
                )
                continue
            self._mark_cancelled(algo.order_id)
            report.orphans_cancelled.append(algo.order_id)
            log.info(
                "cancelled orphan %s order %s on %s (no %s position)",
                algo.kind,
                algo.order_id,
                algo.symbol,
                algo.position_side,
                extra={"event": "order.orphan_cancelled"},
            )
        for order in regular:
            known = self.store.orders.by_exchange_id(order.order_id)
            if known is None and order.client_order_id:
                known = self.store.orders.by_client_id(order.client_order_id)
            if known is None:
                self._flag_orphan(order.order_id, order.symbol, order.position_side, "close", order.size)
                report.orphans_flagged.append(order.order_id)

    def _flag_orphan(
        self,
        order_id: str,
        symbol: str,
        side: Side,
        kind: str,
        size: Decimal,
        trigger_price: Decimal | None = None,
    ) -> None:
        existing = self.store.orders.by_exchange_id(order_id)
        now = self.clock.now()
        if existing is not None:
            if not existing.orphan:
                assert existing.id is not None
                self.store.orders.update(existing.id, orphan=True, updated_at=now)
            return
        order_kind = {"tp": OrderKind.TP, "sl": OrderKind.SL}.get(kind, OrderKind.CLOSE)
        self.store.orders.insert(
            Order(
                client_order_id=f"exchange:{order_id}",
                exchange_order_id=order_id,
                symbol=symbol,
                side=side,
                kind=order_kind,
                size=size,
                trigger_price=trigger_price,
                state=OrderState.SUBMITTED,
                created_at=now,
                updated_at=now,
                orphan=True,
            )
        )
        log.warning(
            "order %s on %s belongs to no position (orphan)",
            order_id,
            symbol,
            extra={"event": "order.orphan"},
        )

    def _mark_cancelled(self, order_id: str) -> None:
        existing = self.store.orders.by_exchange_id(order_id)
        if existing is not None and not existing.state.is_terminal:
            advance_order(
                self.store,
                existing,
                OrderState.CANCELLED,
                actor="monitor",
                reason="cancelled: it protected no position",
                at=self.clock.now(),
            )

    async def cleanup_orphans(self) -> dict[str, Any]:
        """Operator cleanup: cancel every orphan the store flagged or the venue shows."""
        report = TickReport()
        try:
            live = {_key(p.symbol, p.side): p for p in await self.exchange.positions() if p.size > 0}
            algos = await self.exchange.open_algo_orders()
            regular = await self.exchange.open_orders()
        except ExchangeError as exc:
            raise RuntimeError(f"exchange read failed, nothing cancelled: {exc}") from exc
        await self._orphans(live, algos, regular, report, cancel=True)
        cancelled = list(report.orphans_cancelled)
        for orphan in self.store.orders.orphans():
            if orphan.exchange_order_id is None or orphan.kind in (OrderKind.TP, OrderKind.SL):
                continue
            try:
                await self.exchange.cancel_order(orphan.symbol, order_id=orphan.exchange_order_id)
            except ExchangeError as exc:
                log.warning("could not cancel orphan order %s: %s", orphan.exchange_order_id, exc)
                continue
            self._mark_cancelled(orphan.exchange_order_id)
            cancelled.append(orphan.exchange_order_id)
        return {"cancelled": cancelled}

    # ------------------------------------------------------------------ protection and max hold

    async def _ensure_stop(self, pos: Position, algos: list[AlgoOrder], report: TickReport) -> None:
        assert pos.id is not None
        has_sl = any(
            a.kind == "sl" and a.symbol == pos.symbol and a.position_side is pos.side and a.status.is_open
            for a in algos
        )
        if has_sl:
            return
        wanted = pos.sl_price or self._default_stop(pos)
        price = await self._on_tick(pos, wanted, refresh=False)
        placed_id: str | None = None
        for corrected in (False, True):
            attempt = sum(1 for o in self.store.orders.for_position(pos.id) if o.kind is OrderKind.SL) + 1
            try:
                placed_id = await self.executor.place_leg(
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
        if placed_id is None:
            log.error(
                "%s %s has no stop-loss and re-placing it failed: closing at market",
                pos.symbol,
                pos.side,
                extra={"event": "position.unprotected", "position_id": pos.id},
            )
            await self.close(pos, CloseReason.UNPROTECTED, actor="monitor")
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

    def _default_stop(self, pos: Position) -> Decimal:
        status = competition_status(
            self.settings, self.clock.now(), self.settings.competition.starting_balance
        )
        distance = pos.entry_price * status.default_sl_pct / 100
        return pos.entry_price - distance * pos.side.sign

    async def _enforce_max_hold(self, positions: list[Position], report: TickReport) -> None:
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
                if await self.close(pos, CloseReason.FORCED, actor="monitor"):
                    report.forced.append(pos.id or 0)

    async def close(self, pos: Position, reason: CloseReason, actor: str) -> bool:
        """Close at market through the executor (triggers cancelled first); True when the close was sent."""
        result = await self.executor.close_position(pos, reason, actor=actor)
        return result.state is not PositionState.OPEN

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


def _protection(ex: ExchangePosition, algos: list[AlgoOrder]) -> tuple[AlgoOrder | None, AlgoOrder | None]:
    mine = [a for a in algos if a.symbol == ex.symbol and a.position_side is ex.side and a.status.is_open]
    tp = next((a for a in mine if a.kind == "tp"), None)
    sl = next((a for a in mine if a.kind == "sl"), None)
    return tp, sl


def _closing_order(history: list[ExchangeOrder], pos: Position) -> ExchangeOrder | None:
    """Newest filled order that reduced this position after it opened."""
    candidates = [
        o
        for o in history
        if o.position_side is pos.side
        and o.status is OrderStatus.FILLED
        and (o.reduce_only or o.kind in ("tp", "sl", "close") or o.order_type.upper() == "LIQUIDATION")
        and o.updated_at >= pos.opened_at
    ]
    return max(candidates, key=lambda o: o.updated_at, default=None)
