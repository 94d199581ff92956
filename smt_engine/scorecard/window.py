"""The scorecard's 30-day report, kept up to date instead of recounted.

A cycle publishes the report the console shows. Counting the whole window afresh each time costs what
the window holds (35,000 scores on a busy year); here each publish reads only the scores recorded since
the last one (a rowid range) and those whose decision left the window (a range of the ``decided_at``
index), and adds or takes them away from each cell's exact sums (``stats.Tally``), so the figures are
those of a fresh count. Scores are only ever added, never changed, which is what makes this sound.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from smt_engine.scorecard.report import Cell, cell_of, report_of
from smt_engine.scorecard.stats import Tally
from smt_engine.store import Store
from smt_engine.store.scores import ScoreLine

REPORT_WINDOW = timedelta(days=30)


class ReportWindow:
    """The sums of every cell over the scores decided in the last ``length``, as of the last update."""

    def __init__(self, length: timedelta = REPORT_WINDOW) -> None:
        self.length = length
        self.cells: dict[Cell, Tally] = {}
        self.count = 0
        self.last_id = 0
        self.since: datetime | None = None
        self.rows_read = 0
        """Score rows the last update read (what bounds its cost)."""

    def report(self, store: Store, now: datetime) -> dict[str, Any]:
        """The report of the window ending at ``now``; ``now`` earlier than the last one recounts."""
        since = now - self.length
        if self.since is None or since < self.since or since - self.since >= self.length:
            self.cells, self.count = {}, 0
            self.last_id, lines = store.scores.window_start(since)
            self.rows_read = len(lines)
            self._count(lines, 1)
        else:
            leaving = store.scores.lines_between(self.since, since, self.last_id)
            self.last_id, read, arrived = store.scores.lines_after(self.last_id, since)
            self.rows_read = len(leaving) + read
            self._count(leaving, -1)
            self._count(arrived, 1)
        self.since = since
        return report_of(self.cells, self.count, since=since, now=now)

    def _count(self, lines: list[ScoreLine], sign: int) -> None:
        self.count += sign * len(lines)
        for line in lines:
            key = cell_of(line)
            tally = self.cells.setdefault(key, Tally())
            tally.add(line, sign)
            if not tally.n:
                del self.cells[key]


_WINDOWS: WeakKeyDictionary[Store, ReportWindow] = WeakKeyDictionary()


def report_window(store: Store) -> ReportWindow:
    """The window kept for ``store`` (one per open store, so the engine's lives as long as it runs)."""
    window = _WINDOWS.get(store)
    if window is None:
        window = _WINDOWS[store] = ReportWindow()
    return window
