"""Orders, orphans flagged: TP/SL left resting after their position closed."""

from __future__ import annotations

from rich.text import Text

from smt_engine.store.records import Order
from smt_tui import fmt
from smt_tui.widgets.keyed_table import Col, KeyedTable, Row


def order_row(o: Order) -> Row:
    state = Text(o.state.value, style="dim" if o.state.is_terminal else "")
    flag = Text("ORPHAN", style="bold white on dark_orange") if o.orphan and not o.state.is_terminal else ""
    return (
        f"order:{o.id}",
        (
            str(o.id),
            o.kind.value,
            o.symbol,
            o.side.value,
            fmt.price(o.size),
            fmt.price(o.trigger_price or o.price),
            state,
            flag,
            o.client_order_id,
            fmt.clock(o.updated_at),
        ),
    )


class OrdersTable(KeyedTable):
    COLUMNS = (
        Col("id", "#", 2, right=True),
        Col("kind", "Kind"),
        Col("symbol", "Symbol"),
        Col("side", "Side", 1),
        Col("size", "Size", right=True),
        Col("price", "Price/Trigger", right=True),
        Col("state", "State"),
        Col("orphan", "Orphan"),
        Col("client", "Client id", 4),
        Col("updated", "Updated", 3),
    )

    def show(self, orders: tuple[Order, ...]) -> None:
        self.sync([order_row(o) for o in orders])
