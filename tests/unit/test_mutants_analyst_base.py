"""``record_analysis``, field by field: every analysis is stored whole (prompt, raw answer, sources, queries,
usage, model, error), with secrets masked, and its one-line event says what was decided (README,
"Everything is recorded")."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.analyst import base
from smt_engine.analyst.base import AnalysisOutcome, CallTrace, record_analysis
from smt_engine.analyst.parse import ParseOutcome
from smt_engine.domain import Action, AnalystKind, Decision, Sentiment
from smt_engine.secrets import MASK, register_secret
from smt_engine.store import Store
from smt_engine.store.records import Analysis
from tests.analyst_support import NOW, SOL, context

SECRET = "sk-live-5e1f9a77"


def long_answer(**over: object) -> Decision:
    values: dict[str, object] = {
        "action": Action.LONG,
        "confidence": 0.78,
        "tp_pct": Decimal(3),
        "sl_pct": Decimal("1.5"),
        "hold_hours": 12.0,
        "reasoning": "ETF inflows",
        "sentiment": Sentiment.BULLISH,
        "grounded": True,
        "analyst": AnalystKind.GEMINI,
    }
    values.update(over)
    return Decision(**values)  # type: ignore[arg-type]


def gemini_record(store: Store, parsed: ParseOutcome, trace: CallTrace, prompt: str = "p") -> AnalysisOutcome:
    """A Gemini analysis of SOL recorded as the pipeline records one."""
    return record_analysis(
        store,
        context(pair=SOL),
        kind=AnalystKind.GEMINI,
        model="gemini-2.5-flash",
        prompt=prompt,
        parsed=parsed,
        trace=trace,
    )


def analysis_events(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str, object, object]]:
    return [
        (r.levelno, r.getMessage(), r.__dict__.get("event"), r.__dict__.get("cycle_id"))
        for r in caplog.records
        if r.name == "smt_engine.analyst.base"
    ]


def test_a_grounded_answer_is_stored_whole_with_secrets_masked(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    register_secret(SECRET)
    decision = long_answer()
    parsed = ParseOutcome(decision, payload={"decision": "LONG", "note": f"key {SECRET}"})
    trace = CallTrace(
        raw_response=f'{{"decision": "LONG"}} {SECRET}',
        grounded=True,
        queries=[f"ETH ETF flows {SECRET}"],
        sources=[{"uri": f"https://news.example/{SECRET}", "title": "flows"}],
        usage={"prompt_tokens": 812, "candidates_tokens": 95},
        latency_ms=1234,
        attempts=2,
        model="gemini-2.5-flash-001",
        search_entry_point="<div>ETH ETF</div>",
        search_suggestions=[{"text": "ETH ETF", "url": "https://search.example/q"}],
    )
    with caplog.at_level(logging.DEBUG, logger="smt_engine.analyst.base"):
        outcome = gemini_record(store, parsed, trace, prompt=f"prompt with {SECRET}")
    assert outcome.record.id is not None
    stored = store.analyses.get(outcome.record.id)
    assert stored == Analysis(
        cycle_id="cycle-1",
        pair="SOL",
        analyst=AnalystKind.GEMINI,
        model="gemini-2.5-flash",
        created_at=NOW,
        action=Action.LONG,
        confidence=0.78,
        prompt=f"prompt with {MASK}",
        raw_response=f'{{"decision": "LONG"}} {MASK}',
        decision={"decision": "LONG", "note": f"key {MASK}"},
        grounded=True,
        queries=[f"ETH ETF flows {MASK}"],
        sources=[{"uri": f"https://news.example/{MASK}", "title": "flows"}],
        usage={"prompt_tokens": 812, "candidates_tokens": 95},
        latency_ms=1234,
        attempts=2,
        error=None,
        search_entry_point="<div>ETH ETF</div>",
        search_suggestions=[{"text": "ETH ETF", "url": "https://search.example/q"}],
        id=outcome.record.id,
    )
    assert outcome.record == stored
    assert outcome.decision is decision
    assert (outcome.failed, outcome.primary_error) == (False, None)
    assert analysis_events(caplog) == [(logging.INFO, "gemini SOL: LONG 0.78", "analysis", "cycle-1")]


def test_a_failed_call_is_a_recorded_wait_naming_the_failure(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    register_secret(SECRET)
    failure = f"HTTP 503 from the model (key {SECRET})"
    parsed = ParseOutcome(long_answer(), error="no answer to parse")
    trace = CallTrace(call_error=failure, attempts=3)
    with caplog.at_level(logging.DEBUG, logger="smt_engine.analyst.base"):
        outcome = gemini_record(store, parsed, trace)
    assert outcome.decision == Decision.wait("analyst call failed", AnalystKind.GEMINI, failure)
    assert outcome.failed is True
    assert outcome.record.id is not None
    stored = store.analyses.get(outcome.record.id)
    assert stored is not None
    assert (stored.action, stored.confidence, stored.error) == (
        Action.WAIT,
        0.0,
        f"HTTP 503 from the model (key {MASK})",
    )
    assert (stored.raw_response, stored.decision, stored.attempts, stored.grounded) == (None, None, 3, False)
    assert analysis_events(caplog) == [
        (
            logging.INFO,
            f"gemini SOL: WAIT 0.00 (ungrounded) — HTTP 503 from the model (key {MASK})",
            "analysis",
            "cycle-1",
        )
    ]


def test_a_failed_call_keeps_the_wait_the_parser_already_explained(store: Store) -> None:
    explained = Decision.wait("no JSON in the answer", AnalystKind.GEMINI, "no JSON object found")
    outcome = gemini_record(
        store, ParseOutcome(explained, error="no JSON object found"), CallTrace(call_error="read timed out")
    )
    assert outcome.decision is explained
    assert outcome.failed is True
    assert outcome.record.error == "read timed out"  # the call's failure comes first


def test_a_refused_answer_is_stored_with_the_parsers_reason_and_is_no_call_failure(
    store: Store, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base, "MAX_RAW_CHARS", 10)
    refused = Decision.wait("invalid answer", AnalystKind.GEMINI, "invalid answer: confidence = 7")
    with caplog.at_level(logging.DEBUG, logger="smt_engine.analyst.base"):
        outcome = gemini_record(
            store,
            ParseOutcome(refused, error="invalid answer: confidence = 7"),
            CallTrace(raw_response="0123456789 and more", grounded=True),
        )
    assert outcome.decision is refused
    assert outcome.failed is False
    assert outcome.record.raw_response == "0123456789"  # the stored raw answer is capped
    assert outcome.record.error == "invalid answer: confidence = 7"
    assert analysis_events(caplog) == [
        (logging.INFO, "gemini SOL: WAIT 0.00 — invalid answer: confidence = 7", "analysis", "cycle-1")
    ]


@pytest.mark.parametrize(
    ("kind", "grounded", "shown"),
    [
        (AnalystKind.HEURISTIC, False, "heuristic SOL: LONG 0.78"),
        (AnalystKind.GEMINI, False, "gemini SOL: LONG 0.78 (ungrounded)"),
    ],
)
def test_only_a_model_answer_without_grounding_is_called_ungrounded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: AnalystKind, grounded: bool, shown: str
) -> None:
    store = Store.open(tmp_path / "smt.db")
    try:
        with caplog.at_level(logging.DEBUG, logger="smt_engine.analyst.base"):
            outcome = record_analysis(
                store,
                context(pair=SOL),
                kind=kind,
                model="m",
                prompt="p",
                parsed=ParseOutcome(long_answer(grounded=grounded, analyst=kind)),
                trace=CallTrace(grounded=grounded),
            )
    finally:
        store.close()
    assert outcome.record.grounded is grounded
    assert analysis_events(caplog) == [(logging.INFO, shown, "analysis", "cycle-1")]


def test_an_empty_error_text_is_stored_as_no_error(store: Store) -> None:
    outcome = gemini_record(store, ParseOutcome(long_answer(), error=""), CallTrace(grounded=True))
    assert outcome.record.id is not None
    stored = store.analyses.get(outcome.record.id)
    assert stored is not None
    assert stored.error is None
