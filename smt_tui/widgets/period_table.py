"""Realised PnL per UTC day and per ISO week, net of fees (the Performance screen)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from smt_engine.store.performance import Bucket
from smt_tui import fmt
from smt_tui.widgets.keyed_table import Col, Row
from smt_tui.widgets.listing_table import ListingTable


def period_row(b: Bucket) -> Row:
    """A period without a close is dimmed, so the ones with trades stand out."""
    cells = (b.label, fmt.signed(b.net), fmt.money(b.fees), fmt.signed(b.gross), str(b.trades), str(b.wins))
    if b.trades:
        return f"period:{b.label}", cells
    return f"period:{b.label}", tuple(Text(str(c), style="dim") for c in cells)


class PeriodTable(ListingTable):
    """Money first: net and fees stay at any width; gross and the counts go before them."""

    COLUMNS = (
        Col("period", "Period"),
        Col("net", "Net", right=True),
        Col("fees", "Fees", 1, right=True),
        Col("gross", "Gross", 2, right=True),
        Col("trades", "Trades", 1, right=True),
        Col("wins", "Wins", 3, right=True),
    )

    def show(self, buckets: Sequence[Bucket]) -> None:
        self.sync([period_row(b) for b in buckets])
