"""The edge gate end to end: a live engine (real WEEX client, real Gemini SDK) against the fakes.

A constructed losing record keeps the live engine out of the market with ``no_proven_edge``, which
`smt status` explains; a winning record lets it in; an override lets it in, is logged, published
for the console header and carried in every AI log; paper mode with the same losing record trades.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smt_engine.cli import main as cli
from smt_engine.domain import OrderKind, ProposalState
from smt_engine.store.limits import EDGE_OVERRIDES
from smt_engine.store.records import Proposal
from tests.evidence_support import losing, record_scores, winning
from tests.integration.rig import Rig, long_eth

ORDER = "/capi/v3/order"


async def first_decided_proposal(rig: Rig, mode: str, **risk: object) -> Proposal:
    """Run the engine in ``mode`` until its first proposal has left ``proposed``."""
    rig.gemini.push(long_eth())
    await rig.start(settings=rig.settings("auto", engine={"mode": mode}, risk=dict(risk)))

    def decided() -> bool:
        rows = rig.store.proposals.select()
        return bool(rows) and rows[0].state not in (ProposalState.PROPOSED, ProposalState.APPROVED)

    await rig.until(decided, 120)
    return rig.store.proposals.select()[0]


def entries_sent(rig: Rig) -> int:
    return sum(1 for method, path, _ in rig.fake.requests if method == "POST" and path.startswith(ORDER))


def entry_orders(rig: Rig) -> list[object]:
    return [o for o in rig.store.orders.select() if o.kind is OrderKind.ENTRY]


async def test_live_with_a_losing_record_is_denied_and_status_explains(
    rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record_scores(rig.store, "gemini", "ETH", losing())
    proposal = await first_decided_proposal(rig, "live")
    assert proposal.state is ProposalState.DENIED
    assert proposal.reason_codes == ["no_proven_edge"]
    await rig.stop()
    assert not entry_orders(rig)
    assert entries_sent(rig) == 0
    config = tmp_path / "smt.toml"
    config.write_text(f'[engine]\ndatabase = "{rig.tmp / "smt.db"}"\nmode = "live"\n', encoding="utf-8")
    cli.main(["--config", str(config), "status"])
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if "risk.edge_gate" in x)
    assert "warn" in line
    assert "no_proven_edge" in line
    assert "gemini on ETH: n=120, mean after fees -0.150% [95% CI" in line
    cli.main(["--config", str(config), "status", "--json"])
    health = {h["component"]: h for h in json.loads(capsys.readouterr().out)["health"]}
    assert health["risk.edge_gate"]["status"] == "warn"


async def test_live_with_a_winning_record_enters(rig: Rig) -> None:
    record_scores(rig.store, "gemini", "ETH", winning())
    await first_decided_proposal(rig, "live")
    await rig.until(lambda: any(p.state is ProposalState.OPEN for p in rig.store.proposals.select()), 120)
    assert len(entry_orders(rig)) == 1
    health = rig.store.health.get("risk.edge_gate")
    assert health is not None
    assert health.status.value == "ok"


async def test_live_an_override_enters_is_logged_shown_and_in_every_ai_log(rig: Rig) -> None:
    record_scores(rig.store, "gemini", "ETH", losing())
    await first_decided_proposal(rig, "live", edge_overrides=["gemini:ETH"])
    await rig.until(lambda: any(p.state is ProposalState.OPEN for p in rig.store.proposals.select()), 120)
    assert len(entry_orders(rig)) == 1
    (event,) = rig.store.events.of_kind("risk.edge_override")
    assert "gemini:ETH" in event.message
    assert "n=120" in event.message
    published = rig.store.limits.by_name().get(EDGE_OVERRIDES)
    assert published is not None
    assert published.detail == "gemini:ETH"
    logs = rig.store.ailogs.select()
    assert logs
    assert all(row.input.get("edge_overrides") == ["gemini:ETH"] for row in logs)
    assert "Trade Execution" in {row.stage for row in logs}


async def test_paper_with_the_same_losing_record_is_not_gated(rig: Rig) -> None:
    record_scores(rig.store, "gemini", "ETH", losing())
    await first_decided_proposal(rig, "paper")
    await rig.until(lambda: any(p.state is ProposalState.OPEN for p in rig.store.proposals.select()), 120)
    (proposal,) = rig.store.proposals.select()
    assert all(g["gate"] != "no_proven_edge" for g in proposal.gates)
    health = rig.store.health.get("risk.edge_gate")
    assert health is not None
    assert health.status.value == "off"
    assert EDGE_OVERRIDES not in rig.store.limits.by_name()
