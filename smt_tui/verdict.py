"""What the proposals list says about each proposal in one cell: refused by a gate, past its drift limit,
unapprovable without an engine, contradicted by its own whale evidence, or clear.

Pure: reads the snapshot in memory. The detail view says the same things at length (``smt_tui.why``).
"""

from __future__ import annotations

from collections.abc import Collection

from rich.text import Text

from smt_engine.domain import Bias, ProposalState, Side
from smt_engine.store.records import WhaleSignal
from smt_tui.state import ProposalView, Snapshot


def uses_whales(pair: str, whale_pairs: Collection[str] | None) -> bool:
    """Whether the engine gives this pair whale intelligence (tier-1 pairs only); unknown counts as yes."""
    return whale_pairs is None or pair.upper() in whale_pairs


def evidence_for(
    view: ProposalView, snap: Snapshot, whale_pairs: Collection[str] | None
) -> list[WhaleSignal]:
    """The whale signals of the proposal's own cycle, and none for a pair that gets no whale intelligence."""
    p = view.proposal
    if p.cycle_id is None or not uses_whales(p.pair, whale_pairs):
        return []
    return [s for s in snap.whales.signals if s.cycle_id == p.cycle_id]


def contradicts(bias: Bias, side: Side) -> bool:
    if bias not in (Bias.BULLISH, Bias.BEARISH):
        return False
    return (bias is Bias.BULLISH) != (side is Side.LONG)


def contradicted(view: ProposalView, snap: Snapshot, whale_pairs: Collection[str] | None) -> bool:
    """The cycle's aggregate whale signal (or, without one, any whale) points against the trade."""
    signals = evidence_for(view, snap, whale_pairs)
    aggregate = next((s for s in signals if s.is_aggregate), None)
    if aggregate is not None:
        return contradicts(aggregate.bias, view.proposal.side)
    return any(contradicts(s.bias, view.proposal.side) for s in signals)


def failed_gates(view: ProposalView) -> list[str]:
    return [
        str(g.get("gate") or g.get("name"))
        for g in view.proposal.gates
        if g.get("passed", g.get("ok")) is False
    ]


def verdict(
    view: ProposalView, snap: Snapshot, whale_pairs: Collection[str] | None, live: bool = True
) -> Text:
    p = view.proposal
    gates = p.gates
    failed = failed_gates(view)
    if failed:
        return Text("✗ " + ", ".join(failed), style="red")
    if p.reason_codes:
        # Passed every gate but refused anyway (e.g. only the best N per cycle are acted on): say why.
        return Text("✗ " + ", ".join(p.reason_codes), style="red")
    if p.state is ProposalState.PROPOSED:
        drift = snap.drift(p.id)
        if drift is not None and drift.used is not None and drift.used >= drift.value:
            return Text(f"✗ drift {drift.used:.2f}% ≥ {drift.value}%: approval refused", style="bold red")
        if not live:
            return Text("✗ no engine: cannot be approved", style="red")
    passed = f"{len(gates)}/{len(gates)} gates" if gates else "no gates recorded"
    if contradicted(view, snap, whale_pairs):
        return Text(f"⚠ whales CONTRADICT; {passed}", style="bold yellow")
    if not gates:
        return Text("-", style="dim")
    return Text(f"✓ {len(gates)}/{len(gates)} passed", style="green")
