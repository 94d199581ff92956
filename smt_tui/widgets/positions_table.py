"""The open book: PnL, ROE on margin, distance to TP and SL, time to the engine's forced close, protection."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from rich.text import Text

from smt_engine.store.records import Position
from smt_tui import fmt
from smt_tui.widgets.keyed_table import Col, KeyedTable, Row


def distance(target: Decimal | None, mark: Decimal | None) -> str:
    if target is None or not mark:
        return "-" if target is None else fmt.price(target)
    return f"{fmt.price(target)} ({(target - mark) / mark * 100:+.1f}%)"


def protection(p: Position) -> Text:
    if p.sl_price is None or p.sl_order_id is None:
        return Text("UNPROTECTED", style="bold white on red")
    if p.tp_order_id is None:
        return Text("SL only", style="yellow")
    return Text("TP+SL", style="green")


def forced_close_in(p: Position, now: datetime, max_hold: timedelta | None) -> Text:
    """Countdown to the engine's forced close, from the max hold the engine published."""
    if max_hold is None:
        return Text("no limit published", style="dim")
    left = p.opened_at + max_hold - now
    if left.total_seconds() <= 0:
        return Text("due now", style="bold red")
    return Text(fmt.countdown(left), style="bold red" if left < max_hold / 10 else "")


def position_row(p: Position, now: datetime, max_hold: timedelta | None) -> Row:
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
            distance(p.tp_price, mark),
            distance(p.sl_price, mark),
            forced_close_in(p, now, max_hold),
            protection(p),
        ),
    )


class PositionsTable(KeyedTable):
    COLUMNS = (
        Col("symbol", "Symbol"),
        Col("side", "Side"),
        Col("size", "Size", right=True),
        Col("entry", "Entry", right=True),
        Col("mark", "Mark", right=True),
        Col("pnl", "uPnL", right=True),
        Col("roe", "ROE % (margin)", 2, right=True),
        Col("tp", "TP (dist)", 4, right=True),
        Col("sl", "SL (dist)", 3, right=True),
        Col("forced", "Forced close in", 3, right=True),
        Col("prot", "Protection", 1),
    )

    def show(self, positions: tuple[Position, ...], now: datetime, max_hold: timedelta | None) -> None:
        self.sync([position_row(p, now, max_hold) for p in positions])
