"""A DataTable updated by diffing keyed rows, so the cursor and scroll survive refreshes.

Rows that vanished are removed, changed cells are updated in place and new rows are added. Column
widths follow the content on every update (a number is never cut): when a width or the set of columns
that fit changes, the columns are rebuilt. When the table is too narrow, columns go by priority (the
highest number first), so prices, sizes and PnL are the last to go; free text columns take what is left
and are the only ones that may be shortened, always with an ellipsis (…). The cursor always returns to the
same key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, NamedTuple

from rich.cells import cell_len
from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Resize
from textual.geometry import Size
from textual.widget import PseudoClasses, Widget
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

Cells = tuple[RenderableType, ...]
Row = tuple[str, Cells]

_PAD = 2
"""Cell padding (one column each side)."""
_TEXT_MIN = 12
"""A free text column is shown only when at least this wide."""


class Col(NamedTuple):
    key: str
    label: str
    priority: int = 0
    """0: always shown; higher numbers are dropped first when the table is too narrow."""
    right: bool = False
    """Numbers are right-aligned."""
    text: bool = False
    """Free text: takes the remaining width and may be shortened (never a number)."""


def _plain(cell: RenderableType) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _width(cell: RenderableType) -> int:
    return max((cell_len(line) for line in _plain(cell).split("\n")), default=0)


def _cut(cell: RenderableType, width: int) -> RenderableType:
    if _width(cell) <= width:
        return cell
    text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
    text.truncate(width, overflow="ellipsis")
    return text


class KeyedTable(DataTable[RenderableType]):
    """Subclasses set ``COLUMNS`` (``Col`` or (key, label) pairs) and call ``sync`` with keyed rows."""

    COLUMNS: tuple[Col | tuple[str, str], ...] = ()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", id="details", tooltip="details of the selected row")
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._all: list[Row] = []
        self._cells: dict[str, Cells] = {}
        self._layout: tuple[tuple[str, int], ...] = ()
        self._fitted_width = -1
        self._sized = Size(0, 0)
        self._styles_seen: dict[PseudoClasses, tuple[object, ...]] = {}
        self.filter_text = ""
        self.columns_spec = tuple(Col(*c) for c in self.COLUMNS)

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return str(key) if key is not None else None

    @property
    def shown_columns(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self._layout)

    def select_key(self, key: str) -> bool:
        """Move the cursor to ``key``; False when that row is not shown."""
        try:
            index = self.get_row_index(key)
        except Exception:  # RowDoesNotExist: filtered out or gone
            return False
        self.move_cursor(row=index, animate=False)
        return True

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._apply()

    def sync(self, rows: Sequence[Row]) -> None:
        """Show ``rows``; the same rows as last time (a heartbeat redraws both tables) do nothing.

        Equal as ``_apply`` compares cells (text and spans), so this skips only a diff that would find
        no change; a new width or filter is applied by ``_on_resize`` and ``set_filter`` themselves.
        """
        new = list(rows)
        if new == self._all and self._layout:
            return
        self._all = new
        self._apply()

    def notify_style_update(self) -> None:
        """Keep the cached renders when only the focus moved and the styles of that state are as before.

        ``DataTable`` drops every cached row, cell and line on any style update, and a focus change is
        one: every tab switch painted the new tab's table from nothing. Its caches are keyed by the focus
        state and the base style already, so they stay valid while the styles drawn in each focus state
        (``_style_signature``) are the ones they were drawn with; anything else (a theme, a class)
        changes a signature and clears them as before.
        """
        Widget.notify_style_update(self)  # the widget's own style caches, always
        state = self.get_pseudo_class_state()
        try:
            signature = self._style_signature()
        except KeyError:  # before mount: no component styles yet
            DataTable.notify_style_update(self)
            return
        if self._styles_seen.get(state) == signature:
            self._styles_cache.clear()  # the background tint of the new state: lines are drawn again
            self._get_styles_to_render_cell.cache_clear()  # not keyed by focus
            self.refresh()
            return
        self._styles_seen[state] = signature
        DataTable.notify_style_update(self)

    def _style_signature(self) -> tuple[object, ...]:
        """Every style a row is drawn with in the current focus state."""
        return (self.rich_style, *(self.get_component_rich_style(c) for c in sorted(self.COMPONENT_CLASSES)))

    def _on_resize(self, event: Resize) -> None:
        """Fit the columns to a new width; keep every cached render when the size did not change.

        Textual sends a Resize to every widget a layout shows, also at the size it had: a table on a tab
        shown again gets one after its first paint, and ``DataTable._on_resize`` (replaced here) bumps
        the update count, which drops every cached row and cell and paints the whole table a second
        time (docs/benchmarks.md, console: the tab switch). Only a real change of size does that here.
        """
        event.prevent_default()  # DataTable._on_resize is the only handler above this one
        if event.size != self._sized:
            self._sized = event.size
            self._update_count += 1
        if event.size.width != self._fitted_width:
            self._fitted_width = event.size.width
            self._apply()

    def _visible(self) -> list[Row]:
        if not self.filter_text:
            return self._all
        needle = self.filter_text
        return [row for row in self._all if needle in " ".join(_plain(c) for c in row[1]).lower()]

    def _fit(self, rows: list[Row]) -> tuple[tuple[str, int], ...]:
        """Which columns are shown and how wide: content width, by priority within the table's width."""
        spec = self.columns_spec
        widths = [cell_len(c.label) for c in spec]
        for _, cells in rows:
            for i, cell in enumerate(cells):
                w = _width(cell)
                if w > widths[i]:
                    widths[i] = w
        room = self.size.width - 2  # the vertical scrollbar
        if room <= 0 and self._layout:
            # Hidden (another tab): keep the columns fitted to the real width; numbers may only widen.
            index = {c.key: i for i, c in enumerate(spec)}
            return tuple(
                (key, width if spec[index[key]].text else max(width, widths[index[key]]))
                for key, width in self._layout
            )
        if room <= 0:
            room = 10_000  # never laid out yet: show everything, fit again on the first resize
        order = sorted(range(len(spec)), key=lambda i: (spec[i].priority, i))
        chosen: set[int] = set()
        used = 0
        for i in order:
            need = (_TEXT_MIN if spec[i].text else widths[i]) + _PAD
            if spec[i].priority == 0 or used + need <= room:
                chosen.add(i)
                used += need
        # Never narrower than already drawn: a countdown going from 10m00s to 9m59s rebuilds nothing.
        drawn = dict(self._layout)
        for i in chosen:
            if not spec[i].text and spec[i].key in drawn:
                widths[i] = max(widths[i], drawn[spec[i].key])
        texts = [i for i in sorted(chosen) if spec[i].text]
        if texts:
            spare = max(0, room - sum(widths[i] + _PAD for i in chosen if not spec[i].text))
            share = spare // len(texts) - _PAD
            for i in texts:
                widths[i] = max(_TEXT_MIN, min(widths[i], share))
        return tuple((spec[i].key, widths[i]) for i in sorted(chosen))

    def _align(self, cells: Cells) -> Cells:
        out: list[RenderableType] = []
        for col, cell in zip(self.columns_spec, cells, strict=True):
            if col.right:
                text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
                text.justify = "right"
                out.append(text)
            else:
                out.append(cell)
        return tuple(out)

    def _shown(self, cells: Cells) -> Cells:
        """The cells of the shown columns; a free text cut to its column ends in an ellipsis (the whole
        value is in the row's details)."""
        index = {c.key: i for i, c in enumerate(self.columns_spec)}
        out: list[RenderableType] = []
        for key, width in self._layout:
            cell = cells[index[key]]
            out.append(_cut(cell, width) if self.columns_spec[index[key]].text else cell)
        return tuple(out)

    def _rebuild(self, rows: list[Row], layout: tuple[tuple[str, int], ...]) -> None:
        labels = {c.key: c for c in self.columns_spec}
        scroll_y = self.scroll_y
        self.clear(columns=True)
        self._layout = layout
        for key, width in layout:
            col = labels[key]
            label = Text(col.label, justify="right") if col.right else Text(col.label)
            self.add_column(label, key=key, width=width)
        self._cells = {}
        for key, cells in rows:
            aligned = self._align(cells)
            self.add_row(*self._shown(aligned), key=key)
            self._cells[key] = aligned
        self.scroll_to(y=scroll_y, animate=False, immediate=True)

    def _update_cell_in_row(self, key: str, column: str, value: RenderableType) -> None:
        """``update_cell`` without repainting the table: only the row's cached renders are dropped and
        only its lines are drawn again.

        ``DataTable.update_cell`` bumps the table's update count, which invalidates every cached row, and
        repaints the whole widget: a countdown moving one second, or a mark price, redrew every visible
        row and was most of the idle console's CPU (docs/benchmarks.md, console). The column widths are
        this table's own (``_fit``), so a changed cell never resizes a column here; a cell of more
        than one line (a row height change) takes the full path.
        """
        row_key, column_key = RowKey(key), ColumnKey(column)
        index = self._row_locations.get(row_key)
        if index is None or self._column_locations.get(column_key) is None or "\n" in _plain(value):
            self.update_cell(key, column, value)
            return
        self._data[row_key][column_key] = value
        for row_entry in [k for k in self._row_render_cache.keys() if k[0] == row_key]:  # noqa: SIM118 (LRUCache: no __iter__)
            self._row_render_cache.discard(row_entry)
        for cell_entry in [k for k in self._cell_render_cache.keys() if k[0] == row_key]:  # noqa: SIM118
            self._cell_render_cache.discard(cell_entry)
        self._row_renderable_cache.discard((self._update_count, index))
        region = self._get_row_region(index)
        lines = range(region.y, region.bottom)
        for line_entry in [k for k in self._line_cache.keys() if k[0] in lines]:  # noqa: SIM118
            self._line_cache.discard(line_entry)
        self.refresh_row(index)

    def _apply(self) -> None:
        rows = self._visible()
        selected = self.selected_key
        wanted = [key for key, _ in rows]
        wanted_set = set(wanted)
        layout = self._fit(rows)
        if layout != self._layout:
            self._rebuild(rows, layout)
        else:
            for key in [k for k in self._cells if k not in wanted_set]:
                self.remove_row(key)
                del self._cells[key]
            shown = self.shown_columns
            for key, cells in rows:
                aligned = self._align(cells)
                old = self._cells.get(key)
                if old is None:
                    self.add_row(*self._shown(aligned), key=key)
                elif old != aligned:
                    for column, before, after in zip(
                        shown, self._shown(old), self._shown(aligned), strict=True
                    ):
                        if before != after:
                            self._update_cell_in_row(key, column, after)
                self._cells[key] = aligned
            order = [str(row.key.value) for row in self.ordered_rows]
            if order != wanted:
                self._rebuild(rows, layout)
        if selected in wanted_set:
            index = self.get_row_index(selected)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)
