"""The three state machines of docs/design.md, pair by pair: every move the design lists is allowed and
audited, every other one is refused and leaves neither a changed row nor an event (README, "Nothing is
left half-done")."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from itertools import product
from typing import Any

import pytest

from smt_engine.domain import OrderKind, OrderState, PositionState, ProposalState, Side
from smt_engine.store import Store
from smt_engine.store.base import Repo
from smt_engine.store.records import Order
from smt_engine.trading.orders import IllegalOrderTransition, advance_order, move_position
from smt_engine.trading.proposals import IllegalTransition, transition
from tests.unit.trading.conftest import NOW, eth_position, eth_proposal

P = ProposalState
PROPOSAL_MOVES = {
    P.PROPOSED: {P.APPROVED, P.REJECTED, P.EXPIRED, P.DENIED},
    P.APPROVED: {P.SUBMITTING, P.DENIED, P.FAILED},
    P.SUBMITTING: {P.OPEN, P.FAILED},
    P.OPEN: {P.CLOSED},
}
"""docs/design.md: proposed -> approved | rejected | expired | denied; approved -> submitting | denied |
failed; submitting -> open | failed; open -> closed. Nothing else, and nothing out of an end state."""

ORDER_MOVES = {
    OrderState.PENDING_SUBMIT: {OrderState.SUBMITTED, OrderState.REJECTED, OrderState.UNKNOWN},
    OrderState.SUBMITTED: {
        OrderState.PARTIALLY_FILLED,
        OrderState.FILLED,
        OrderState.CANCELLED,
        OrderState.REJECTED,
        OrderState.UNKNOWN,
    },
    OrderState.PARTIALLY_FILLED: {OrderState.FILLED, OrderState.CANCELLED, OrderState.UNKNOWN},
    OrderState.UNKNOWN: {
        OrderState.SUBMITTED,
        OrderState.PARTIALLY_FILLED,
        OrderState.FILLED,
        OrderState.CANCELLED,
        OrderState.REJECTED,
    },
}
"""docs/design.md: pending_submit -> submitted -> partially_filled -> filled, or cancelled | rejected; any
live state may become unknown, which a lookup resolves; filled, cancelled and rejected are final."""

S = PositionState
POSITION_MOVES = {S.OPEN: {S.CLOSING, S.CLOSED}, S.CLOSING: {S.CLOSED, S.OPEN}}
"""docs/design.md: open -> closing -> closed, open -> closed when the exchange closed it, closing -> open
when the close order ended unfilled; closed is final."""


def trail(store: Store, column: str, ref: int | None) -> list[tuple[str, str, str]]:
    events = store.events.select(f"{column} = ?", [ref], order_by="id")
    return [(e.kind, e.data["from"], e.data["to"]) for e in events]


def assert_refused(
    store: Store,
    repo: Repo[Any],
    column: str,
    ref: int,
    start: object,
    move: Callable[[], object],
    error: type[Exception] = IllegalOrderTransition,
) -> None:
    """A move the design does not list raises ``error`` and leaves the row where it was, with no event."""
    with pytest.raises(error):
        move()
    kept = repo.get(ref)
    assert kept is not None
    assert kept.state is start
    assert trail(store, column, ref) == []


@pytest.mark.parametrize(("start", "to"), list(product(ProposalState, ProposalState)), ids=str)
def test_a_proposal_moves_exactly_as_the_design_says_and_each_move_is_audited(
    store: Store, start: ProposalState, to: ProposalState
) -> None:
    proposal = store.proposals.insert(eth_proposal(state=start))
    assert proposal.id is not None
    if to in PROPOSAL_MOVES.get(start, set()):
        moved = transition(store, proposal.id, to, actor="tester", reason="why", at=NOW)
        assert moved.state is to
        assert trail(store, "proposal_id", proposal.id) == [(f"proposal.{to.value}", start.value, to.value)]
    else:
        refused = partial(transition, store, proposal.id, to, actor="tester", reason="why", at=NOW)
        assert_refused(store, store.proposals, "proposal_id", proposal.id, start, refused, IllegalTransition)


def order_in(store: Store, state: OrderState) -> Order:
    return store.orders.insert(
        Order(
            client_order_id="smt-1-entry",
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=OrderKind.ENTRY,
            size=Decimal("0.1"),
            state=state,
            created_at=NOW,
            updated_at=NOW,
        )
    )


def order_steps(start: OrderState, to: OrderState) -> list[OrderState] | None:
    """The audited steps from ``start`` to ``to`` (None: refused). An order asked to stay where it is moves
    nowhere; a pending order whose outcome a lookup found passes through unknown."""
    if to is start:
        return []
    if to in ORDER_MOVES.get(start, set()):
        return [to]
    if start is OrderState.PENDING_SUBMIT and to in ORDER_MOVES[OrderState.UNKNOWN]:
        return [OrderState.UNKNOWN, to]
    return None


@pytest.mark.parametrize(("start", "to"), list(product(OrderState, OrderState)), ids=str)
def test_an_order_moves_exactly_as_the_design_says_and_each_step_is_audited(
    store: Store, start: OrderState, to: OrderState
) -> None:
    order = order_in(store, start)
    steps = order_steps(start, to)
    assert order.id is not None
    if steps is None:
        refused = partial(advance_order, store, order, to, actor="tester", reason="why", at=NOW)
        assert_refused(store, store.orders, "order_id", order.id, start, refused)
        return
    moved = advance_order(store, order, to, actor="tester", reason="why", at=NOW)
    assert moved.state is to
    froms = [start, *steps][:-1]
    assert trail(store, "order_id", order.id) == [
        (f"order.{step.value}", before.value, step.value) for before, step in zip(froms, steps, strict=True)
    ]


@pytest.mark.parametrize("state", list(OrderState), ids=str)
def test_exactly_the_states_an_order_never_leaves_are_terminal(state: OrderState) -> None:
    """The in-flight tracker finishes every order that is not terminal; a terminal one never moves again."""
    assert state.is_terminal is (state not in ORDER_MOVES)


@pytest.mark.parametrize(("start", "to"), list(product(PositionState, PositionState)), ids=str)
def test_a_position_moves_exactly_as_the_design_says_and_each_move_is_audited(
    store: Store, start: PositionState, to: PositionState
) -> None:
    position = store.positions.insert(eth_position(state=start))
    assert position.id is not None
    if to in POSITION_MOVES.get(start, set()):
        moved = move_position(store, position.id, to, actor="tester", message="moved", at=NOW)
        assert moved.state is to
        assert trail(store, "position_id", position.id) == [(f"position.{to.value}", start.value, to.value)]
    else:
        refused = partial(move_position, store, position.id, to, actor="tester", message="moved", at=NOW)
        assert_refused(store, store.positions, "position_id", position.id, start, refused)
