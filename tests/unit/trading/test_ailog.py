"""AI-log outbox: a row per stage, bounded explanations, no secrets anywhere, retried uploads."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from smt_engine.clock import SimulatedClock
from smt_engine.domain import AiLogState, CloseReason, EngineState, Pair, Tier
from smt_engine.secrets import register_secret
from smt_engine.store import Store
from smt_engine.trading.ailog import EXPLANATION_MAX, AiLogOutbox, AiLogUploader, Stage
from smt_engine.trading.execution import Executor
from smt_engine.trading.proposals import Candidate, ProposalBook
from tests.unit.trading.conftest import CONTRACTS, PRICES, account, decision, drive, make_settings
from tests.unit.trading.scripted import Script, ScriptedExchange

FAKE_SECRET = "wx-FAKE-SECRET-7f3a9c1e55"


def exchange(script: Script | None = None) -> ScriptedExchange:
    return ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS), script=script or Script())


async def test_every_stage_of_a_cycle_leaves_a_row_and_no_secret_anywhere(
    store: Store, clock: SimulatedClock
) -> None:
    register_secret(FAKE_SECRET)
    settings = make_settings(engine={"approval": "auto"}, ailog={"enabled": True})
    outbox = AiLogOutbox(store, clock, settings)
    outbox.whale_discovery(
        {"lookback_hours": 6, "min_tx_eth": Decimal(100), "key": FAKE_SECRET},
        {"whales_found": 3, "large_txs": 12},
        "3 whales moved more than 100 ETH",
        cycle_id="c1",
    )
    outbox.whale_signal(
        {"whale_address": "0xabc", "category": "Large_Holder", "flow_direction": "outflow"},
        {"signal": "BULLISH", "confidence": 0.7},
        f"exchange outflows; url=https://x/?apikey={FAKE_SECRET}",
        cycle_id="c1",
    )
    for pair in settings.pairs.all():
        outbox.analysis(
            pair.base,
            {"pair": pair.base, "tier": pair.tier.value, "balance": Decimal(1000)},
            {"decision": "LONG", "confidence": 0.8, "sources": [f"https://s/{FAKE_SECRET}"]},
            "x" * 5000,
            cycle_id="c1",
        )
    book = ProposalBook(store, clock, settings)
    out = book.run_cycle(
        [
            Candidate(
                Pair("ETH", Tier.ONE),
                decision(reasoning=f"model echoed {FAKE_SECRET} " + "y" * 3000),
                CONTRACTS["ETHUSDT"],
                PRICES["ETHUSDT"],
            )
        ],
        account(settings),
        cycle_id="c1",
    )
    chosen = out.approved[0]
    outbox.trade_decision(
        {"candidates": 1}, {"pair": chosen.pair, "proposal_id": chosen.id}, chosen.rationale, cycle_id="c1"
    )
    ex = exchange()
    executor = Executor(ex, store, clock, settings, outbox)
    result = await drive(clock, executor.execute(chosen, EngineState.RUNNING))
    assert result.position is not None
    await drive(
        clock, executor.closer.close_position(result.position, CloseReason.TAKE_PROFIT, actor="monitor")
    )

    rows = store.ailogs.recent(limit=100)
    stages = {r.stage for r in rows}
    expected = {Stage.WHALE_DISCOVERY, Stage.WHALE_SIGNAL, Stage.TRADE_DECISION, Stage.TRADE_EXECUTION}
    expected |= {Stage.POSITION_CLOSED} | {Stage.analysis(p.base) for p in settings.pairs.all()}
    assert stages == expected
    assert all(len(r.explanation) <= EXPLANATION_MAX for r in rows)
    assert max(len(r.explanation) for r in rows) == EXPLANATION_MAX
    by_stage = {r.stage: r for r in rows}
    assert by_stage[Stage.TRADE_EXECUTION].order_id == result.entry_order.exchange_order_id  # type: ignore[union-attr]
    assert by_stage[Stage.POSITION_CLOSED].order_id is not None

    uploader = AiLogUploader(ex, store, clock, settings)
    report = await uploader.run_once(limit=100)
    assert report.sent == len(rows)
    # No secret in any stored row of any table, nor in anything uploaded.
    dump = "\n".join(store.conn.iterdump())
    assert FAKE_SECRET not in dump
    assert FAKE_SECRET not in repr(ex.uploads)
    assert "***" in dump


async def test_upload_retried_with_backoff_after_a_failure(store: Store, clock: SimulatedClock) -> None:
    settings = make_settings(ailog={"enabled": True})
    AiLogOutbox(store, clock, settings).record("Trade Decision", {"a": 1}, {"b": 2}, "why")
    ex = exchange(Script(upload_failures=1))
    uploader = AiLogUploader(ex, store, clock, settings)

    first = await uploader.run_once()
    assert (first.sent, first.retrying) == (0, 1)
    row = store.ailogs.recent()[0]
    assert row.state is AiLogState.PENDING
    assert row.attempts == 1
    assert row.last_error == "ExchangeUnavailable: upstream 502"
    assert row.next_attempt_at == clock.now() + timedelta(seconds=30)

    assert (await uploader.run_once()).sent == 0  # not due yet: no call at all
    assert ex.count("upload_ai_log") == 1
    await clock.advance(31)
    assert (await uploader.run_once()).sent == 1
    row = store.ailogs.recent()[0]
    assert row.state is AiLogState.SENT
    assert row.attempts == 2
    assert row.sent_at == clock.now()
    assert ex.uploads[0].stage == "Trade Decision"


async def test_failures_stay_visible_after_max_attempts(store: Store, clock: SimulatedClock) -> None:
    settings = make_settings(ailog={"enabled": True, "max_attempts": 3})
    AiLogOutbox(store, clock, settings).record("Trade Execution", {}, {}, "x", order_id="123")
    uploader = AiLogUploader(exchange(Script(upload_failures=10)), store, clock, settings)
    for _ in range(3):
        await uploader.run_once()
        await clock.advance(3600)
    row = store.ailogs.recent()[0]
    assert row.state is AiLogState.FAILED
    assert row.attempts == 3
    assert row.last_error
    assert store.events.of_kind("ailog.failed")


async def test_uploads_off_by_default_outside_live_mode(store: Store, clock: SimulatedClock) -> None:
    settings = make_settings(engine={"mode": "paper"})
    assert not settings.ailog_enabled
    assert make_settings(engine={"mode": "live"}).ailog_enabled
    row = AiLogOutbox(store, clock, settings).record("Whale Discovery", {}, {}, "kept for the console")
    assert row is not None
    assert row.state is AiLogState.SKIPPED
    ex = exchange()
    assert (await AiLogUploader(ex, store, clock, settings).run_once()).sent == 0
    assert ex.count("upload_ai_log") == 0


def test_record_never_raises_into_trading(store: Store, clock: SimulatedClock) -> None:
    settings = make_settings(ailog={"enabled": True})
    outbox = AiLogOutbox(store, clock, settings)
    row = outbox.record(
        "Trade Decision", {"obj": object(), "when": clock.now()}, {"n": Decimal("1.50")}, "ok"
    )
    assert row is not None
    assert row.output == {"n": "1.50"}
    store.close()
    assert outbox.record("Trade Decision", {}, {}, "db gone") is None
