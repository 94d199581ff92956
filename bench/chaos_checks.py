"""What the chaos bench checks after each restart, read from the venue (over its API) and the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from smt_engine.domain import OrderKind, OrderState, ProposalState, Side
from smt_engine.exchange.base import AlgoOrder, ExchangePosition
from smt_engine.store import Store

CHECKS = (
    "duplicate_client_ids",
    "double_filled_entries",
    "positions_without_stop",
    "tp_sl_left_for_closed_positions",
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

    def add(self, check: str, found: list[str]) -> None:
        self.counts[check] += len(found)
        if found:
            self.examples.setdefault(check, []).extend(found[:3])

    @property
    def clean(self) -> bool:
        return not any(self.counts.values())


def keyed(positions: list[ExchangePosition]) -> dict[tuple[str, Side], Decimal]:
    return {(p.symbol, p.side): p.size for p in positions if p.size > 0}


def stops_missing(positions: list[ExchangePosition], algos: list[AlgoOrder]) -> list[str]:
    with_stop = {(a.symbol, a.position_side) for a in algos if a.kind == "sl" and a.status.is_open}
    return [f"{s} {side.value}" for (s, side) in keyed(positions) if (s, side) not in with_stop]


def orphan_legs(positions: list[ExchangePosition], algos: list[AlgoOrder]) -> list[str]:
    held = keyed(positions)
    return [
        f"{a.kind} {a.order_id} on {a.symbol} {a.position_side.value}"
        for a in algos
        if a.status.is_open and (a.symbol, a.position_side) not in held
    ]


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
        "examples": tally.examples,
        "clean": tally.clean and exercised,
        "exercised": exercised,
        **extra,
    }
