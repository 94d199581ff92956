"""Performance: realised PnL net of fees per UTC day, ISO week and all time; each closed trade's fees and
return on margin; win rate, profit factor and drawdown. Read-only.

The figures are computed by ``smt_engine.store.performance`` (``smt performance`` prints the same) in a
worker thread when the screen opens and again only when a position closed (the app calls ``load`` on a
snapshot whose ``history`` section moved), never on a timer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static

from smt_engine.store import Store
from smt_engine.store.performance import Performance, from_store
from smt_tui import fmt
from smt_tui.state import Now
from smt_tui.widgets.period_table import PeriodTable
from smt_tui.widgets.trade_results_table import RATE_MARK, TradeResultsTable

DAYS = 7
WEEKS = 4
TRADES = 100


def summary(perf: Performance) -> Text:
    """The all-time figures in two lines, money first."""
    t = perf.total
    out = Text.assemble(("Performance ", "bold"), f"realised, net of fees, USDT, at {perf.at:%H:%M}Z  ")
    out.append("esc: back", style="dim")
    out.append("\nall time ")
    out.append_text(fmt.signed(t.net))
    out.append(f"  fees {fmt.money(t.fees)}  gross ")
    out.append_text(fmt.signed(t.gross))
    out.append(f"  {t.trades} trades")
    out.append("\nwin rate ")
    out.append(f"{perf.win_rate:.0f}% ({t.wins}/{t.trades})" if perf.win_rate is not None else "n/a")
    out.append("  profit factor ")
    out.append(f"{perf.profit_factor:.2f}" if perf.profit_factor is not None else "n/a (no loss)")
    out.append(f"  max drawdown {fmt.money(perf.max_drawdown.amount)}")
    if perf.drawdown_now is not None:
        pct = f" ({perf.drawdown_now_pct:.1f}%)" if perf.drawdown_now_pct is not None else ""
        out.append(f"  now {fmt.money(perf.drawdown_now)}{pct} below peak")
    notes = []
    if any(r.fee_source == "rate" for r in perf.trades):
        notes.append(f"{RATE_MARK} fees at the taker rate (closing fills not readable)")
    if perf.unpriced:
        notes.append(f"{perf.unpriced} closed without exit price or PnL: left out")
    if notes:
        out.append("\n" + "; ".join(notes), style="dim")
    return out


class PerformanceScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="performance-back", tooltip="back to the main screen"),
        Binding("q", "back", "Back", show=False),
    ]
    DEFAULT_CSS = """
    PerformanceScreen #performance-summary {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    PerformanceScreen PeriodTable {
        height: auto;
        max-height: 13;
    }
    PerformanceScreen TradeResultsTable {
        height: 1fr;
    }
    """

    def __init__(self, store: Store, *, now: Now, taker_fee_pct: Decimal) -> None:
        super().__init__()
        self.store = store
        self.now = now
        self.taker_fee_pct = taker_fee_pct
        self.performance: Performance | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("computing the performance figures…"), id="performance-summary")
        yield PeriodTable(id="performance-periods")
        yield TradeResultsTable(id="performance-trades")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="performance", description="compute the performance figures")
    def load(self) -> None:
        at: datetime = self.now()
        perf = from_store(
            self.store, now=at, taker_fee_pct=self.taker_fee_pct, days=DAYS, weeks=WEEKS, trade_limit=TRADES
        )
        self.app.call_from_thread(self.show, perf)

    def action_back(self) -> None:
        self.app.pop_screen()

    def show(self, perf: Performance) -> None:
        if not self.is_attached:
            return  # closed while the worker computed
        self.performance = perf
        self.query_one("#performance-summary", Static).update(summary(perf))
        self.query_one(PeriodTable).show([*perf.days, *perf.weeks])
        trades = self.query_one(TradeResultsTable)
        trades.border_title = (
            f"last {len(perf.trades)} closed trades" if perf.trades else "no closed trade yet"
        )
        trades.show(perf.trades)
