"""How it went: the equity curve, today's realised total and win rate, and the closed positions with exit,
realised PnL, reason and time held."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from smt_engine.store.records import Position
from smt_tui import fmt
from smt_tui.widgets.equity_chart import EquityChart
from smt_tui.widgets.keyed_table import Col, KeyedTable, Row


def history_row(p: Position) -> Row:
    held = p.closed_at - p.opened_at if p.closed_at else None
    return (
        f"position:{p.id}",
        (
            fmt.clock(p.closed_at) if p.closed_at else "-",
            Text(p.symbol, style="bold"),
            Text(p.side.value, style="green" if p.side.value == "LONG" else "red"),
            fmt.price(p.size),
            fmt.price(p.entry_price),
            fmt.price(p.exit_price),
            fmt.signed(p.realized_pnl),
            p.close_reason.value if p.close_reason else "-",
            fmt.duration(held),
        ),
    )


def today_summary(history: tuple[Position, ...], now: datetime) -> Text:
    """Realised PnL and win rate of the positions closed since midnight UTC."""
    midnight = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    today = [p for p in history if p.closed_at is not None and p.closed_at >= midnight]
    pnls = [p.realized_pnl for p in today if p.realized_pnl is not None]
    text = Text("today (UTC): ", style="dim")
    if not today:
        text.append("no position closed yet")
        return text
    text.append("realised ")
    text.append_text(fmt.signed(sum(pnls, Decimal(0))))
    text.append(" USDT")
    wins = sum(1 for v in pnls if v > 0)
    text.append(f"   {len(today)} closed, {wins} won")
    if pnls:
        text.append(f"   win rate {wins / len(pnls):.0%}")
    return text


class HistoryTable(KeyedTable):
    COLUMNS = (
        Col("closed", "Closed", 2),
        Col("symbol", "Symbol"),
        Col("side", "Side"),
        Col("size", "Size", 1, right=True),
        Col("entry", "Entry", right=True),
        Col("exit", "Exit", right=True),
        Col("pnl", "Realised", right=True),
        Col("reason", "Reason"),
        Col("held", "Held", 1, right=True),
    )


class History(Vertical):
    def compose(self) -> ComposeResult:
        yield EquityChart(id="equity-chart")
        yield Static(Text("today (UTC): -", style="dim"), id="history-summary")
        yield HistoryTable(id="history-table")

    def show_equity(self, curve: tuple[float, ...]) -> None:
        self.query_one(EquityChart).show(curve)

    def show(self, history: tuple[Position, ...], now: datetime) -> None:
        self.query_one("#history-summary", Static).update(today_summary(history, now))
        self.query_one(HistoryTable).sync([history_row(p) for p in history])
