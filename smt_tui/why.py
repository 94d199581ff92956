"""A proposal's whole "why", first: what is decided, the rationale with its [n] citations, the whale and
flow evidence (and whether it agrees with the analyst), the sources as links, the risk gates collapsed
to a count, and the prompt and raw answer on demand."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

from smt_engine.domain import Bias, ProposalState, Side
from smt_engine.store.records import Analysis, WhaleSignal
from smt_tui import fmt
from smt_tui.state import ProposalView, Snapshot
from smt_tui.verdict import evidence_for, uses_whales, verdict

GATES = "gates"
PROMPT = "prompt"
"""Sections a reader can expand (``g`` and ``P`` on the detail screen)."""

_MARKER = re.compile(r"\[(\d{1,2})\]")


def _uri(source: dict[str, str]) -> str:
    return source.get("uri") or source.get("url") or ""


def cited(text: str, sources: list[dict[str, str]]) -> Text:
    """``text`` with each ``[n]`` kept, bold, and a link (OSC 8) to source n when there is one."""
    out = Text()
    last = 0
    for match in _MARKER.finditer(text):
        out.append(text[last : match.start()])
        n = int(match.group(1))
        uri = _uri(sources[n - 1]) if 0 < n <= len(sources) else ""
        out.append(match.group(0), style=Style(bold=True, color="cyan", link=uri or None))
        last = match.end()
    out.append(text[last:])
    return out


def source_lines(sources: list[dict[str, str]]) -> list[RenderableType]:
    if not sources:
        return [Text("none: the analysis was not grounded in a search", style="yellow")]
    lines: list[RenderableType] = []
    for i, source in enumerate(sources, 1):
        uri = _uri(source)
        domain = source.get("domain") or urlparse(uri).netloc or "-"
        title = source.get("title") or domain
        line = Text.assemble((f"[{i}] ", "bold cyan"))
        line.append(title, style=Style(link=uri or None, underline=bool(uri)))
        line.append(f"  ({domain})", style="dim")
        lines.append(line)
    return lines


def search_lines(analysis: Analysis) -> list[RenderableType]:
    """The queries Google ran and its Search suggestions (its terms ask that they be shown with answers)."""
    lines: list[RenderableType] = []
    if analysis.queries:
        lines += [fmt.heading("Search queries"), Text("\n".join(f"• {q}" for q in analysis.queries))]
    if analysis.search_suggestions:
        lines.append(fmt.heading("Google Search suggestions"))
        for chip in analysis.search_suggestions:
            line = Text("• ")
            line.append(chip.get("text", ""), style=Style(link=chip.get("uri") or None, underline=True))
            lines.append(line)
    return lines


def agreement(bias: Bias, side: Side) -> Text:
    """Does this whale's bias point the way the proposal trades?"""
    if bias is Bias.NEUTRAL:
        return Text("neutral", style="dim")
    if bias is Bias.AVOID:
        return Text("says avoid", style="bold yellow")
    agrees = (bias is Bias.BULLISH) == (side is Side.LONG)
    return Text("agrees", style="green") if agrees else Text("CONTRADICTS", style="bold red")


def evidence(signals: list[WhaleSignal], side: Side) -> RenderableType:
    """One line per signal (lines wrap, numbers are never cut): verdict, bias, net flow and where it went,
    who."""
    if not signals:
        return Text("no whale or flow signal was recorded in this proposal's cycle", style="dim")
    lines: list[Text] = []
    for s in sorted(signals, key=lambda s: (not s.is_aggregate, -abs(s.net_eth))):
        who = "all whales (aggregate)" if s.is_aggregate else fmt.short_addr(s.address)
        if s.whale_class and not s.is_aggregate:
            who += f" {s.whale_class}"
        line = agreement(s.bias, side)
        line.append(f"  {s.bias.value.lower()} {fmt.confidence(s.confidence)}  net ")
        line.append_text(fmt.signed(s.net_eth, 1))
        line.append(f" ETH {fmt.wallet_direction(s.net_eth, s.is_aggregate)}  ")
        line.append(who, style="bold")
        lines.append(line)
    return Group(*lines)


def gate_rows(gates: list[dict[str, Any]]) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", padding=(0, 1), expand=False)
    table.add_column("gate")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for gate in gates:
        name = str(gate.get("gate") or gate.get("name") or "?")
        passed = gate.get("passed", gate.get("ok"))
        result = (
            Text("pass", style="green")
            if passed is True
            else Text("FAIL", style="bold red")
            if passed is False
            else Text(str(passed))
        )
        table.add_row(name, result, str(gate.get("detail") or gate.get("reason") or ""))
    return table


def gates_section(gates: list[dict[str, Any]], expanded: bool) -> list[RenderableType]:
    if not gates:
        return [Text("no gate results recorded", style="dim")]
    failed = [g for g in gates if g.get("passed", g.get("ok")) is False]
    summary = Text(f"{len(gates) - len(failed)}/{len(gates)} passed", style="bold red" if failed else "green")
    if failed:
        summary.append("; failed: " + ", ".join(str(g.get("gate") or g.get("name")) for g in failed))
    if not expanded:
        summary.append("   (g: every gate)", style="dim")
        return [summary]
    return [summary, gate_rows(gates)]


def live_line(view: ProposalView, snap: Snapshot, now: datetime, running: bool = True) -> Text:
    p = view.proposal
    if p.state is not ProposalState.PROPOSED:
        return Text(p.state.value, style="dim")
    if not running:
        return Text("left waiting when the engine stopped: nothing can approve it now", style="dim")
    text = Text("waiting for you", style="bold yellow")
    if p.expires_at is not None:
        text.append(f", {fmt.countdown(max(p.expires_at - now, timedelta(0)))} left")
    drift = snap.drift(p.id)
    if drift is not None and drift.used is not None:
        over = drift.used >= drift.value
        text.append("; price moved ")
        text.append(f"{drift.used:.2f}% (limit {drift.value}%)", style="bold red" if over else "")
        if over:
            text.append(": an approval now is refused", style="bold red")
    return text


def proposal_why(
    view: ProposalView,
    snap: Snapshot,
    now: datetime,
    expanded: frozenset[str],
    whale_pairs: Collection[str] | None = None,
    running: bool = True,
) -> RenderableType:
    p = view.proposal
    analysis: Analysis | None = view.analysis
    sources = analysis.sources if analysis is not None else []
    decision: dict[str, Any] = (analysis.decision or {}) if analysis is not None else {}
    parts: list[RenderableType] = [
        fmt.kv(
            [
                ("now", live_line(view, snap, now, running)),
                ("verdict", verdict(view, snap, whale_pairs, running)),
                ("trade", f"{p.pair} {p.side.value} at {fmt.confidence(p.confidence)} confidence"),
                (
                    "size",
                    f"margin {fmt.money(p.margin)} USDT, notional {fmt.money(p.notional)} USDT "
                    f"at {p.leverage}x",
                ),
                (
                    "entry / TP / SL",
                    f"{fmt.price(p.entry_ref)} / {fmt.target(p.tp_price, p.entry_ref)} / "
                    f"{fmt.target(p.sl_price, p.entry_ref)}",
                ),
            ]
        ),
        fmt.heading("Why"),
        cited(str(decision.get("reasoning") or p.rationale or "-"), sources),
    ]
    if decision.get("key_catalyst"):
        parts += [fmt.heading("Key catalyst"), cited(str(decision["key_catalyst"]), sources)]
    risks = decision.get("risk_factors") or []
    if risks:
        risks = [risks] if isinstance(risks, str) else risks
        parts += [fmt.heading("Risk factors"), Text("\n".join(f"• {r}" for r in risks))]
    parts.append(fmt.heading("Whale and flow evidence"))
    if uses_whales(p.pair, whale_pairs):
        parts.append(evidence(evidence_for(view, snap, whale_pairs), p.side))
    else:
        parts.append(
            Text(f"none: {p.pair} gets no whale intelligence (only pairs.tier1 pairs do)", style="dim")
        )
    parts += [fmt.heading("Sources"), *source_lines(sources)]
    if analysis is not None:
        parts += search_lines(analysis)
    parts += [fmt.heading("Risk gates"), *gates_section(p.gates, GATES in expanded)]
    if analysis is not None:
        parts.append(fmt.heading("Analyst"))
        parts.append(
            Text(
                f"{analysis.analyst.value} ({analysis.model}), {analysis.latency_ms or '-'} ms, "
                f"{'grounded' if analysis.grounded else 'not grounded'}, {fmt.stamp(analysis.created_at)}",
            )
        )
        if analysis.error:
            parts.append(Text(analysis.error, style="bold red"))
        if PROMPT in expanded:
            parts += [fmt.heading("Prompt"), Text(analysis.prompt or "-"), fmt.heading("Raw answer")]
            parts.append(Text(analysis.raw_response or "-"))
        else:
            parts.append(Text("P: the prompt and the raw answer", style="dim"))
    return Group(*parts)
