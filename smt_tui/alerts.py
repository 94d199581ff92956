"""What the operator must be told when a new snapshot arrives: a proposal waiting or expired unapproved, a
position opened, closed or about to be force-closed, a component degraded or recovered. Pure: compares two
snapshots, returns plain-words notices."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from smt_engine.domain import HealthStatus, ProposalState
from smt_engine.store.records import Position
from smt_tui import fmt
from smt_tui.state import Snapshot

_BAD = (HealthStatus.WARN, HealthStatus.DOWN)
FORCED_SOON = timedelta(minutes=10)
"""A forced close (max hold) this close is announced like a waiting proposal: toast, bell, header."""


@dataclass(frozen=True, slots=True)
class Notice:
    message: str
    title: str
    severity: str = "information"
    bell: bool = False
    key: str | None = None
    """The row this notice is about (a new waiting proposal: the cursor may follow)."""
    position_id: int | None = None
    """The position a forced-close notice is about (announced once)."""


def forced_soon(snap: Snapshot, now: datetime) -> list[tuple[Position, timedelta]]:
    """Open positions the engine will force-close (max hold) within ``FORCED_SOON``, soonest first."""
    max_hold = snap.max_hold()
    if max_hold is None:
        return []
    due = [(p, p.opened_at + max_hold - now) for p in snap.open_positions]
    return sorted(((p, left) for p, left in due if left <= FORCED_SOON), key=lambda pair: pair[1])


def forced_notices(snap: Snapshot, now: datetime, told: Collection[int]) -> list[Notice]:
    """A forced close coming within minutes, announced once per position like a waiting proposal."""
    out: list[Notice] = []
    for pos, left in forced_soon(snap, now):
        if pos.id in told:
            continue
        when = f"in {fmt.countdown(left)}" if left.total_seconds() > 0 else "now"
        out.append(
            Notice(
                f"{pos.symbol} {pos.side.value} reaches its max hold {when}: the engine closes it at market "
                f"(uPnL {pos.unrealized_pnl:+,.2f} USDT). 1 to see it, x to close it yourself.",
                "Forced close soon",
                "warning",
                bell=True,
                position_id=pos.id,
            )
        )
    return out


def notices(before: Snapshot | None, after: Snapshot, now: datetime, running: bool = True) -> list[Notice]:
    """Changes between two snapshots worth a toast. Nothing on the first snapshot but what waits.

    ``running``: an engine is there to act. Without one nothing waiting can be approved, so the first
    snapshot of a finished database announces nothing.
    """
    out: list[Notice] = []
    if not running and before is None:
        return out
    old_waiting = {v.proposal.id for v in before.waiting} if before is not None else set()
    for view in after.waiting:
        p = view.proposal
        if p.id in old_waiting:
            continue
        left = f", {fmt.duration(p.expires_at - now)} left" if p.expires_at else ""
        out.append(
            Notice(
                f"#{p.id} {p.pair} {p.side.value} {fmt.confidence(p.confidence)}: margin "
                f"{fmt.money(p.margin)} USDT at {p.leverage}x{left}. 2 or w to see it, a to approve.",
                "Proposal awaiting approval",
                "warning",
                bell=True,
                key=view.key,
            )
        )
    if before is None:
        return out
    states = {v.proposal.id: v.proposal.state for v in after.proposals}
    for view in before.waiting:
        p = view.proposal
        if states.get(p.id) is ProposalState.EXPIRED:
            out.append(
                Notice(
                    f"#{p.id} {p.pair} {p.side.value} expired unapproved: nothing was traded.",
                    "Proposal expired",
                    "warning",
                )
            )
    old_open = {p.id for p in before.positions}
    for pos in after.positions:
        if pos.id not in old_open:
            out.append(
                Notice(
                    f"Opened {pos.symbol} {pos.side.value} {fmt.price(pos.size)} "
                    f"@ {fmt.price(pos.entry_price)}, "
                    f"TP {fmt.price(pos.tp_price)} / SL {fmt.price(pos.sl_price)}",
                    "Position opened",
                )
            )
    old_closed = {p.id for p in before.history}
    for pos in after.history:
        if pos.id in old_closed or pos.id not in old_open:
            continue
        reason = pos.close_reason.value if pos.close_reason else "closed"
        pnl = f"{pos.realized_pnl:+,.2f} USDT" if pos.realized_pnl is not None else "PnL not known yet"
        out.append(
            Notice(
                f"Closed {pos.symbol} {pos.side.value} @ {fmt.price(pos.exit_price)} ({reason}): {pnl}",
                "Position closed",
            )
        )
    old_health = {h.component: h.status for h in before.health}
    for row in after.health:
        was = old_health.get(row.component, HealthStatus.OK)
        if row.status in _BAD and was is not row.status:
            out.append(
                Notice(
                    f"{row.component} {row.status.value}: {row.detail or 'no detail'}",
                    "Health",
                    "error" if row.status is HealthStatus.DOWN else "warning",
                )
            )
        elif row.status is HealthStatus.OK and was in _BAD:
            out.append(Notice(f"{row.component} ok again", "Health"))
    return out
