"""Orders, orphans flagged: TP/SL left resting after their position closed."""

from __future__ import annotations

from rich.text import Text

from smt_engine.store.records import Order
from smt_tui import fmt
from smt_tui.widgets.keyed_table import KeyedTable, Row


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
    KIND = "order"
    COLUMNS = (
        ("id", "#"),
        ("kind", "Kind"),
        ("symbol", "Symbol"),
        ("side", "Side"),
        ("size", "Size"),
        ("price", "Price/Trigger"),
        ("state", "State"),
        ("orphan", "Orphan"),
        ("client", "Client id"),
        ("updated", "Updated"),
    )

    def show(self, orders: tuple[Order, ...]) -> None:
        self.sync([order_row(o) for o in orders])
