"""Model fallback, usage and the daily budget, through the real google-genai SDK against the fake server."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smt_engine.analyst import GeminiAnalyst, analyse_all
from smt_engine.clock import SimulatedClock
from smt_engine.domain import Action, AnalystKind, EventLevel, HealthStatus
from smt_engine.exitcodes import ExitCode
from smt_engine.store import Store
from tests.analyst_support import BTC, ETH, NOW, SOL, candles, context, fast_settings, open_store
from tests.fakes.gemini_server import (
    FakeGeminiServer,
    model_not_found,
    model_retired,
    server_error,
    text_reply,
)

pytestmark = pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")

KEY = "AIzaTestKey-0123456789-abcdef"
ANSWER: dict[str, Any] = {
    "decision": "LONG",
    "confidence": 0.7,
    "take_profit_percent": 3.0,
    "stop_loss_percent": 1.5,
    "hold_time_hours": 12,
    "market_sentiment": "BULLISH",
    "reasoning": "Inflows.",
}


def health(store: Store, component: str) -> Any:
    row = store.health.get(component)
    assert row is not None, component
    return row


async def test_not_found_falls_back_to_the_next_model_and_warns(
    gemini: FakeGeminiServer, store: Store
) -> None:
    settings = fast_settings(gemini.url, model="gemini-9-gone", fallback_models=["gemini-3.8-flash"])
    clock = SimulatedClock(NOW)
    analyst = GeminiAnalyst(settings.analyst, store, clock, api_key=KEY)
    gemini.push(model_not_found("gemini-9-gone"), text_reply(json.dumps(ANSWER)))
    gemini.push(text_reply(json.dumps(ANSWER)))
    try:
        out = await analyst.analyse(context(settings))
        assert out.decision.action is Action.LONG
        assert not out.failed
        assert [r.model for r in gemini.requests] == ["gemini-9-gone", "gemini-3.8-flash"]
        row = store.analyses.get(out.record.id)
        assert row is not None
        assert row.model == "gemini-3.8-flash"
        assert row.attempts == 2

        model = health(store, "analyst.model")
        assert model.status is HealthStatus.WARN
        assert "gemini-9-gone unavailable" in model.detail
        assert "using fallback gemini-3.8-flash" in model.detail
        kinds = {(e.kind, e.level) for e in store.events.select()}
        assert ("analyst.model_unavailable", EventLevel.WARNING) in kinds
        assert ("health.degraded", EventLevel.WARNING) in kinds

        # The retired model is skipped on the next analysis, not asked again...
        out2 = await analyst.analyse(context(settings, pair=ETH))
        assert out2.record.model == "gemini-3.8-flash"
        assert [r.model for r in gemini.requests][2:] == ["gemini-3.8-flash"]
        # ...until model_retry_after has passed.
        await clock.advance((settings.analyst.model_retry_after + timedelta(seconds=1)).total_seconds())
        assert analyst.available_models() == ["gemini-9-gone", "gemini-3.8-flash"]
    finally:
        await analyst.aclose()


async def test_retired_message_counts_as_unavailable_and_none_left_is_down(
    gemini: FakeGeminiServer, store: Store
) -> None:
    settings = fast_settings(gemini.url, model="gemini-a", fallback_models=["gemini-b"])
    analyst = GeminiAnalyst(settings.analyst, store, SimulatedClock(NOW), api_key=KEY)
    gemini.push(model_retired("gemini-a"), model_not_found("gemini-b"))
    try:
        out = await analyst.analyse(context(settings))
    finally:
        await analyst.aclose()
    assert out.failed
    assert out.decision.action is Action.WAIT
    assert out.record.error is not None
    assert "no model available" in out.record.error
    assert "gemini-a: HTTP 400" in out.record.error
    assert "retired" in out.record.error
    assert health(store, "analyst.model").status is HealthStatus.DOWN


async def test_a_plain_client_error_is_not_taken_for_a_retired_model(
    gemini: FakeGeminiServer, store: Store
) -> None:
    settings = fast_settings(gemini.url, fallback_models=["gemini-3.5-flash-lite"])
    analyst = GeminiAnalyst(settings.analyst, store, SimulatedClock(NOW), api_key=KEY)
    gemini.push(server_error(400))
    try:
        out = await analyst.analyse(context(settings))
    finally:
        await analyst.aclose()
    assert out.failed
    assert len(gemini.requests) == 1
    assert analyst.available_models() == ["gemini-3.8-flash", "gemini-3.5-flash-lite"]


async def test_usage_and_cost_are_stored_per_analysis(gemini: FakeGeminiServer, store: Store) -> None:
    settings = fast_settings(gemini.url)
    analyst = GeminiAnalyst(settings.analyst, store, SimulatedClock(NOW), api_key=KEY)
    gemini.push(
        text_reply(
            json.dumps(ANSWER),
            queries=["btc etf", "btc funding", "fed"],
            usage={"promptTokenCount": 1_000_000, "candidatesTokenCount": 100_000, "thoughtsTokenCount": 0},
        )
    )
    try:
        out = await analyst.analyse(context(settings))
    finally:
        await analyst.aclose()
    (usage,) = store.analyst_usage.select()
    assert usage.analysis_id == out.record.id
    assert usage.model == "gemini-3.8-flash"
    assert (usage.input_tokens, usage.output_tokens, usage.thinking_tokens, usage.search_queries) == (
        1_000_000,
        100_000,
        0,
        3,
    )
    # $1.50 input + 0.1 M x $7.50 output + 3 x $0.014 search
    assert usage.cost_usd == Decimal("2.292")
    assert usage.priced
    assert usage.requests == 1
    assert store.analyses.get(out.record.id).usage["cost_usd"] == "2.292000"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("version", "expected_usd"),
    [
        # Listed in analyst.prices (by prefix): priced at its own rate, $0.30 + 0.1 M x $2.50.
        ("gemini-3.5-flash-lite-preview-09", Decimal("0.550000")),
        # Not listed: priced as the model we asked for, $1.50 + 0.1 M x $7.50.
        ("gemini-exp-2611", Decimal("2.250000")),
    ],
    ids=["own-price", "requested-price"],
)
async def test_the_answering_model_version_is_recorded_and_priced(
    gemini: FakeGeminiServer, store: Store, version: str, expected_usd: Decimal
) -> None:
    settings = fast_settings(gemini.url)
    analyst = GeminiAnalyst(settings.analyst, store, SimulatedClock(NOW), api_key=KEY)
    usage = {"promptTokenCount": 1_000_000, "candidatesTokenCount": 100_000, "thoughtsTokenCount": 0}
    gemini.push(text_reply(json.dumps(ANSWER), model=version, grounded=False, usage=usage))
    try:
        out = await analyst.analyse(context(settings))
    finally:
        await analyst.aclose()
    assert gemini.requests[0].model == "gemini-3.8-flash"
    row = store.analyses.get(out.record.id)
    assert row is not None
    assert row.model == version
    assert row.usage["model_version"] == version
    (spent,) = store.analyst_usage.select()
    assert spent.model == version
    assert spent.priced
    assert spent.cost_usd == expected_usd


async def test_a_day_over_its_usd_cap_switches_to_the_heuristic(
    gemini: FakeGeminiServer, store: Store
) -> None:
    settings = fast_settings(gemini.url, daily_max_usd="0.05", fallback="heuristic")
    clock = SimulatedClock(NOW)
    analyst = GeminiAnalyst(settings.analyst, store, clock, api_key=KEY)
    expensive = {"promptTokenCount": 40_000, "candidatesTokenCount": 1000, "thoughtsTokenCount": 0}
    gemini.push(text_reply(json.dumps(ANSWER), usage=expensive))
    up = candles(step_pct=0.4)
    try:
        first = await analyst.analyse(context(settings, bars=up))
        assert first.record.analyst is AnalystKind.GEMINI
        assert (
            health(store, "analyst.budget").status is HealthStatus.WARN
        )  # $0.06 in + $0.0075 out + $0.014 search of $0.05
        outcomes = await analyse_all(
            analyst, [context(settings, pair=ETH, bars=up)], store=store, clock=clock
        )
        (second,) = outcomes
        assert second.record.analyst is AnalystKind.HEURISTIC
        assert second.decision.action is Action.LONG
        assert second.record.decision is not None
        assert "daily USD cap reached" in second.record.decision["over_budget"]
        assert len(gemini.requests) == 1  # no call went out over the cap
        budget = health(store, "analyst.budget")
        assert "1/60 calls" in budget.detail
        assert "$0.0815/$0.05" in budget.detail
        # The next UTC day starts a fresh budget.
        await clock.advance(timedelta(days=1).total_seconds())
        gemini.push(text_reply(json.dumps(ANSWER)))
        third = await analyst.analyse(context(settings, pair=BTC, bars=up, now=clock.now()))
        assert third.record.analyst is AnalystKind.GEMINI
        assert health(store, "analyst.budget").status is HealthStatus.OK
    finally:
        await analyst.aclose()


async def test_daily_call_cap(gemini: FakeGeminiServer, store: Store) -> None:
    settings = fast_settings(gemini.url, daily_max_calls=1, max_attempts=1)
    analyst = GeminiAnalyst(settings.analyst, store, SimulatedClock(NOW), api_key=KEY)
    gemini.push(server_error(503))  # a failed call still counts as a call
    try:
        await analyst.analyse(context(settings))
        out = await analyst.analyse(context(settings, pair=ETH))
    finally:
        await analyst.aclose()
    # analyst.fallback = "wait" (the default): over the cap is a recorded WAIT, never a heuristic trade.
    assert out.record.analyst is AnalystKind.GEMINI
    assert len(gemini.requests) == 1
    assert out.decision.action is Action.WAIT
    assert out.record.action is Action.WAIT
    assert out.record.attempts == 0
    assert not out.failed
    assert "daily call cap reached: 1 of 1" in (out.record.decision or {})["over_budget"]
    assert out.record.error is not None
    assert "daily call cap reached" in out.record.error


@pytest.mark.parametrize("first", ["retry", "model-fallback"])
async def test_retries_and_model_fallbacks_stop_at_the_call_cap(
    gemini: FakeGeminiServer, store: Store, first: str
) -> None:
    """One analysis reserves one call but may retry: each further request re-checks the daily caps."""
    settings = fast_settings(
        gemini.url, daily_max_calls=2, max_attempts=3, fallback_models=["gemini-3.5-flash-lite"]
    )
    analyst = GeminiAnalyst(settings.analyst, store, SimulatedClock(NOW), api_key=KEY)
    opening = server_error(503) if first == "retry" else model_not_found("gemini-3.8-flash")
    gemini.push(opening, server_error(503), server_error(503), server_error(503))
    try:
        out = await analyst.analyse(context(settings))
    finally:
        await analyst.aclose()
    assert len(gemini.requests) == 2
    assert out.failed
    assert out.decision.action is Action.WAIT
    assert out.record.attempts == 2
    assert "daily call cap reached: 2 of 2" in (out.record.error or "")
    assert store.analyst_usage.day_spend(NOW.date()).requests == 2
    assert analyst.budget.in_flight == 0


async def test_over_budget_with_fallback_wait_never_trades_the_heuristic(
    gemini: FakeGeminiServer, store: Store
) -> None:
    """The heuristic would say LONG on this rising series; with fallback "wait" the cap yields a WAIT."""
    settings = fast_settings(gemini.url, daily_max_calls=1)
    clock = SimulatedClock(NOW)
    analyst = GeminiAnalyst(settings.analyst, store, clock, api_key=KEY)
    gemini.push(text_reply(json.dumps(ANSWER)))
    up = candles(step_pct=0.4)
    try:
        await analyst.analyse(context(settings, bars=up))
        outcomes = await analyse_all(
            analyst, [context(settings, pair=ETH, bars=up)], store=store, clock=clock
        )
    finally:
        await analyst.aclose()
    (second,) = outcomes
    assert second.decision.action is Action.WAIT
    assert second.record.analyst is AnalystKind.GEMINI
    assert "daily call cap reached" in (second.record.decision or {})["over_budget"]
    assert len(gemini.requests) == 1
    assert [a.analyst for a in store.analyses.select()] == [AnalystKind.GEMINI, AnalystKind.GEMINI]


async def test_analyst_health_counts_failed_analyses_in_a_cycle(
    gemini: FakeGeminiServer, store: Store
) -> None:
    settings = fast_settings(gemini.url, max_attempts=1)
    clock = SimulatedClock(NOW)
    analyst = GeminiAnalyst(settings.analyst, store, clock, api_key=KEY)
    gemini.push(text_reply(json.dumps(ANSWER)), server_error(503))
    try:
        await analyse_all(analyst, [context(settings), context(settings, pair=ETH)], store=store, clock=clock)
    finally:
        await analyst.aclose()
    row = health(store, "analyst")
    assert row.status is HealthStatus.WARN
    assert row.detail.startswith("1 of 2 analyses failed")


def test_status_shows_todays_spend_against_the_caps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from smt_engine.cli import main as cli
    from smt_engine.store.analyst_usage import AnalystUsage

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    db = tmp_path / "smt.db"
    now = datetime.now(UTC)
    with open_store(tmp_path) as s:
        for cost in ("0.25", "0.5"):
            s.analyst_usage.insert(
                AnalystUsage(
                    at=now,
                    day=now.date().isoformat(),
                    model="m",
                    requests=2,
                    answered=True,
                    cost_usd=Decimal(cost),
                )
            )
        s.analyst_usage.insert(  # yesterday's spend is not today's
            AnalystUsage(
                at=now - timedelta(days=1),
                day=(now - timedelta(days=1)).date().isoformat(),
                model="m",
                requests=9,
                answered=True,
                cost_usd=Decimal(9),
            )
        )
    config = tmp_path / "c.toml"
    config.write_text(f'[engine]\ndatabase = "{db}"\n[analyst]\ndaily_max_calls = 40\ndaily_max_usd = 3\n')
    assert cli.main(["status", "--config", str(config)]) == ExitCode.NOT_RUNNING
    out = capsys.readouterr().out
    assert "analyst     today 4/40 Gemini calls, $0.7500/$3" in out
    assert "over a cap each analysis is a WAIT" in out
    assert "heuristic" not in out
    assert cli.main(["status", "--json", "--config", str(config)]) == ExitCode.NOT_RUNNING
    data = json.loads(capsys.readouterr().out)
    assert data["analyst_today"]["calls"] == 4
    assert data["analyst_today"]["usd"] == "0.7500"
    assert data["analyst_today"]["fallback"] == "wait"
    config.write_text(config.read_text() + 'fallback = "heuristic"\n')
    assert cli.main(["status", "--config", str(config)]) == ExitCode.NOT_RUNNING
    assert "over a cap the heuristic answers" in capsys.readouterr().out


def _score(store: Store, i: int, hit: bool, confidence: float) -> None:
    from smt_engine.store.scores import Score

    at = NOW - timedelta(days=2, hours=i)
    store.scores.add(
        [
            Score(
                subject="analysis",
                subject_id=i,
                horizon="4h",
                pair="BTC",
                tier="1",
                analyst="gemini",
                model="gemini-3.8-flash",
                direction="LONG",
                confidence=confidence,
                signal_agrees="none",
                decided_at=at,
                due_at=at + timedelta(hours=4),
                ref_price=Decimal(100),
                exit_price=Decimal(101 if hit else 99),
                move_pct=1.0 if hit else -1.0,
                return_pct=0.84 if hit else -1.16,
                hit=hit,
                scored_at=NOW,
            )
        ]
    )


@pytest.mark.parametrize("enabled", [True, False])
async def test_track_record_in_the_prompt_only_when_enabled(
    gemini: FakeGeminiServer, store: Store, enabled: bool
) -> None:
    for i, hit in enumerate([True, False, False, False]):
        _score(store, i, hit, 0.75)
    settings = fast_settings(gemini.url, track_record_in_prompt=enabled)
    analyst = GeminiAnalyst(settings.analyst, store, SimulatedClock(NOW), api_key=KEY)
    gemini.push(text_reply(json.dumps(ANSWER)))
    try:
        await analyst.analyse(context(settings))
    finally:
        await analyst.aclose()
    (req,) = gemini.requests
    if not enabled:
        assert "TRACK RECORD" not in req.prompt
        return
    assert "=== YOUR TRACK RECORD ===" in req.prompt
    assert "4 calls, 4 LONG/SHORT, 0 WAIT" in req.prompt
    assert "LONG/SHORT right after fees: 25%" in req.prompt
    assert (
        "When you said 0.7-0.8: on average you stated 75% and were right 25% of the time (n=4)" in req.prompt
    )
    assert req.prompt.index("TRACK RECORD") < req.prompt.index("=== RESPONSE FORMAT ===")


async def test_concurrent_pairs_cannot_all_take_the_last_call(gemini: FakeGeminiServer, store: Store) -> None:
    settings = fast_settings(gemini.url, daily_max_calls=2)
    clock = SimulatedClock(NOW)
    analyst = GeminiAnalyst(settings.analyst, store, clock, api_key=KEY)
    gemini.push(text_reply(json.dumps(ANSWER)), text_reply(json.dumps(ANSWER)))
    up = candles(step_pct=0.4)
    contexts = [context(settings, pair=p, bars=up) for p in (BTC, ETH, SOL)]
    try:
        outcomes = await analyse_all(analyst, contexts, store=store, clock=clock)
    finally:
        await analyst.aclose()
    actions = sorted(o.decision.action.value for o in outcomes)
    over = [o for o in outcomes if (o.record.decision or {}).get("over_budget")]
    assert actions == ["LONG", "LONG", "WAIT"]
    assert len(over) == 1
    assert len(gemini.requests) == 2


@pytest.mark.parametrize(
    ("model", "tuning", "expected"),
    [
        ("gemini-2.5-flash", None, {"temperature": 0.2}),
        (
            "gemini-3.8-flash",
            {"gemini-3.8": {"thinking_level": "low", "temperature": 1.0}},
            {"temperature": 1.0},
        ),
        ("gemini-2.5-pro", {"gemini-2": {"thinking_budget": 512}}, {}),
    ],
    ids=["gemini-2-family", "longest-prefix-wins", "thinking-budget"],
)
async def test_temperature_and_thinking_follow_the_model_family(
    gemini: FakeGeminiServer,
    store: Store,
    model: str,
    tuning: dict[str, Any] | None,
    expected: dict[str, Any],
) -> None:
    over: dict[str, Any] = {"model": model, "fallback_models": []}
    if tuning is not None:
        over["tuning"] = {"gemini-3": {"thinking_level": "medium"}, **tuning}
    settings = fast_settings(gemini.url, **over)
    analyst = GeminiAnalyst(settings.analyst, store, SimulatedClock(NOW), api_key=KEY)
    gemini.push(text_reply(json.dumps(ANSWER), model=model))
    try:
        await analyst.analyse(context(settings))
    finally:
        await analyst.aclose()
    gen = gemini.requests[0].body.get("generationConfig", {})
    assert {k: v for k, v in gen.items() if k == "temperature"} == expected
    thinking = gen.get("thinkingConfig")
    if model == "gemini-2.5-pro":
        assert thinking is not None
        assert list(thinking.values()) == [512]
    elif model == "gemini-3.8-flash":
        assert thinking is not None
        assert list(thinking.values()) == ["LOW"]
    else:
        assert thinking is None
