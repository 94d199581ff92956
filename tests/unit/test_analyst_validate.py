"""The answer parser's verdict: a refused answer is a WAIT that says why, a valid one is read as written."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from smt_engine.analyst.parse import (
    MAX_FIELD_CHARS,
    MAX_REASONING_CHARS,
    MAX_RISK_FACTORS,
    AnalystAnswer,
    parse_response,
    validate_answer,
)
from smt_engine.domain import Action, AnalystKind, Decision, Sentiment
from tests.analyst_support import BOUNDS, PRICE, answer, parse


def test_the_wait_says_why_it_is_a_wait() -> None:
    empty = parse_response(" \n", BOUNDS, PRICE, grounded=True)
    assert (empty.decision.reasoning, empty.error, empty.payload) == (
        "no analyst answer",
        "empty response",
        None,
    )
    assert empty.decision.analyst is AnalystKind.GEMINI
    assert empty.valid is False
    none = parse(None)
    assert (none.decision.reasoning, none.error) == ("no analyst answer", "empty response")
    bad = parse_response("{", BOUNDS, PRICE, grounded=True, analyst=AnalystKind.HEURISTIC)
    assert bad.decision == Decision.wait(
        "unreadable analyst answer",
        AnalystKind.HEURISTIC,
        "invalid answer: no JSON object found in the response",
    )
    assert bad.payload is None
    refused = parse_response(json.dumps(answer(confidence=2)), BOUNDS, PRICE, grounded=True)
    assert refused.decision.reasoning == "invalid analyst answer"
    assert refused.decision.analyst is AnalystKind.GEMINI
    assert refused.payload is None
    listed = validate_answer([1], BOUNDS, PRICE, grounded=True, analyst=AnalystKind.HEURISTIC)
    assert listed.decision == Decision.wait(
        "invalid analyst answer", AnalystKind.HEURISTIC, "invalid answer: the JSON value is not an object"
    )
    assert listed.payload is None
    assert listed.error == "invalid answer: the JSON value is not an object"


@pytest.mark.parametrize(
    ("over", "error"),
    [
        ({"confidence": "0.8"}, "confidence = 0.8: must be a JSON number between 0 and 1"),
        ({"confidence": 5}, "confidence = 5: Input should be less than or equal to 1"),
        ({"stop_loss_percent": "2%"}, "stop_loss_percent = 2%: must be a JSON number"),
        ({"tp_price": "1" * 70}, f"tp_price = {'1' * 60}: must be a JSON number"),
        ({"risk_factors": {"a": 1}}, "risk_factors: Input should be a valid list"),
        ({"risk_factors": ["a", 7]}, "risk_factors.1 = 7: Input should be a valid string"),
        ({"take_profit_percent": float("nan")}, "take_profit_percent = NaN: Input should be a finite number"),
        ({"sl_price": float("inf")}, "sl_price = Infinity: Input should be a finite number"),
        ({"decision": "BUY"}, "decision = BUY: Input should be 'LONG', 'SHORT' or 'WAIT'"),
        (
            {"take_profit_percent": 40, "stop_loss_percent": 12, "hold_time_hours": 72},
            "take_profit_percent = 40: must be between 0.5 and 15; stop_loss_percent = 12: must be between"
            " 0.3 and 8; hold_time_hours = 72.0: must be above 0 and at most 48",
        ),
        ({"take_profit_percent": None}, "take_profit_percent = None: must be between 0.5 and 15"),
        ({"stop_loss_percent": None}, "stop_loss_percent = None: must be between 0.3 and 8"),
        ({"hold_time_hours": None}, "hold_time_hours = None: must be above 0 and at most 48"),
        ({"hold_time_hours": -1}, "hold_time_hours = -1.0: must be above 0 and at most 48"),
        ({"take_profit_percent": 0.49}, "take_profit_percent = 0.49: must be between 0.5 and 15"),
        ({"take_profit_percent": 15.01}, "take_profit_percent = 15.01: must be between 0.5 and 15"),
        ({"stop_loss_percent": 0.29}, "stop_loss_percent = 0.29: must be between 0.3 and 8"),
        ({"stop_loss_percent": 8.01}, "stop_loss_percent = 8.01: must be between 0.3 and 8"),
        ({"hold_time_hours": 48.01}, "hold_time_hours = 48.01: must be above 0 and at most 48"),
        ({"tp_price": 100}, "tp_price = 100: must be above the price 100 for LONG"),
        ({"sl_price": 100}, "sl_price = 100: must be below the price 100 for LONG"),
        (
            {"decision": "SHORT", "tp_price": 100, "sl_price": 100},
            "tp_price = 100: must be below the price 100 for SHORT; sl_price = 100: must be above the price"
            " 100 for SHORT",
        ),
        (
            {"decision": "SHORT", "tp_price": 103, "sl_price": 98},
            "tp_price = 103: must be below the price 100 for SHORT; sl_price = 98: must be above the price"
            " 100 for SHORT",
        ),
    ],
)
def test_the_stored_error_names_each_field_its_value_and_the_rule(over: dict[str, Any], error: str) -> None:
    out = parse(json.dumps(answer(**over), allow_nan=True))
    assert out.error == "invalid answer: " + error
    assert out.decision.error == out.error
    assert out.decision.action is Action.WAIT


def test_a_missing_field_is_named_without_the_whole_answer() -> None:
    out = parse('{"decision": "LONG"}')
    assert out.error == "invalid answer: confidence: Field required; reasoning: Field required"


@pytest.mark.parametrize(
    "over",
    [
        {"take_profit_percent": 0.5, "stop_loss_percent": 0.3, "hold_time_hours": 48},
        {"take_profit_percent": 15, "stop_loss_percent": 8, "hold_time_hours": 0.01},
        {"decision": "SHORT", "tp_price": 99.99, "sl_price": 100.01},
        {"tp_price": None, "sl_price": None, "entry_price": None},
    ],
)
def test_values_on_the_bounds_are_valid(over: dict[str, Any]) -> None:
    out = parse(json.dumps(answer(**over)))
    assert out.valid, out.error


@pytest.mark.parametrize("price", [None, Decimal(0), Decimal(-1)])
def test_without_a_live_price_the_tp_and_sl_prices_are_not_judged(price: Decimal | None) -> None:
    data = answer(tp_price=1, sl_price=1_000_000)
    out = validate_answer(data, BOUNDS, price, grounded=True, analyst=AnalystKind.GEMINI)
    assert out.valid, out.error


def test_below_one_dollar_the_tp_and_sl_prices_are_still_judged() -> None:
    data = answer(tp_price=0.4, sl_price=0.6)
    out = validate_answer(data, BOUNDS, Decimal("0.5"), grounded=True, analyst=AnalystKind.GEMINI)
    assert out.error == (
        "invalid answer: tp_price = 0.4: must be above the price 0.5 for LONG;"
        " sl_price = 0.6: must be below the price 0.5 for LONG"
    )


@pytest.mark.parametrize("context", [None, {"price": PRICE}])
def test_the_answer_cannot_be_validated_without_bounds(context: dict[str, Any] | None) -> None:
    with pytest.raises(ValidationError) as info:
        AnalystAnswer.model_validate(answer(decision="WAIT"), context=context)
    assert [e["msg"] for e in info.value.errors()] == ["Value error, validation needs bounds"]


def test_fields_are_read_as_written_and_normalised() -> None:
    out = parse(
        json.dumps(
            answer(
                decision=" long ",
                market_sentiment=" bearish",
                take_profit_percent=1.1,
                stop_loss_percent=0.7,
                hold_time_hours=1.5,
                key_catalyst=None,
                risk_factors="one factor",
            )
        )
    )
    d = out.decision
    assert (d.action, d.sentiment) == (Action.LONG, Sentiment.BEARISH)
    assert str(d.tp_pct) == "1.1"
    assert str(d.sl_pct) == "0.7"
    assert d.hold_hours == 1.5
    assert (d.key_catalyst, d.risk_factors) == ("", ("one factor",))
    assert parse(json.dumps(answer(risk_factors=None))).decision.risk_factors == ()
    assert parse(json.dumps(answer(key_catalyst="  x  "))).decision.key_catalyst == "x"


def test_a_wait_carries_no_exit_plan_even_when_the_answer_gives_one() -> None:
    out = parse(json.dumps(answer(decision="WAIT", confidence=0.4)))
    d = out.decision
    assert (d.action, d.tp_pct, d.sl_pct, d.hold_hours, d.confidence) == (
        Action.WAIT,
        Decimal(0),
        Decimal(0),
        0.0,
        0.4,
    )
    assert d.error is None
    assert out.valid is True


def test_long_texts_are_cut_to_what_is_stored() -> None:
    factors = [f"f{i}" + "y" * 600 for i in range(12)]
    out = parse(json.dumps(answer(reasoning="r" * 3000, key_catalyst="k" * 700, risk_factors=factors)))
    d = out.decision
    assert d.reasoning == "r" * MAX_REASONING_CHARS
    assert d.key_catalyst == "k" * MAX_FIELD_CHARS
    assert d.risk_factors == tuple(f[:MAX_FIELD_CHARS] for f in factors[:MAX_RISK_FACTORS])


def test_the_payload_records_the_answer_and_its_confidence_before_the_cap() -> None:
    out = parse(json.dumps(answer(confidence=0.6, leverage=5)), grounded=False)
    assert out.payload == {
        "decision": "LONG",
        "confidence": 0.6,
        "take_profit_percent": "3.0",
        "stop_loss_percent": "1.5",
        "hold_time_hours": 12.0,
        "entry_price": "100",
        "tp_price": "103",
        "sl_price": "98.5",
        "key_catalyst": "ETF inflows",
        "risk_factors": ["macro data", "funding"],
        "market_sentiment": "BULLISH",
        "reasoning": "Spot ETF inflows accelerated. Funding is neutral.",
        "confidence_raw": 0.6,
        "confidence_capped": False,
        "grounded": False,
        "ignored_fields": ["leverage"],
    }
    assert out.ignored_fields == ["leverage"]
    assert "ignored_fields" not in (parse(json.dumps(answer())).payload or {})
    capped = parse(json.dumps(answer(confidence=0.60005)), grounded=False)
    assert capped.decision.confidence == 0.6
    assert capped.payload is not None
    assert (capped.payload["confidence"], capped.payload["confidence_capped"]) == (0.6, True)


def test_an_uncapped_source_keeps_its_confidence_ungrounded() -> None:
    out = validate_answer(
        answer(confidence=0.9),
        BOUNDS,
        PRICE,
        grounded=False,
        analyst=AnalystKind.HEURISTIC,
        cap_ungrounded=False,
    )
    assert out.decision.confidence == 0.9
    assert out.decision.grounded is False
    assert out.decision.analyst is AnalystKind.HEURISTIC
    assert out.payload is not None
    assert (out.payload["confidence_capped"], out.payload["grounded"]) == (False, False)
    grounded = parse(json.dumps(answer(confidence=0.9)), grounded=True)
    assert grounded.decision.confidence == 0.9


def test_without_a_decision_the_first_object_is_judged_and_refused() -> None:
    one = parse('{"confidence": 0.5}')
    assert one.error == "invalid answer: decision: Field required; reasoning: Field required"
    two = parse('{"confidence": 0.5} and {"reasoning": "x"}')
    assert two.error == "invalid answer: decision: Field required; reasoning: Field required"
    assert two.decision.action is Action.WAIT
