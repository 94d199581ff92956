"""Proposals: pending ones first, with confidence, margin/notional, TP/SL, expiry and gate results."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from smt_engine.domain import ProposalState
from smt_tui import fmt
from smt_tui.state import ProposalView
from smt_tui.widgets.keyed_table import KeyedTable, Row

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
    return Text(f"✓ {len(gates)}/{len(gates)}", style="green")


def proposal_row(view: ProposalView, now: datetime) -> Row:
    p = view.proposal
    if p.state is ProposalState.PROPOSED and p.expires_at is not None:
        left = p.expires_at - now
        expiry = Text(fmt.duration(left), style="red" if left.total_seconds() < 60 else "")
    else:
        expiry = Text("-", style="dim")
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
            expiry,
            gates_summary(view),
        ),
    )


class ProposalsTable(KeyedTable):
    KIND = "proposal"
    COLUMNS = (
        ("id", "#"),
        ("state", "State"),
        ("pair", "Pair"),
        ("conf", "Conf"),
        ("size", "Margin/Notional"),
        ("lev", "Lev"),
        ("tpsl", "TP/SL"),
        ("expiry", "Expires"),
        ("gates", "Gates"),
    )

    def show(self, proposals: tuple[ProposalView, ...], now: datetime) -> None:
        self.sync([proposal_row(v, now) for v in proposals])
