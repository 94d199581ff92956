"""One row described in full, as rich text: a proposal's why, a position, an order, an event, a decision,
a whale or a transfer. The detail screen and the side pane show what this builds.

Everything is built from the snapshot already in memory, so describing a row never touches the
database on the UI thread.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from smt_engine.domain import PositionState
from smt_engine.store.records import Analysis, Event, Order, Position, Whale, WhaleTransfer
from smt_tui import fmt, why
from smt_tui.state import ProposalView, Snapshot
from smt_tui.widgets.positions_table import forced_close_in


def rationale(analysis: Analysis | None) -> RenderableType:
    """The analyst's side of a decision: reasoning and catalyst (linked [n]), risks, grounding, errors."""
    if analysis is None:
        return Text("No analysis recorded for this item.", style="dim")
    decision: dict[str, Any] = analysis.decision or {}
    risks = decision.get("risk_factors") or []
    if isinstance(risks, str):
        risks = [risks]
    parts: list[RenderableType] = [
        fmt.kv(
            [
                ("analyst", f"{analysis.analyst.value} ({analysis.model})"),
                ("decision", f"{analysis.action.value} at {fmt.confidence(analysis.confidence)}"),
                ("grounded", "yes" if analysis.grounded else "no"),
                ("latency", f"{analysis.latency_ms} ms" if analysis.latency_ms is not None else "-"),
                ("attempts", analysis.attempts),
                ("at", fmt.stamp(analysis.created_at)),
            ]
        ),
        fmt.heading("Reasoning"),
        why.cited(str(decision.get("reasoning") or "-"), analysis.sources),
        fmt.heading("Key catalyst"),
        why.cited(str(decision.get("key_catalyst") or "-"), analysis.sources),
        fmt.heading("Risk factors"),
        Text("\n".join(f"• {r}" for r in risks) or "-"),
        fmt.heading("Grounding sources"),
        *why.source_lines(analysis.sources),
        *why.search_lines(analysis),
    ]
    if analysis.error:
        parts.append(fmt.heading("Errors"))
        parts.append(Text(analysis.error, style="bold red"))
    return Group(*parts)


def describe_position(p: Position, snap: Snapshot, now: datetime, running: bool = True) -> RenderableType:
    """Every figure of the row, whole: what a narrow table leaves out (size, entry, mark, ROE) is here."""
    roe = fmt.pct_of(p.unrealized_pnl, p.margin) if p.margin else None
    forced: str | Text = "-"
    if p.state is not PositionState.CLOSED:
        max_hold = snap.max_hold()
        forced = forced_close_in(p, now, max_hold, running)
        if max_hold is not None:
            forced = Text.assemble(forced, f" (at {fmt.stamp(p.opened_at + max_hold)}, max hold)")
    return fmt.kv(
        [
            ("position", f"#{p.id} {p.symbol} {p.side.value} ({p.state.value})"),
            ("size", fmt.price(p.size)),
            ("entry / mark", f"{fmt.price(p.entry_price)} / {fmt.price(p.mark_price)}"),
            ("margin", f"{fmt.money(p.margin)} USDT at {p.leverage}x"),
            (
                "unrealised PnL",
                Text.assemble(fmt.signed(p.unrealized_pnl), " USDT, ROE ", fmt.signed(roe, 1, "%")),
            ),
            ("take profit", f"{fmt.target(p.tp_price, p.mark_price)} (order {p.tp_order_id or '-'})"),
            ("stop loss", f"{fmt.target(p.sl_price, p.mark_price)} (order {p.sl_order_id or '-'})"),
            ("forced close", forced),
            ("opened", f"{fmt.stamp(p.opened_at)} ({fmt.duration(now - p.opened_at)} ago)"),
            ("proposal", p.proposal_id or ("adopted" if p.adopted else "-")),
            ("closed", f"{fmt.stamp(p.closed_at)} {p.close_reason.value if p.close_reason else ''}"),
            ("exit / realised", f"{fmt.price(p.exit_price)} / {fmt.money(p.realized_pnl)}"),
        ]
    )


def describe_order(o: Order) -> RenderableType:
    return Group(
        fmt.kv(
            [
                ("order", f"#{o.id} {o.kind.value} {o.symbol} {o.side.value}"),
                ("client id", o.client_order_id),
                ("exchange id", o.exchange_order_id or "-"),
                ("state", o.state.value + ("  ORPHAN" if o.orphan else "")),
                ("size", fmt.price(o.size)),
                ("price / trigger", f"{fmt.price(o.price)} / {fmt.price(o.trigger_price)}"),
                ("position / proposal", f"{o.position_id or '-'} / {o.proposal_id or '-'}"),
                ("created / updated", f"{fmt.stamp(o.created_at)} / {fmt.stamp(o.updated_at)}"),
                ("error", o.error or "-"),
            ]
        ),
        fmt.heading("Request"),
        Text(json.dumps(o.request, indent=2, sort_keys=True)),
        fmt.heading("Response"),
        Text(json.dumps(o.response, indent=2, sort_keys=True) if o.response is not None else "-"),
    )


def describe_event(e: Event) -> RenderableType:
    refs = {
        "cycle": e.cycle_id,
        "proposal": e.proposal_id,
        "order": e.order_id,
        "position": e.position_id,
    }
    return Group(
        fmt.kv(
            [
                ("event", f"#{e.id} {e.kind}"),
                ("level", e.level.value),
                ("at", fmt.stamp(e.at)),
                ("refs", ", ".join(f"{k} {v}" for k, v in refs.items() if v) or "-"),
            ]
        ),
        fmt.heading("Message"),
        Text(e.message),
        fmt.heading("Data"),
        Text(json.dumps(e.data, indent=2, sort_keys=True) if e.data else "-"),
    )


def describe_whale(w: Whale) -> RenderableType:
    top = sorted(w.features.items(), key=lambda kv: -abs(kv[1]))[:8]
    return Group(
        fmt.kv(
            [
                ("whale", w.address),
                ("label", w.label or "-"),
                ("class", f"{w.whale_class} at {fmt.confidence(w.class_confidence)}"),
                ("classified by", f"{w.classified_by} {w.model_version or ''}"),
                ("volume", f"{fmt.money(w.volume_eth)} ETH"),
                ("first seen / updated", f"{fmt.stamp(w.first_seen_at)} / {fmt.stamp(w.updated_at)}"),
            ]
        ),
        fmt.heading("Top features"),
        fmt.kv((name, f"{value:.4g}") for name, value in top),
    )


def describe_transfer(t: WhaleTransfer) -> RenderableType:
    return fmt.kv(
        [
            ("tx", t.tx_hash),
            ("from", t.from_address),
            ("to", t.to_address),
            ("value", f"{fmt.money(t.value_eth)} ETH"),
            ("direction", f"{fmt.exchange_direction(t.direction)} {t.exchange_label or ''}".strip()),
            ("block / at", f"{t.block} / {fmt.stamp(t.at)}"),
        ]
    )


def describe_decision(a: Analysis) -> RenderableType:
    return Group(Text(f"{a.pair}: latest analysis #{a.id}", style="bold"), rationale(a))


def describe(
    snap: Snapshot,
    key: str,
    now: datetime,
    expanded: frozenset[str] = frozenset(),
    whale_pairs: Collection[str] | None = None,
    running: bool = True,
) -> tuple[str, RenderableType] | None:
    """The title and body of the row behind ``key``; None when the snapshot no longer has it.

    ``whale_pairs``: the pairs that get whale intelligence (evidence is shown only for those);
    ``running``: an engine is there to act (without one, no countdown is shown).
    """
    record = snap.find(key)
    if isinstance(record, ProposalView):
        p = record.proposal
        body = why.proposal_why(record, snap, now, expanded, whale_pairs, running)
        return f"Proposal #{p.id}: {p.pair} {p.side.value}", body
    if isinstance(record, Position):
        return f"Position #{record.id}: {record.symbol} {record.side.value}", describe_position(
            record, snap, now, running
        )
    if isinstance(record, Order):
        return f"Order #{record.id}: {record.kind.value} {record.symbol}", describe_order(record)
    if isinstance(record, Event):
        return f"Event #{record.id}: {record.kind}", describe_event(record)
    if isinstance(record, Analysis):
        return f"Decision: {record.pair}", describe_decision(record)
    if isinstance(record, Whale):
        return f"Whale {record.label or record.address}", describe_whale(record)
    if isinstance(record, WhaleTransfer):
        return f"Transfer {record.tx_hash[:18]}…", describe_transfer(record)
    return None
