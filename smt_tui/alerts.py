"""What the operator must be told when a new snapshot arrives: a proposal waiting, a position opened or
closed, a component degraded or recovered. Pure: compares two snapshots, returns plain-words notices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from smt_engine.domain import HealthStatus
from smt_tui import fmt
from smt_tui.state import Snapshot

_BAD = (HealthStatus.WARN, HealthStatus.DOWN)


@dataclass(frozen=True, slots=True)
class Notice:
    message: str
    title: str
    severity: str = "information"
    bell: bool = False
    key: str | None = None
    """The row this notice is about (a new waiting proposal: the cursor may follow)."""


def notices(before: Snapshot | None, after: Snapshot, now: datetime) -> list[Notice]:
    """Changes between two snapshots worth a toast. Nothing on the first snapshot but what waits."""
    out: list[Notice] = []
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
