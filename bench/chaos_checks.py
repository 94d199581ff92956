"""What the chaos bench checks after each restart, read from the venue and the database.

The venue's open orders and positions come from the fake venue's own books (``Truth``), not its API:
WEEX lists an attached take-profit of a flat symbol on no open-order endpoint, so a check reading the
API would miss exactly the leg a closed position left behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from smt_engine.domain import OrderKind, OrderState, PositionState, ProposalState, Side
from smt_engine.exchange.base import ExchangePosition, OrderStatus
from smt_engine.store import Store
from smt_engine.store.records import Order, Position

CHECKS = (
    "duplicate_client_ids",
    "double_filled_entries",
    "filled_entries_of_failed_proposals",
    "positions_without_stop",
    "tp_sl_left_for_closed_positions",
    "legs_of_closed_positions",
    "books_contradict_venue",
    "duplicate_rows_per_venue_order",
    "position_mismatches",
    "stuck_orders",
    "stuck_proposals",
    "phantom_exposure_refusals",
    "integrity_failures",
)
"""Every figure must be zero."""


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    examples: dict[str, list[str]] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    """How often each check was made: a zero count means something only where this is not zero."""

    def add(self, check: str, found: list[str]) -> None:
        self.runs[check] += 1
        self.counts[check] += len(found)
        if found:
            self.examples.setdefault(check, []).extend(found[:3])

    @property
    def clean(self) -> bool:
        return not any(self.counts.values())


Held = dict[tuple[str, Side], Decimal]


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One open order in the fake venue's own list (``leg``: a resting TP/SL trigger)."""

    order_id: str
    symbol: str
    side: Side
    kind: str
    leg: bool
    status: OrderStatus
    size: Decimal
    trigger_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Truth:
    """The fake venue's books at one moment: open orders, held positions, the price of each held symbol."""

    orders: list[VenueOrder]
    held: Held
    prices: dict[str, Decimal]

    @classmethod
    def parse(cls, answer: dict[str, Any]) -> Truth:
        """From the answer to the fake venue process's ``orders`` command."""
        orders = [
            VenueOrder(
                order_id=o["order_id"],
                symbol=o["symbol"],
                side=Side(o["side"]),
                kind=o["kind"],
                leg=o["leg"],
                status=OrderStatus(o["status"]),
                size=Decimal(o["size"]),
                trigger_price=None if o["trigger_price"] is None else Decimal(o["trigger_price"]),
            )
            for o in answer["orders"]
        ]
        held = {(p["symbol"], Side(p["side"])): Decimal(p["size"]) for p in answer["positions"]}
        return cls(orders, held, {s: Decimal(v) for s, v in answer["prices"].items()})

    @property
    def legs(self) -> list[VenueOrder]:
        return [o for o in self.orders if o.leg and o.status.is_open]


def by_venue_id(rows: list[Order]) -> dict[str, Order]:
    """Order rows by venue order id; the first row wins, as ``orders.by_exchange_id`` answers."""
    found: dict[str, Order] = {}
    for o in rows:
        if o.exchange_order_id:
            found.setdefault(o.exchange_order_id, o)
    return found


def keyed(positions: list[ExchangePosition]) -> Held:
    return {(p.symbol, p.side): p.size for p in positions if p.size > 0}


def stops_missing(
    held: Held, legs: list[VenueOrder], rows: dict[str, Order], open_ids: dict[tuple[str, Side], int]
) -> list[str]:
    """Held positions with no stop of their own covering their size.

    A stop is the position's own when its order row belongs to the open position of that symbol and
    side, or to no position (a leg the books do not know or hold as an orphan, which the engine adopts).
    A stop a closed position left there is not: WEEX fires it at the old trigger and size.
    """

    def covers(leg: VenueOrder, key: tuple[str, Side], size: Decimal) -> bool:
        if leg.kind != "sl" or (leg.symbol, leg.side) != key or leg.size < size:
            return False
        row = rows.get(leg.order_id)
        return row is None or row.position_id is None or row.position_id == open_ids.get(key)

    return [
        f"{s} {side.value} {size}"
        for (s, side), size in held.items()
        if not any(covers(leg, (s, side), size) for leg in legs)
    ]


def orphan_legs(held: Held, legs: list[VenueOrder]) -> list[str]:
    """Legs resting on a symbol and side that holds no position (attached take-profits included)."""
    return [
        f"{a.kind} {a.order_id} on {a.symbol} {a.side.value}" for a in legs if (a.symbol, a.side) not in held
    ]


def legs_of_closed_positions(
    held: Held, legs: list[VenueOrder], rows: dict[str, Order], positions: dict[int, Position]
) -> list[str]:
    """Open legs whose order row belongs to a closed position, whether or not the side is held again.

    A leg acts on the symbol and side, so one left on a newer position of the same side would close it
    at the old trigger and size. The one exception is the engine's own: a closed position's stop on a
    held side with no other stop, kept so the newer position is never left without one
    (``positions_without_stop`` counts that position).
    """

    def closed(leg: VenueOrder) -> bool:
        row = rows.get(leg.order_id)
        position = positions.get(row.position_id) if row is not None and row.position_id is not None else None
        return position is not None and position.state is PositionState.CLOSED

    found = []
    for leg in legs:
        if not closed(leg):
            continue
        key = (leg.symbol, leg.side)
        if leg.kind == "sl" and key in held:
            others = [
                o
                for o in legs
                if o.kind == "sl"
                and (o.symbol, o.side) == key
                and o.order_id != leg.order_id
                and not closed(o)
            ]
            if not others:
                continue
        found.append(f"{leg.kind} {leg.order_id} on {leg.symbol} {leg.side.value} (position closed)")
    return found


def books_contradict_venue(rows: list[Order], venue: list[VenueOrder]) -> list[str]:
    """Order rows the books call finished (filled, cancelled, rejected) that the venue still has open."""
    open_ids = {o.order_id for o in venue if o.status.is_open}
    return [
        f"{o.kind.value} {o.exchange_order_id} {o.state.value} in the books, open at the venue"
        for o in rows
        if o.state.is_terminal and o.exchange_order_id in open_ids
    ]


def duplicate_rows(rows: list[Order]) -> list[str]:
    """Venue orders recorded by more than one order row."""
    per: dict[str, list[int]] = {}
    for o in rows:
        if o.exchange_order_id:
            per.setdefault(o.exchange_order_id, []).append(o.id or 0)
    return [f"venue order {oid}: rows {ids}" for oid, ids in per.items() if len(ids) > 1]


def mismatches(store: Store, positions: list[ExchangePosition]) -> list[str]:
    """Positions the engine and the exchange disagree on.

    An entry the running engine is submitting right now (it may have filled a moment before the
    executor records it) is work in flight, not a disagreement; a leftover one is ``stuck_proposals``.
    """
    ours = {(p.symbol, p.side): p.size for p in store.positions.open_positions()}
    theirs = keyed(positions)
    submitting = {(p.symbol, p.side) for p in store.proposals.in_state(ProposalState.SUBMITTING)}
    return [
        f"{key[0]} {key[1].value}: engine {ours.get(key)} vs exchange {theirs.get(key)}"
        for key in set(ours) | set(theirs)
        if ours.get(key) != theirs.get(key) and key not in submitting
    ]


def stuck_orders(store: Store, resting: set[str], before: datetime) -> list[str]:
    """Orders a previous run left that are still non-terminal (resting TP/SL legs the venue lists apart).

    Work the restarted engine began itself (``created_at >= before``) is in flight, not left over.
    """
    return [
        f"{o.kind.value} {o.client_order_id} {o.state.value}"
        for o in store.orders.open_orders()
        if o.created_at < before
        and not (
            o.state is OrderState.SUBMITTED
            and o.kind in (OrderKind.TP, OrderKind.SL)
            and o.exchange_order_id in resting
        )
    ]


def stuck_proposals(store: Store, before: datetime) -> list[str]:
    return [
        f"#{p.id} {p.state.value}"
        for p in store.proposals.in_state(ProposalState.APPROVED, ProposalState.SUBMITTING)
        if p.created_at < before
    ]


def double_fills(store: Store) -> list[str]:
    per: dict[int, int] = {}
    for o in store.orders.select():
        if o.kind is OrderKind.ENTRY and o.state is OrderState.FILLED and o.proposal_id is not None:
            per[o.proposal_id] = per.get(o.proposal_id, 0) + 1
    return [f"proposal #{pid}: {n} filled entries" for pid, n in per.items() if n > 1]


def filled_entries_of_failed_proposals(rows: list[Order], states: dict[int, ProposalState]) -> list[str]:
    """Entries the books hold filled whose proposal failed: a trade the venue made and the books lost (no
    position, no PnL), as when it opened and closed where no read could see it."""
    return [
        f"proposal #{o.proposal_id}: entry {o.client_order_id} {o.state.value}, proposal failed"
        for o in rows
        if o.kind is OrderKind.ENTRY
        and o.state in (OrderState.FILLED, OrderState.PARTIALLY_FILLED)
        and o.proposal_id is not None
        and states.get(o.proposal_id) is ProposalState.FAILED
    ]


def phantom_refusals(
    store: Store,
    since_id: int,
    snapshots: list[dict[tuple[str, Side], Decimal]],
    max_open: int,
) -> list[str]:
    """Entries refused for exposure the exchange did not have in any snapshot around the cycle.

    ``duplicate_position``: no snapshot shows that position. ``max_open_positions``: every snapshot
    shows fewer positions than the limit, even counting the entries picked earlier in the same cycle.
    """
    found: list[str] = []
    proposals = store.proposals.select("id > ?", [since_id], order_by="id")
    for p in proposals:
        if p.state is not ProposalState.DENIED:
            continue
        key = (p.symbol, p.side)
        if "duplicate_position" in p.reason_codes and all(key not in snap for snap in snapshots):
            found.append(f"#{p.id} {p.symbol} {p.side.value}: duplicate_position with no such position")
        if "max_open_positions" in p.reason_codes:
            earlier = sum(
                1
                for q in proposals
                if q.cycle_id == p.cycle_id
                and (q.id or 0) < (p.id or 0)
                and q.state is not ProposalState.DENIED
            )
            if all(len(snap) + earlier < max_open for snap in snapshots):
                found.append(f"#{p.id}: max_open_positions with {min(map(len, snapshots))} position(s)")
    return found


def summary(tally: Tally, *, exercised: bool, **extra: Any) -> dict[str, Any]:
    """The report; ``clean`` needs every check at 0 and a run that sent orders at all (``exercised``)."""
    return {
        "checks": tally.counts,
        "check_runs": tally.runs,
        "examples": tally.examples,
        "clean": tally.clean and exercised,
        "exercised": exercised,
        **extra,
    }
