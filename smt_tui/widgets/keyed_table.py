"""A DataTable updated by diffing keyed rows, so the cursor and scroll survive refreshes.

Rows that vanished are removed, changed cells are updated in place and new rows are added; only
when the order itself changed is the table rebuilt, and then the cursor goes back to the same key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

Cells = tuple[RenderableType, ...]
Row = tuple[str, Cells]


def _plain(cell: RenderableType) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


class KeyedTable(DataTable[RenderableType]):
    """Subclasses set ``COLUMNS`` as (key, label) pairs and call ``sync`` with keyed rows."""

    COLUMNS: tuple[tuple[str, str], ...] = ()
    KIND = "row"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", id="details", tooltip="details of the selected row")
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._all: list[Row] = []
        self._cells: dict[str, Cells] = {}
        self.filter_text = ""
        for key, label in self.COLUMNS:
            self.add_column(label, key=key)

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return str(key) if key is not None else None

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._apply()

    def sync(self, rows: Sequence[Row]) -> None:
        self._all = list(rows)
        self._apply()

    def _visible(self) -> list[Row]:
        if not self.filter_text:
            return self._all
        needle = self.filter_text
        return [row for row in self._all if needle in " ".join(_plain(c) for c in row[1]).lower()]

    def _apply(self) -> None:
        rows = self._visible()
        selected = self.selected_key
        wanted = [key for key, _ in rows]
        wanted_set = set(wanted)
        for key in [k for k in self._cells if k not in wanted_set]:
            self.remove_row(key)
            del self._cells[key]
        columns = [key for key, _ in self.COLUMNS]
        for key, cells in rows:
            old = self._cells.get(key)
            if old is None:
                self.add_row(*cells, key=key)
            elif old != cells:
                for column, before, after in zip(columns, old, cells, strict=True):
                    if before != after:
                        self.update_cell(key, column, after)
            self._cells[key] = cells
        order = [str(row.key.value) for row in self.ordered_rows]
        if order != wanted:
            scroll_y = self.scroll_y
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            self.scroll_to(y=scroll_y, animate=False, immediate=True)
        if selected in wanted_set:
            index = self.get_row_index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)
