"""A keyed table whose rows have no detail screen: Enter neither shows in the footer nor pretends to act."""

from __future__ import annotations

from smt_tui.widgets.keyed_table import KeyedTable


class ListingTable(KeyedTable):
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "select_cursor":
            return False
        return super().check_action(action, parameters)
