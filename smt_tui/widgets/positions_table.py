"""The open book: PnL, distance to TP and SL, time to the engine's forced close, protection, then ROE,
mark, entry and size.

Money and protection come first: on a narrow terminal the size, entry, mark and ROE columns go (in that
order) before any of PnL, TP, SL, the forced-close countdown or the protection state (docs/operator-guide.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.text import Text

from smt_engine.store.records import Position
from smt_tui import fmt
from smt_tui.alerts import FORCED_SOON
from smt_tui.widgets.keyed_table import Col, KeyedTable, Row


def protection(p: Position) -> Text:
    if p.sl_price is None or p.sl_order_id is None:
        return Text("UNPROTECTED", style="bold white on red")
    if p.tp_order_id is None:
        return Text("SL only", style="yellow")
    return Text("TP+SL", style="green")


def forced_close_left(p: Position, now: datetime, max_hold: timedelta | None) -> timedelta | None:
    return None if max_hold is None else p.opened_at + max_hold - now


def forced_close_in(p: Position, now: datetime, max_hold: timedelta | None, live: bool = True) -> Text:
    """Countdown to the engine's forced close, from the max hold the engine published.

    Without a running engine nothing will close it on time: no countdown, which would be a promise.
    """
    if not live:
        return Text("no engine", style="dim")
    left = forced_close_left(p, now, max_hold)
    if max_hold is None or left is None:
        return Text("no limit", style="dim")
    if left.total_seconds() <= 0:
        return Text("due now", style="bold red")
    return Text(fmt.countdown(left), style="bold red" if left <= FORCED_SOON else "")


def position_row(p: Position, now: datetime, max_hold: timedelta | None, live: bool = True) -> Row:
    mark = p.mark_price
    roe = fmt.pct_of(p.unrealized_pnl, p.margin) if p.margin else None
    side = Text(p.side.value, style="green" if p.side.value == "LONG" else "red")
    return (
        f"position:{p.id}",
        (
            Text(p.symbol, style="bold"),
            side,
            fmt.price(p.size),
            fmt.price(p.entry_price),
            fmt.price(mark),
            fmt.signed(p.unrealized_pnl),
            fmt.signed(roe, 1, "%"),
            fmt.target(p.tp_price, mark),
            fmt.target(p.sl_price, mark),
            forced_close_in(p, now, max_hold, live),
            protection(p),
        ),
    )


class PositionsTable(KeyedTable):
    COLUMNS = (
        Col("symbol", "Symbol"),
        Col("side", "Side"),
        Col("size", "Size", 5, right=True),
        Col("entry", "Entry", 4, right=True),
        Col("mark", "Mark", 3, right=True),
        Col("pnl", "uPnL", right=True),
        Col("roe", "ROE %", 2, right=True),
        Col("tp", "TP (move)", right=True),
        Col("sl", "SL (move)", right=True),
        Col("forced", "Forced in", right=True),
        Col("prot", "Protection"),
    )

    def show(
        self, positions: tuple[Position, ...], now: datetime, max_hold: timedelta | None, live: bool = True
    ) -> None:
        self.sync([position_row(p, now, max_hold, live) for p in positions])
