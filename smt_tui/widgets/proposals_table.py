"""Proposals: waiting ones first, with live drift against its limit, time left and gate results."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from smt_engine.domain import ProposalState
from smt_engine.store.limits import Limit, drift_name
from smt_tui import fmt
from smt_tui.state import ProposalView
from smt_tui.widgets.keyed_table import Col, KeyedTable, Row

_STATE_STYLE = {
    ProposalState.PROPOSED: "bold yellow",
    ProposalState.DENIED: "red",
    ProposalState.REJECTED: "dim",
    ProposalState.EXPIRED: "dim",
    ProposalState.OPEN: "green",
    ProposalState.FAILED: "bold red",
}


def gates_summary(view: ProposalView) -> Text:
    gates = view.proposal.gates
    if not gates:
        return Text(", ".join(view.proposal.reason_codes) or "-")
    failed = [str(g.get("gate") or g.get("name")) for g in gates if g.get("passed", g.get("ok")) is False]
    if failed:
        return Text("✗ " + ", ".join(failed), style="red")
    if view.proposal.reason_codes:
        # Passed every gate but refused anyway (e.g. only the best N per cycle are acted on): say why.
        return Text("✗ " + ", ".join(view.proposal.reason_codes), style="red")
    return Text(f"✓ {len(gates)}/{len(gates)} passed", style="green")


def drift_text(drift: Limit | None) -> Text:
    """The engine's live drift measurement against the approval limit (red at or over it)."""
    if drift is None or drift.used is None:
        return Text("-", style="dim")
    over = drift.used >= drift.value
    return Text(f"{drift.used:.2f}/{drift.value}%", style="bold red" if over else "")


def time_left(view: ProposalView, now: datetime) -> Text:
    p = view.proposal
    if p.state is not ProposalState.PROPOSED or p.expires_at is None:
        return Text("-", style="dim")
    left = p.expires_at - now
    if left.total_seconds() <= 0:
        return Text("expiring", style="bold red")
    return Text(fmt.countdown(left), style="bold red" if left.total_seconds() < 60 else "bold")


def proposal_row(view: ProposalView, now: datetime, drift: Limit | None) -> Row:
    p = view.proposal
    waiting = p.state is ProposalState.PROPOSED
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
            time_left(view, now),
            gates_summary(view),
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
        Col("gates", "Gates", 1, text=True),
    )

    def show(self, proposals: tuple[ProposalView, ...], now: datetime, limits: dict[str, Limit]) -> None:
        self.sync([proposal_row(v, now, limits.get(drift_name(v.proposal.id or 0))) for v in proposals])
