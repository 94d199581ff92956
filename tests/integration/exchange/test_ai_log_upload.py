"""The AI log against the fake WEEX answering as v3 documents it (``{"code": 0}``) and as v2 did
(``"00000"``): uploaded exactly once either way, and naming the model that answered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import AiLogState, AnalystKind, Pair, Tier
from smt_engine.store import Store
from smt_engine.store.records import Analysis
from smt_engine.trading.ailog import AiLogOutbox, AiLogUploader
from smt_engine.trading.proposals import Candidate, ProposalBook
from tests.fakes.weex_server import FakeWeex
from tests.integration.exchange.conftest import client_for
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, account, decision, make_settings

ANSWERED = "gemini-2.5-flash-preview-09-2025"
"""A raw provider model id, as a response's ``modelVersion`` gives it (not the configured name)."""


@pytest.mark.parametrize("code", [0, "00000"], ids=["v3-integer-0", "v2-string-00000"])
async def test_the_ai_log_is_uploaded_once_and_names_the_model_that_answered(
    fake: FakeWeex, tmp_path: Path, code: int | str
) -> None:
    fake.faults = dataclasses.replace(fake.faults, ai_log_code=code)
    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock(NOW)
    settings = make_settings(ailog={"enabled": True})
    outbox = AiLogOutbox(store, clock, settings)
    row = outbox.analysis(
        "ETH", {"pair": "ETH"}, {"decision": "LONG"}, "trend up", cycle_id="c1", model=ANSWERED
    )
    assert row is not None
    assert row.model == ANSWERED
    client = client_for(fake)
    uploader = AiLogUploader(client, store, clock, settings)

    report = await uploader.run_once()
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    for _ in range(3):  # later runs (and time passing) never send a sent log again
        await clock.advance(3600)
        assert (await uploader.run_once()).sent == 0
    assert len(fake.ai_logs) == 1
    assert fake.ai_logs[0]["model"] == ANSWERED
    assert fake.counts["POST /capi/v3/order/uploadAiLog"] == 1
    (stored,) = store.ailogs.recent()
    assert stored.state is AiLogState.SENT
    assert stored.attempts == 1
    assert stored.last_error is None
    assert not store.events.of_kind("ailog.failed")
    await client.aclose()


async def test_a_decision_and_its_execution_name_the_model_of_their_analysis(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "smt.db")
    clock = SimulatedClock(NOW)
    settings = make_settings(ailog={"enabled": True})
    outbox = AiLogOutbox(store, clock, settings)
    analysis = store.analyses.insert(
        Analysis(cycle_id="c1", pair="ETH", analyst=AnalystKind.GEMINI, model=ANSWERED, created_at=NOW)
    )
    outcome = ProposalBook(store, clock, settings).run_cycle(
        [Candidate(Pair("ETH", Tier.ONE), decision(), CONTRACTS["ETHUSDT"], PRICES["ETHUSDT"], analysis.id)],
        account(settings),
        cycle_id="c1",
    )
    (proposal,) = outcome.proposals
    executed = outbox.execution(
        "700000000000000001", {"proposal_id": proposal.id}, {"status": "FILLED"}, "filled"
    )
    assert executed is not None
    assert executed.model == ANSWERED
    whales = outbox.whale_discovery({}, {}, "no language model took part")
    assert whales is not None
    assert whales.model == settings.ailog.model_name
