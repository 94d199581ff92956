"""The cursor that follows a newly waiting proposal, unless the operator moved it elsewhere.

A proposal waits minutes at most, so the console brings it under the cursor (and, at start-up, opens on
Proposals when something already waits); it never takes the cursor from a row the operator chose. The
App composes one ``WaitingCursor`` and calls it on the UI thread only.
"""

from __future__ import annotations

from typing import Protocol

from smt_engine.domain import ProposalState
from smt_tui.screens.main import MainScreen
from smt_tui.state import ProposalView, Snapshot
from smt_tui.widgets.proposals_table import ProposalsTable


class CursorHost(Protocol):
    """What the cursor reads of the console: the latest snapshot and the dashboard."""

    @property
    def snapshot(self) -> Snapshot | None: ...

    @property
    def main(self) -> MainScreen: ...


class WaitingCursor:
    """Where the console may put the cursor, and the row it put it on (which the operator may take)."""

    def __init__(self, host: CursorHost) -> None:
        self._host = host
        self._follow: str | None = None
        """A proposal announced since the last drawing, to bring under the cursor."""
        self._auto_key: str | None = None
        """The row the console put the cursor on (not the operator): it may move it again."""
        self._opened = False

    def offer(self, key: str) -> None:
        """A proposal started waiting: follow it at the next drawing, unless one is already offered."""
        if self._follow is None:
            self._follow = key

    def keep(self) -> None:
        """The operator decided the selected row: the cursor stays on it (a second press must never land
        on another proposal the console moved to)."""
        self._auto_key = None

    def waiting(self, key: str) -> bool:
        snap = self._host.snapshot
        record = snap.find(key) if snap is not None else None
        return isinstance(record, ProposalView) and record.proposal.state is ProposalState.PROPOSED

    def follow(self) -> None:
        """Bring a newly waiting proposal under the cursor unless the operator moved it elsewhere.

        At start-up, when something already waits, the console opens on Proposals. Called once the
        dashboard is drawn.
        """
        key, self._follow = self._follow, None
        if key is None:
            key = self._stale_follow()
        if key is None:
            return
        main = self._host.main
        if not self._opened:
            self._opened = True
            main.show_tab("proposals")
        table = main.query_one(ProposalsTable)
        current = table.selected_key
        untouched = current in (None, key, self._auto_key) or not self.waiting(current or "")
        if untouched and table.select_key(key):
            self._auto_key = key

    def _stale_follow(self) -> str | None:
        """The next waiting proposal when the one the console put the cursor on stopped waiting.

        Only while the operator has not moved the cursor: the proposal it followed was decided (by the
        operator elsewhere, the engine, or its expiry) and another still waits.
        """
        snap, auto = self._host.snapshot, self._auto_key
        if snap is None or auto is None or self.waiting(auto) or not snap.waiting:
            return None
        if self._host.main.query_one(ProposalsTable).selected_key != auto:
            return None
        return snap.waiting[0].key

    def next_waiting(self) -> None:
        """Jump to the next waiting proposal (soonest to expire first), wrapping around."""
        snap = self._host.snapshot
        if snap is None or not snap.waiting:
            return
        keys = [v.key for v in snap.waiting]
        main = self._host.main
        table = main.query_one(ProposalsTable)
        current = table.selected_key if main.active_tab == "proposals" else None
        key = keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]
        if main.active_tab != "proposals":
            main.show_tab("proposals")
        table.select_key(key)
        self._auto_key = key
