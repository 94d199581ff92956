"""One source traded as the engine would trade it: risk gates, sizing, the paper venue's fills.

The clock moves from event to event (decision times and the ends of holds); at each the paper venue
first walks every bar that closed since the last (TP/SL on the price path, stop first when one bar
touches both, liquidation; a fill carries its bar's time), positions past their hold are closed at
market, and at each decision time the source's LONG/SHORT calls are gated
and sized by ``RiskEngine.assess`` best confidence first, at most ``trading.max_entries_per_cycle``
per cycle, as ``ProposalBook.run_cycle`` does with approval ``auto``. Fees are the venue's taker
fee on both sides plus its slippage. A halt (daily loss or drawdown) lasts until the next UTC day,
as if the operator resumed each morning; the resume resets the loss references as an operator resume
does (``kill_switch.loss_references``: opening and peak equity start again from the equity then).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from smt_engine.backtest.decisions import Call
from smt_engine.backtest.market import HistoryClock, HistoryMarket, NoHistory, Series
from smt_engine.competition import competition_status
from smt_engine.config import Settings
from smt_engine.domain import EngineState, Side, round_confidence
from smt_engine.exchange.base import ExchangeError, Fill, OrderRequest, OrderStatus, VenuePrecisionError
from smt_engine.exchange.paper.venue import PaperExchange
from smt_engine.trading.account import AccountState, OpenExposure
from smt_engine.trading.risk import ReasonCode, RiskEngine, effective_leverage

_TICK = timedelta(microseconds=1)


class BacktestVenue(PaperExchange):
    """The paper venue, plus the housekeeping a long run needs: finished orders leave the book.

    Live, the monitor cancels a closed position's sibling leg; here ``settle`` does it, then hands back
    the fills since the last call with the kind of order each came from.
    """

    def settle(self) -> list[tuple[str, Fill]]:
        acct = self._acct
        held = {(p.symbol, p.side) for p in acct.positions}
        kinds: dict[str, str] = {o.order_id: o.kind for o in acct.orders}
        for o in acct.orders:
            if o.is_leg and o.status.is_open and (o.symbol, o.position_side) not in held:
                o.status = OrderStatus.CANCELLED
        fills = [(kinds.get(f.order_id, "close"), f) for f in acct.fills]
        acct.fills = []
        acct.orders = [o for o in acct.orders if o.status.is_open]
        return fills

    def held(self) -> list[OpenExposure]:
        """Open positions as the gates count them, without the venue's mark-to-market work."""
        return [OpenExposure(p.symbol, p.side, p.margin) for p in self._acct.positions]

    def is_flat(self) -> bool:
        """No position and no open order: nothing on the account can change until the next entry."""
        return not self._acct.positions and not any(o.status.is_open for o in self._acct.orders)


@dataclass
class Portfolio:
    """What one source's trading did to the account."""

    source: str
    start_equity: Decimal
    equity: list[tuple[datetime, float]] = field(default_factory=list)
    entries: int = 0
    exits: dict[str, int] = field(default_factory=dict)
    traded_notional: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    denied: dict[str, int] = field(default_factory=dict)
    halts: list[str] = field(default_factory=list)

    @property
    def final_equity(self) -> float:
        return self.equity[-1][1] if self.equity else float(self.start_equity)

    @property
    def return_pct(self) -> float:
        return (self.final_equity / float(self.start_equity) - 1) * 100

    @property
    def max_drawdown_pct(self) -> float:
        peak, worst = float("-inf"), 0.0
        for _, e in self.equity:
            peak = max(peak, e)
            if peak > 0:
                worst = max(worst, (peak - e) / peak * 100)
        return worst

    @property
    def turnover(self) -> float:
        """Traded notional (both sides) over the starting equity."""
        return float(self.traded_notional / self.start_equity)


async def simulate(
    settings: Settings,
    series: dict[str, Series],
    source: str,
    calls: Sequence[Call],
    start: datetime,
    end: datetime,
    path: dict[str, Series] | None = None,
) -> Portfolio:
    """Trade ``calls`` over ``[start, end]``; positions still open at the end are marked to the market."""
    clock = HistoryClock(start)
    market = HistoryMarket(series, clock, path)
    ex = settings.exchange
    venue = BacktestVenue(
        market,
        clock,
        balance=ex.paper_balance,
        taker_fee_pct=ex.taker_fee_pct,
        maker_fee_pct=ex.maker_fee_pct,
        slippage_pct=ex.paper_slippage_pct,
    )
    risk = RiskEngine(settings)
    result = Portfolio(source, ex.paper_balance)
    by_time: dict[datetime, list[Call]] = {}
    for c in calls:
        if c.decision.action.side is not None:
            by_time.setdefault(c.at, []).append(c)
    symbols = sorted({c.pair.symbol for c in calls})
    for symbol in symbols:
        await venue.set_leverage(symbol, effective_leverage(settings, venue.table.get(symbol)), "cross")
    deadlines: dict[tuple[str, Side], datetime] = {}
    last_sl: dict[str, datetime] = {}
    state = EngineState.RUNNING
    halted_until: datetime | None = None
    peak: Decimal | None = None
    day: tuple[int, int, int] | None = None
    opening: Decimal | None = None
    seq = 0
    events = sorted({start, end, *(t for t in by_time if start <= t <= end)})
    heapq.heapify(events)
    at = start
    idle_equity: Decimal | None = None
    """Set while nothing is open: nothing can change the account until the next entry."""
    while events:
        at = heapq.heappop(events)
        if at < clock.now() or at > end:
            continue  # a time already stepped (a deadline on a decision time) or past the data
        todo = by_time.get(at)
        today = at.astimezone(UTC).timetuple()[:3]
        if (
            idle_equity is not None
            and not (todo and state is EngineState.RUNNING)
            and not (halted_until is not None and today != day)
        ):
            if today != day:
                day, opening = (today[0], today[1], today[2]), idle_equity
            if todo:  # halted: every proposal of the cycle is denied for the engine's state
                code = ReasonCode.ENGINE_STATE.value
                result.denied[code] = result.denied.get(code, 0) + len(todo)
            result.equity.append((at, float(idle_equity)))
            clock.set(at + _TICK)
            continue
        clock.set(at)
        balance = await venue.balance()  # walks the bars that closed since the last step first
        _book(result, venue.settle(), last_sl)
        closed = False
        for p in venue.held():
            deadline = deadlines.get((p.symbol, p.side))
            if deadline is not None and at >= deadline:
                seq += 1
                try:
                    await venue.close_position(p.symbol, p.side, f"bt-x{seq}")
                except NoHistory:
                    continue
                deadlines.pop((p.symbol, p.side), None)
                _book(result, venue.settle(), last_sl, reason="max_hold")
                closed = True
        if closed:
            balance = await venue.balance()
        equity = balance.equity
        peak = equity if peak is None else max(peak, equity)
        if today != day:
            day, opening = (today[0], today[1], today[2]), equity
            if halted_until is not None and at >= halted_until:
                state, halted_until, peak = EngineState.RUNNING, None, equity
        result.equity.append((at, float(equity)))
        if todo and state is not EngineState.RUNNING:
            code = ReasonCode.ENGINE_STATE.value
            result.denied[code] = result.denied.get(code, 0) + len(todo)
        elif todo:
            account = AccountState(
                available=balance.available,
                equity=equity,
                peak_equity=peak,
                opening_equity=opening,
                open_positions=tuple(venue.held()),
                last_stop_loss=dict(last_sl),
                engine_state=state,
                competition=competition_status(settings, at, balance.balance),
            )
            todo.sort(key=lambda c: round_confidence(c.decision.confidence), reverse=True)
            selected = 0
            for c in todo:
                if selected >= settings.trading.max_entries_per_cycle:
                    # Live, these are assessed and then denied for the cycle's limit; the verdict is the same.
                    code = ReasonCode.CYCLE_ENTRY_LIMIT.value
                    result.denied[code] = result.denied.get(code, 0) + 1
                    continue
                try:
                    price = await market.last_price(c.pair.symbol)
                except NoHistory:
                    continue
                a = risk.assess(c.pair, c.decision, account, venue.table.get(c.pair.symbol), price, at)
                if a.halt_code is not None and state is EngineState.RUNNING:
                    state = EngineState.HALTED
                    halted_until = datetime(*today[:3], tzinfo=UTC) + timedelta(days=1)
                    result.halts.append(f"{at:%Y-%m-%d %H:%M} {a.halt_reason}")
                if not a.passed or a.side is None:
                    for code in a.reason_codes:
                        result.denied[code] = result.denied.get(code, 0) + 1
                    continue
                seq += 1
                try:
                    await venue.place_order(
                        OrderRequest(
                            symbol=c.pair.symbol,
                            position_side=a.side,
                            size=a.size,
                            client_order_id=f"bt-e{seq}",
                            tp_price=a.tp_price,
                            sl_price=a.sl_price,
                        )
                    )
                except (
                    ExchangeError,
                    VenuePrecisionError,
                ) as exc:  # the venue refused (margin, precision): as live, no entry
                    code = f"venue: {type(exc).__name__}"
                    result.denied[code] = result.denied.get(code, 0) + 1
                    continue
                result.entries += 1
                selected += 1
                deadlines[(c.pair.symbol, a.side)] = at + a.max_hold
                heapq.heappush(events, at + a.max_hold)
                account = account.with_exposure(OpenExposure(c.pair.symbol, a.side, a.margin))
                _book(result, venue.settle(), last_sl)
        idle_equity = equity if venue.is_flat() else None
        clock.set(at + _TICK)  # a later event at this very time is a duplicate
    return result


def _book(
    result: Portfolio, fills: list[tuple[str, Fill]], last_sl: dict[str, datetime], reason: str = ""
) -> None:
    for kind, f in fills:
        result.traded_notional += f.price * f.size
        result.fees += f.fee
        if kind == "entry":
            continue
        why = reason or {"tp": "tp", "sl": "sl"}.get(kind, "liquidation" if kind == "close" else kind)
        result.exits[why] = result.exits.get(why, 0) + 1
        if kind == "sl":
            last_sl[f.symbol] = f.at
