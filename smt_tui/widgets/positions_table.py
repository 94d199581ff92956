"""Open (and recently closed) positions with PnL, TP/SL distance, age against max hold, protection."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from rich.text import Text

from smt_engine.domain import PositionState
from smt_engine.store.records import Position
from smt_tui import fmt
from smt_tui.widgets.keyed_table import KeyedTable, Row


def _distance(target: Decimal | None, mark: Decimal | None) -> str:
    if target is None or not mark:
        return ""
    return f" ({(target - mark) / mark * 100:+.1f}%)"


def protection(p: Position) -> Text:
    if p.state is PositionState.CLOSED:
        return Text(p.close_reason.value if p.close_reason else "closed", style="dim")
    if p.sl_price is None or p.sl_order_id is None:
        return Text("UNPROTECTED", style="bold white on red")
    if p.tp_order_id is None:
        return Text("SL only", style="yellow")
    return Text("TP+SL", style="green")


def position_row(p: Position, now: datetime, max_hold: timedelta) -> Row:
    mark = p.mark_price
    pct = fmt.pct_of(p.unrealized_pnl, p.margin) if p.margin else None
    age = now - p.opened_at
    over = p.state is not PositionState.CLOSED and age > max_hold
    age_text = Text(f"{fmt.duration(age)}/{fmt.duration(max_hold)}", style="bold red" if over else "")
    side = Text(p.side.value, style="green" if p.side.value == "LONG" else "red")
    closed = p.state is PositionState.CLOSED
    return (
        f"position:{p.id}",
        (
            Text(p.symbol, style="dim" if closed else "bold"),
            side,
            fmt.price(p.size),
            fmt.price(p.entry_price),
            fmt.price(mark),
            fmt.signed(p.realized_pnl if closed else p.unrealized_pnl),
            fmt.signed(pct, 1, "%") if not closed else Text("-"),
            f"{fmt.price(p.tp_price)}{_distance(p.tp_price, mark)}",
            f"{fmt.price(p.sl_price)}{_distance(p.sl_price, mark)}",
            age_text,
            protection(p),
        ),
    )


class PositionsTable(KeyedTable):
    KIND = "position"
    COLUMNS = (
        ("symbol", "Symbol"),
        ("side", "Side"),
        ("size", "Size"),
        ("entry", "Entry"),
        ("mark", "Mark"),
        ("pnl", "uPnL"),
        ("pct", "%"),
        ("tp", "TP (dist)"),
        ("sl", "SL (dist)"),
        ("age", "Age/max"),
        ("prot", "Protection"),
    )

    def show(self, positions: tuple[Position, ...], now: datetime, max_hold: timedelta) -> None:
        self.sync([position_row(p, now, max_hold) for p in positions])
