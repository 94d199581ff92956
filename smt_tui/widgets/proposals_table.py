"""Proposals: waiting ones first, with live drift against its limit, time left and a verdict (refused by a
gate, past its drift limit, unapprovable, contradicted by its whale evidence, or clear)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from rich.text import Text

from smt_engine.domain import ProposalState
from smt_engine.store.limits import Limit
from smt_tui import fmt
from smt_tui.state import ProposalView, Snapshot
from smt_tui.verdict import verdict
from smt_tui.widgets.keyed_table import Col, KeyedTable, Row

_STATE_STYLE = {
    ProposalState.PROPOSED: "bold yellow",
    ProposalState.DENIED: "red",
    ProposalState.REJECTED: "dim",
    ProposalState.EXPIRED: "dim",
    ProposalState.OPEN: "green",
    ProposalState.FAILED: "bold red",
}


def drift_text(drift: Limit | None) -> Text:
    """The engine's live drift measurement against the approval limit (red at or over it)."""
    if drift is None or drift.used is None:
        return Text("-", style="dim")
    over = drift.used >= drift.value
    return Text(f"{drift.used:.2f}/{drift.value}%", style="bold red" if over else "")


def time_left(view: ProposalView, now: datetime, live: bool = True) -> Text:
    """Time left to approve; none without a running engine (nothing would act on an approval)."""
    p = view.proposal
    if p.state is not ProposalState.PROPOSED or p.expires_at is None:
        return Text("-", style="dim")
    if not live:
        return Text("no engine", style="dim")
    left = p.expires_at - now
    if left.total_seconds() <= 0:
        return Text("expiring", style="bold red")
    return Text(fmt.countdown(left), style="bold red" if left.total_seconds() < 60 else "bold")


def proposal_row(
    view: ProposalView, now: datetime, snap: Snapshot, whale_pairs: Collection[str] | None, live: bool = True
) -> Row:
    p = view.proposal
    waiting = p.state is ProposalState.PROPOSED and live
    drift = snap.drift(p.id)
    return (
        view.key,
        (
            str(p.id),
            Text(p.state.value, style=_STATE_STYLE.get(p.state, "")),
            f"{p.pair} {p.side.value}",
            fmt.confidence(p.confidence),
            f"{fmt.money(p.margin)}/{fmt.money(p.notional, 0)}",
            f"{p.leverage}x",
            f"{fmt.price(p.tp_price)}/{fmt.price(p.sl_price)}",
            drift_text(drift) if waiting else Text("-", style="dim"),
            time_left(view, now, live),
            verdict(view, snap, whale_pairs, live),
        ),
    )


class ProposalsTable(KeyedTable):
    COLUMNS = (
        Col("id", "#", right=True),
        Col("state", "State"),
        Col("pair", "Pair"),
        Col("conf", "Conf", 2, right=True),
        Col("size", "Margin/Notional", right=True),
        Col("lev", "Lev", 4, right=True),
        Col("tpsl", "TP/SL", 3, right=True),
        Col("drift", "Drift/limit", right=True),
        Col("left", "Left", right=True),
        Col("verdict", "Verdict", 1, text=True),
    )

    def show(
        self, snap: Snapshot, now: datetime, whale_pairs: Collection[str] | None = None, live: bool = True
    ) -> None:
        self.sync([proposal_row(v, now, snap, whale_pairs, live) for v in snap.proposals])
