"""What applies, asked of ``KeyRules`` without an App: the rules read only the snapshot and the screen
stack the host shows them, so a stand-in host with a real snapshot is enough."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.screen import Screen

from smt_engine.store import Store
from smt_tui.app import ConsoleApp
from smt_tui.keys import KeyRules
from smt_tui.screens.confirm import ConfirmModal
from smt_tui.screens.detail import DetailScreen
from smt_tui.state import ReadModel, Snapshot
from tests.tui.conftest import UnexpandedDetail
from tests.tui.fixtures import NOW, Fixture


@dataclass
class Host:
    snapshot: Snapshot | None
    readonly: bool = False
    screen_stack: list[Screen[Any]] = field(default_factory=list)

    @property
    def screen(self) -> Screen[object]:
        return self.screen_stack[-1]


def snapshot_of(fixture: Fixture) -> Snapshot:
    store = Store.open(fixture.path, readonly=True)
    try:
        snap = ReadModel(store, now=lambda: NOW).poll()
    finally:
        store.close()
    assert snap is not None
    return snap


def test_the_rules_answer_from_the_snapshot_and_the_screen_on_top(fixture_db: Fixture) -> None:
    waiting = DetailScreen(UnexpandedDetail(), f"proposal:{fixture_db.pending_id}", "Proposal", "")
    host = Host(snapshot_of(fixture_db), screen_stack=[waiting])
    rules = KeyRules(host, ConsoleApp.BINDINGS)
    assert rules.selected_key() == f"proposal:{fixture_db.pending_id}"
    assert (rules.allows("approve"), rules.allows("close_position"), rules.allows("quit")) == (
        True,
        False,
        True,
    )
    assert rules.why_not("close_position") == "close: select an open position first (1 opens Positions)"

    host.screen_stack.append(ConfirmModal("Approve?", "body"))
    assert (rules.allows("approve"), rules.allows("quit")) == (False, True)  # only quit over a question

    host.readonly = True
    host.screen_stack.pop()
    assert rules.allows("approve") is None  # shown, but a read-only viewer cannot write
    assert rules.why_not("approve").startswith("approve: this is a read-only viewer")


def test_a_decided_proposal_says_why_it_cannot_be_decided_again(fixture_db: Fixture) -> None:
    denied = DetailScreen(UnexpandedDetail(), f"proposal:{fixture_db.denied_id}", "Proposal", "")
    rules = KeyRules(Host(snapshot_of(fixture_db), screen_stack=[denied]), ConsoleApp.BINDINGS)
    assert rules.state("reject") is False
    assert rules.why_not("reject") == (
        f"reject: #{fixture_db.denied_id} is denied, only a waiting proposal can be decided"
    )


def test_before_the_first_read_nothing_applies_and_the_console_says_so() -> None:
    rules = KeyRules(
        Host(None, screen_stack=[DetailScreen(UnexpandedDetail(), "proposal:1", "Proposal", "")]),
        ConsoleApp.BINDINGS,
    )
    assert rules.state("pause") is False
    assert rules.why_not("pause") == "pause: the console has not read the database yet"
    assert [a for a, _, _ in rules.palette_actions()][:3] == ["approve", "reject", "close_position"]
