"""Each closed trade's gross PnL, fees, net PnL and return on margin (the Performance screen)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from smt_engine.store.performance import TradeResult
from smt_tui import fmt
from smt_tui.widgets.keyed_table import Col, Row
from smt_tui.widgets.listing_table import ListingTable

RATE_MARK = "~"
"""After fees taken at the configured taker rate because the closing fills were not readable."""


def trade_row(r: TradeResult) -> Row:
    t = r.trade
    fees = fmt.money(r.fees) + (RATE_MARK if r.fee_source == "rate" else "")
    return (
        f"position:{t.id}",
        (
            t.closed_at.strftime("%m-%d %H:%M"),
            Text(t.symbol, style="bold"),
            Text(t.side.value, style="green" if t.side.value == "LONG" else "red"),
            fmt.price(t.size),
            fmt.price(t.entry_price),
            fmt.price(t.exit_price),
            fmt.signed(r.gross),
            fees,
            fmt.signed(r.net),
            fmt.signed(r.return_pct, suffix="%"),
            t.close_reason.value if t.close_reason else "-",
        ),
    )


class TradeResultsTable(ListingTable):
    """Money first (net, return, fees), then the pair; prices, size and the reason go first when narrow."""

    COLUMNS = (
        Col("closed", "Closed", 3),
        Col("symbol", "Symbol"),
        Col("side", "Side", 1),
        Col("size", "Size", 4, right=True),
        Col("entry", "Entry", 3, right=True),
        Col("exit", "Exit", 3, right=True),
        Col("gross", "Gross", 2, right=True),
        Col("fees", "Fees", right=True),
        Col("net", "Net", right=True),
        Col("return", "Return", right=True),
        Col("reason", "Reason", 5, text=True),
    )

    def show(self, results: Sequence[TradeResult]) -> None:
        self.sync([trade_row(r) for r in results])
