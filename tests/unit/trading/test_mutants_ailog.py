"""Everything is recorded, and no secret in an AI log, value by value: each row carries the values the
upload will, the model that answered, the operator's overrides and the masked order id; the uploader
sends each due row once, backs off, respects a rate limit and leaves a failure visible."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Action, AiLogState, AnalystKind, EventLevel, PositionState, ProposalState
from smt_engine.exchange.base import ExchangeUnavailable, RateLimited
from smt_engine.secrets import register_secret
from smt_engine.store import Store
from smt_engine.store.records import AiLog, Analysis
from smt_engine.trading import ailog
from smt_engine.trading.ailog import (
    EXPLANATION_MAX,
    AiLogOutbox,
    AiLogUploader,
    UploadReport,
    backoff,
    bounded_explanation,
)
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, eth_position, eth_proposal, make_settings
from tests.unit.trading.scripted import Script, ScriptedExchange

SECRET = "ailog-FAKE-SECRET-41d9e0b7"
DEFAULT_MODEL = "SMT-CatBoost-Gemini"


class Colour(Enum):
    RED = 1


class Opaque:
    def __str__(self) -> str:
        return "opaque thing"


def outbox(store: Store, clock: SimulatedClock, **ailog_settings: Any) -> AiLogOutbox:
    return AiLogOutbox(store, clock, make_settings(ailog={"enabled": True, **ailog_settings}))


def stored(store: Store, row: AiLog | None) -> AiLog:
    """The row as read back from the database, not the object handed to the insert."""
    assert row is not None
    assert row.id is not None
    (read,) = [r for r in store.ailogs.recent() if r.id == row.id]
    return read


def analysed_proposal(store: Store, clock: SimulatedClock, model: str, *, with_analysis: bool = True) -> int:
    """A proposal whose analysis was answered by ``model``; its id."""
    analysis_id = None
    if with_analysis:
        analysis = store.analyses.insert(
            Analysis(
                cycle_id=None,
                pair="ETH",
                analyst=AnalystKind.GEMINI,
                model=model,
                created_at=clock.now(),
                action=Action.LONG,
            )
        )
        analysis_id = analysis.id
    proposal = store.proposals.insert(
        eth_proposal(state=ProposalState.OPEN, created_at=clock.now(), analysis_id=analysis_id)
    )
    assert proposal.id is not None
    return proposal.id


# ---------------------------------------------------------------- what a row holds


def test_a_row_holds_every_value_as_the_string_the_upload_carries(
    store: Store, clock: SimulatedClock
) -> None:
    value = {
        "dec": Decimal("1E+2"),
        "at": NOW,
        "held": timedelta(minutes=1, seconds=30),
        "colour": Colour.RED,
        "pair": ("ETH", Decimal("0.10")),
        "one": {"x"},
        "frozen": frozenset({"y"}),
        "none": None,
        "yes": True,
        "n": 3,
        "ratio": 0.5,
        "thing": Opaque(),
        7: "an int key",
        "nested": {"steps": [Decimal("0.01")]},
    }
    row = outbox(store, clock).record("Trade Decision", value, {"out": value}, "why")
    expected = {
        "dec": "100",
        "at": "2026-01-20T12:00:00+00:00",
        "held": 90.0,
        "colour": 1,
        "pair": ["ETH", "0.10"],
        "one": ["x"],
        "frozen": ["y"],
        "none": None,
        "yes": True,
        "n": 3,
        "ratio": 0.5,
        "thing": "opaque thing",
        "7": "an int key",
        "nested": {"steps": ["0.01"]},
    }
    read = stored(store, row)
    assert read.input == expected
    assert read.output == {"out": expected}


def test_a_row_is_stamped_pending_with_its_stage_cycle_and_order_id(
    store: Store, clock: SimulatedClock
) -> None:
    register_secret(SECRET)
    row = outbox(store, clock).record(
        "S" * 250, {}, {}, "why", order_id=f"id-{SECRET}", cycle_id="c9", model="m" * 250
    )
    read = stored(store, row)
    assert (read.stage, read.model) == ("S" * 200, "m" * 200)
    assert (read.order_id, read.cycle_id, read.state) == ("id-***", "c9", AiLogState.PENDING)
    assert (read.explanation, read.created_at, read.attempts) == ("why", NOW, 0)
    for none in (None, ""):
        assert (
            stored(
                store, outbox(store, clock).record("Trade Decision", {}, {}, "why", order_id=none)
            ).order_id
            is None
        )


def test_a_row_recorded_with_uploads_off_is_skipped_not_pending(store: Store, clock: SimulatedClock) -> None:
    row = outbox(store, clock, enabled=False).record("Trade Decision", {}, {}, "why")
    assert stored(store, row).state is AiLogState.SKIPPED


def test_a_row_that_cannot_be_written_is_logged_with_its_stage(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=ailog.log.name)
    box = outbox(store, clock)
    store.close()
    assert box.record("Trade Decision", {}, {}, "db gone") is None
    (record,) = caplog.records
    assert record.getMessage() == "AI log 'Trade Decision' could not be recorded"
    assert record.exc_info is not None


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("", ""),
        ("a" * EXPLANATION_MAX, "a" * EXPLANATION_MAX),
        ("b" * (EXPLANATION_MAX + 1), "b" * (EXPLANATION_MAX - 1) + "…"),
    ],
    ids=["empty", "at-the-limit", "past-the-limit"],
)
def test_an_explanation_is_kept_whole_up_to_the_limit_and_cut_with_an_ellipsis_past_it(
    text: str, kept: str
) -> None:
    assert bounded_explanation(text) == kept


def test_an_explanation_is_masked_before_it_is_measured() -> None:
    register_secret(SECRET)
    text = "c" * (EXPLANATION_MAX - 3) + SECRET
    assert bounded_explanation(text) == "c" * (EXPLANATION_MAX - 3) + "***"


@pytest.mark.parametrize(
    ("mode", "overrides", "named"),
    [("live", ["gemini:ETH"], ["gemini:ETH"]), ("paper", ["gemini:ETH"], None), ("live", [], None)],
)
def test_every_live_row_names_the_edge_overrides_in_force(
    store: Store, clock: SimulatedClock, mode: str, overrides: list[str], named: list[str] | None
) -> None:
    settings = make_settings(
        engine={"mode": mode}, risk={"edge_overrides": overrides}, ailog={"enabled": True}
    )
    row = AiLogOutbox(store, clock, settings).record("Trade Decision", {"pair": "ETH"}, {}, "why")
    expected: dict[str, Any] = {"pair": "ETH"} if named is None else {"pair": "ETH", "edge_overrides": named}
    assert stored(store, row).input == expected


def test_each_stage_writes_its_name_values_cycle_and_order_id(store: Store, clock: SimulatedClock) -> None:
    box = outbox(store, clock)
    rows = [
        box.whale_discovery({"i": 1}, {"o": 1}, "w", cycle_id="c1"),
        box.whale_signal({"i": 2}, {"o": 2}, "s", cycle_id="c2"),
        box.analysis("ETH", {"i": 3}, {"o": 3}, "a", cycle_id="c3", model="gemini-2.5-flash"),
        box.trade_decision({"i": 4}, {"o": 4}, "d", cycle_id="c4"),
        box.execution("701", {"i": 5}, {"o": 5}, "e", cycle_id="c5"),
        box.close("702", {"i": 6}, {"o": 6}, "c", cycle_id="c6"),
    ]
    read = [stored(store, row) for row in rows]
    assert [(r.stage, r.input, r.output, r.explanation, r.cycle_id, r.order_id) for r in read] == [
        ("Whale Discovery", {"i": 1}, {"o": 1}, "w", "c1", None),
        ("Whale Signal Generation", {"i": 2}, {"o": 2}, "s", "c2", None),
        ("Market Analysis - ETH", {"i": 3}, {"o": 3}, "a", "c3", None),
        ("Trade Decision", {"i": 4}, {"o": 4}, "d", "c4", None),
        ("Trade Execution", {"i": 5}, {"o": 5}, "e", "c5", "701"),
        ("Position Closed", {"i": 6}, {"o": 6}, "c", "c6", "702"),
    ]
    assert read[2].model == "gemini-2.5-flash"


# ---------------------------------------------------------------- the model that answered


def test_a_cycles_answering_model_is_named_by_its_later_stages_only(
    store: Store, clock: SimulatedClock
) -> None:
    box = outbox(store, clock)
    box.analysis("ETH", {}, {}, "a", cycle_id="c1", model="gemini-2.5-pro")
    box.analysis("BTC", {}, {}, "a", model="gemini-2.5-flash")
    assert stored(store, box.trade_decision({}, {}, "d", cycle_id="c1")).model == "gemini-2.5-pro"
    assert stored(store, box.trade_decision({}, {}, "d", cycle_id="c2")).model == DEFAULT_MODEL
    assert stored(store, box.trade_decision({}, {}, "d")).model == DEFAULT_MODEL


def test_a_proposals_analysis_names_the_model_before_the_position_and_the_cycle(
    store: Store, clock: SimulatedClock
) -> None:
    box = outbox(store, clock)
    box.analysis("ETH", {}, {}, "a", cycle_id="c1", model="cycle-model")
    store.positions.insert(eth_position(proposal_id=analysed_proposal(store, clock, "position-model")))
    by_proposal = {"proposal_id": analysed_proposal(store, clock, "proposal-model"), "symbol": "ETHUSDT"}
    position = {"symbol": "ETHUSDT", "side": "LONG"}
    assert (
        stored(store, box.trade_decision(by_proposal | {"side": "LONG"}, {}, "d", "c1")).model
        == "proposal-model"
    )
    assert stored(store, box.trade_decision(position, {}, "d", "c1")).model == "position-model"
    assert stored(store, box.trade_decision({"symbol": "ETHUSDT"}, {}, "d", "c1")).model == "cycle-model"
    assert stored(store, box.trade_decision({"side": "LONG"}, {}, "d", "c1")).model == "cycle-model"


@pytest.mark.parametrize(
    "input",
    [
        {"proposal_id": "1"},
        {"proposal_id": 999},
        {"symbol": "ETHUSDT", "side": "SHORT"},
        {"symbol": "BTCUSDT", "side": "LONG"},
    ],
)
def test_a_row_with_no_answering_model_found_names_the_configured_one(
    store: Store, clock: SimulatedClock, input: dict[str, Any]
) -> None:
    proposal_id = analysed_proposal(store, clock, "proposal-model")
    assert proposal_id == 1
    store.positions.insert(eth_position(proposal_id=proposal_id))
    assert stored(store, outbox(store, clock).trade_decision(input, {}, "d")).model == DEFAULT_MODEL


@pytest.mark.parametrize("model", [None, ""])
def test_a_proposal_without_an_analysis_model_falls_back_to_the_cycles_then_the_configured_one(
    store: Store, clock: SimulatedClock, model: str | None
) -> None:
    box = outbox(store, clock, model_name="configured")
    box.analysis("ETH", {}, {}, "a", cycle_id="c1", model="cycle-model")
    by_proposal = {
        "proposal_id": analysed_proposal(store, clock, model or "", with_analysis=model is not None)
    }
    assert stored(store, box.trade_decision(by_proposal, {}, "d", cycle_id="c1")).model == "cycle-model"
    assert stored(store, box.trade_decision(by_proposal, {}, "d")).model == "configured"


def test_a_closed_position_among_the_last_twenty_closes_names_its_model(
    store: Store, clock: SimulatedClock
) -> None:
    closed = eth_position(state=PositionState.CLOSED, closed_at=NOW - timedelta(hours=1))
    store.positions.insert(replace(closed, proposal_id=analysed_proposal(store, clock, "closed-model")))
    box = outbox(store, clock)
    assert (
        stored(store, box.trade_decision({"symbol": "ETHUSDT", "side": "LONG"}, {}, "d")).model
        == "closed-model"
    )
    for minutes in range(20):
        store.positions.insert(replace(closed, symbol="BTCUSDT", closed_at=NOW - timedelta(minutes=minutes)))
    assert (
        stored(store, box.trade_decision({"symbol": "ETHUSDT", "side": "LONG"}, {}, "d")).model
        == DEFAULT_MODEL
    )


# ---------------------------------------------------------------- the upload


def venue(*errors: Any, failures: int = 0) -> ScriptedExchange:
    script = Script(upload_failures=failures, upload_errors=list(errors))
    return ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS), script=script)


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(0, 30), (1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (30, 3600)]
)
def test_the_back_off_doubles_from_thirty_seconds_up_to_an_hour(attempts: int, seconds: int) -> None:
    assert backoff(attempts) == timedelta(seconds=seconds)


async def test_nothing_is_uploaded_with_uploads_off(store: Store, clock: SimulatedClock) -> None:
    outbox(store, clock).record("Trade Decision", {}, {}, "why")
    ex = venue()
    report = await AiLogUploader(ex, store, clock, make_settings(ailog={"enabled": False})).run_once()
    assert report == UploadReport(sent=0, retrying=0, failed=0)
    assert ex.uploads == []


async def test_a_row_is_uploaded_once_as_recorded_and_marked_sent(
    store: Store, clock: SimulatedClock
) -> None:
    box = outbox(store, clock)
    row = box.execution("701", {"pair": "ETH"}, {"filled": Decimal("0.10")}, "bought", cycle_id="c1")
    ex = venue(ExchangeUnavailable("upstream 502"))
    uploader = AiLogUploader(ex, store, clock, box.settings)
    assert await uploader.run_once() == UploadReport(sent=0, retrying=1, failed=0)
    await clock.advance(30)
    assert await uploader.run_once() == UploadReport(sent=1, retrying=0, failed=0)
    assert await uploader.run_once() == UploadReport()
    (sent,) = ex.uploads
    assert (sent.stage, sent.model, sent.order_id) == ("Trade Execution", DEFAULT_MODEL, "701")
    assert (sent.input, sent.output, sent.explanation) == ({"pair": "ETH"}, {"filled": "0.10"}, "bought")
    read = stored(store, row)
    assert (read.state, read.attempts, read.sent_at, read.last_error) == (
        AiLogState.SENT,
        2,
        clock.now(),
        None,
    )


async def test_a_round_takes_twenty_rows_oldest_first_or_as_many_as_asked(
    store: Store, clock: SimulatedClock
) -> None:
    box = outbox(store, clock)
    for n in range(23):
        box.record("Trade Decision", {"n": n}, {}, "why")
    ex = venue()
    uploader = AiLogUploader(ex, store, clock, box.settings)
    assert (await uploader.run_once()).sent == 20
    assert [u.input["n"] for u in ex.uploads] == list(range(20))
    assert (await uploader.run_once(limit=2)).sent == 2
    assert [u.input["n"] for u in ex.uploads[20:]] == [20, 21]


async def test_a_failed_upload_keeps_its_masked_words_and_the_next_row_still_goes(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    register_secret(SECRET)
    caplog.set_level(logging.WARNING, logger=ailog.log.name)
    box = outbox(store, clock)
    first = box.record("Trade Decision", {}, {}, "one")
    second = box.record("Trade Decision", {}, {}, "two")
    ex = venue(ExchangeUnavailable(f"echoed {SECRET} " + "z" * 600))
    assert await AiLogUploader(ex, store, clock, box.settings).run_once() == UploadReport(sent=1, retrying=1)
    words = ("ExchangeUnavailable: echoed *** " + "z" * 600)[:500]
    read = stored(store, first)
    assert (read.state, read.attempts, read.last_error) == (AiLogState.PENDING, 1, words)
    assert read.next_attempt_at == NOW + timedelta(seconds=30)
    assert stored(store, second).state is AiLogState.SENT
    (record,) = caplog.records
    assert record.getMessage() == f"AI log #{read.id} upload failed (attempt 1): {words}"


@pytest.mark.parametrize(("retry_after", "wait"), [(120.0, 120), (5.0, 30)])
async def test_a_rate_limit_stops_the_round_and_waits_at_least_the_venues_retry_after(
    store: Store, clock: SimulatedClock, retry_after: float, wait: int
) -> None:
    box = outbox(store, clock)
    first = box.record("Trade Decision", {}, {}, "one")
    second = box.record("Trade Decision", {}, {}, "two")
    ex = venue(RateLimited("HTTP 429", retry_after=retry_after))
    assert await AiLogUploader(ex, store, clock, box.settings).run_once() == UploadReport(retrying=1)
    assert ex.count("upload_ai_log") == 1, "the rest of the round waits"
    assert stored(store, first).next_attempt_at == NOW + timedelta(seconds=wait)
    assert stored(store, second).attempts == 0


async def test_the_last_allowed_failure_leaves_the_row_failed_and_an_error_event(
    store: Store, clock: SimulatedClock
) -> None:
    box = outbox(store, clock, max_attempts=2)
    row = box.record("Trade Decision", {}, {}, "one", cycle_id="c7")
    ex = venue(ExchangeUnavailable("upstream 502"), ExchangeUnavailable("upstream 503"))
    uploader = AiLogUploader(ex, store, clock, box.settings)
    assert await uploader.run_once() == UploadReport(retrying=1)
    await clock.advance(30)
    assert await uploader.run_once() == UploadReport(failed=1)
    read = stored(store, row)
    assert (read.state, read.attempts) == (AiLogState.FAILED, 2)
    assert read.last_error == "ExchangeUnavailable: upstream 503", "the last failure's words"
    assert read.next_attempt_at == NOW + timedelta(seconds=30), "the first failure's, left as it was"
    (event,) = store.events.of_kind("ailog.failed")
    assert (event.level, event.cycle_id, event.at) == (EventLevel.ERROR, "c7", clock.now())
    assert event.message == (
        f"AI log #{read.id} (Trade Decision) not uploaded after 2 attempts: ExchangeUnavailable: upstream 503"
    )


@pytest.mark.parametrize(
    ("max_attempts", "report"), [(1, UploadReport(failed=2)), (2, UploadReport(retrying=2))]
)
async def test_every_failure_of_a_round_is_counted(
    store: Store, clock: SimulatedClock, max_attempts: int, report: UploadReport
) -> None:
    box = outbox(store, clock, max_attempts=max_attempts)
    box.record("Trade Decision", {}, {}, "one")
    box.record("Trade Decision", {}, {}, "two")
    assert await AiLogUploader(venue(failures=2), store, clock, box.settings).run_once() == report
