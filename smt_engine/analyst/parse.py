"""From model text to a validated ``Decision``: extract the JSON object, validate it, or say WAIT.

Grounded answers arrive as prose, code fences and citation markers (``[1]``, ``[1, 2]``) around or
inside the JSON, so extraction is tolerant; validation is not. Nothing is rescaled or clamped: a
confidence of 85, a take-profit on the losing side or a hold beyond the phase's limit makes the whole
answer invalid, and an invalid answer becomes a WAIT carrying the error — never an order.

The answer has no size, leverage or balance fields. Whatever the model (or a web page it read) says
about them is dropped here and listed in ``ignored_fields``; sizing is the risk engine's alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from smt_engine.analyst.context import DecisionBounds
from smt_engine.domain import Action, AnalystKind, Decision, Sentiment, round_confidence

MAX_TEXT_CHARS = 100_000
MAX_OBJECT_STARTS = 64
MAX_OBJECT_CHARS = 20_000
"""An answer object is a few hundred characters; a marker-stripping scan stops this far from its start."""
MAX_REASONING_CHARS = 2000
MAX_FIELD_CHARS = 500
MAX_RISK_FACTORS = 10

CITATION_RE = re.compile(
    r"[ \t]?(?:\[\s*\d+(?:\s*[,;-]\s*\d+)*\s*\]|\[cite(?:_start|_end)?(?::\s*[\d,\s]*)?\])"
)


class ExtractError(ValueError):
    """No JSON object could be read from the text."""


class AmbiguousAnswer(ExtractError):
    """The text holds more than one decision (two objects, or a duplicated key): not a decision at all."""


class UncheckedAnswer(ExtractError):
    """The text is past the scan's limits, so a second decision could hide in the unread rest."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise AmbiguousAnswer(f"ambiguous answer: the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _strip_markers_outside_strings(text: str, start: int) -> str:
    """From ``start``, the JSON-looking text with citation markers removed only between JSON tokens.

    Markers inside strings (the reasoning's ``[1]``) are text the model wrote and are kept as written;
    the scan stops where the object that opens at ``start`` closes.
    """
    out: list[str] = []
    i, depth, in_string, escaped = start, 0, False, False
    n = min(len(text), start + MAX_OBJECT_CHARS)
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            i += 1
            continue
        if ch == "[" or ch in " \t":
            m = CITATION_RE.match(text, i)
            if m is not None and m.end() > i:
                i = m.end()
                continue
        out.append(ch)
        if ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                break
        i += 1
    return "".join(out)


def _objects(text: str) -> list[dict[str, Any]]:
    """Every top-level JSON object in ``text``, read as written, else with stray citation markers removed."""
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates)
    has_markers = CITATION_RE.search(text) is not None
    found: list[dict[str, Any]] = []
    starts = 0
    pos = text.find("{")
    while pos != -1 and starts < MAX_OBJECT_STARTS:
        starts += 1
        read = _read_at(decoder, text, pos, has_markers)
        if read is None:
            pos = text.find("{", pos + 1)
        else:
            found.append(read[0])
            pos = text.find("{", read[1])
    if pos != -1:
        # Unchecked text may hold a second decision (LONG, then filler, then SHORT): not a decision.
        raise UncheckedAnswer(
            f"too many '{{' to check for a second decision (more than {MAX_OBJECT_STARTS} candidate objects)"
        )
    return found


def _read_at(
    decoder: json.JSONDecoder, text: str, pos: int, has_markers: bool
) -> tuple[dict[str, Any], int] | None:
    """The object opening at ``pos`` (a ``{``, so whatever decodes is an object) and where it ends in
    ``text``: read as written, else from a copy with stray citation markers removed; ``None`` if neither."""
    try:
        obj, end = decoder.raw_decode(text, pos)
    except (json.JSONDecodeError, RecursionError):
        pass
    else:
        return obj, end
    if not has_markers:
        return None
    try:
        obj = decoder.raw_decode(_strip_markers_outside_strings(text, pos))[0]
    except (json.JSONDecodeError, RecursionError):
        return None
    return obj, _end_in_original(text, pos)


def _end_in_original(text: str, start: int) -> int:
    """Where the object decoded from a marker-stripped copy ends in the original text.

    A marker holds no brace and no quote, so the original's braces close where the copy's did: the
    object closes within the text and the loop always returns.
    """
    depth, in_string, escaped = 0, False, False
    i = start
    while True:
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1


def extract_json(text: str) -> dict[str, Any]:
    """The answer object: the one JSON object holding a ``decision`` key, else the first object found.

    Each ``{`` outside an object already read is a candidate start, so prose and code fences around
    the object (and braces in prose) do not matter. Citation markers between JSON tokens are removed,
    those inside strings are kept. Two objects holding a decision (two fenced blocks, an "example"
    before the real one) or a key written twice is ambiguous: ``AmbiguousAnswer``, never a guess. A text
    past the scan's limits (``MAX_TEXT_CHARS``, ``MAX_OBJECT_STARTS``) cannot be checked for that:
    ``UncheckedAnswer``, also never a guess.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise UncheckedAnswer(
            f"answer too long to check for a second decision ({len(text)} characters, limit {MAX_TEXT_CHARS})"
        )
    objects = _objects(text)
    decisions = [o for o in objects if "decision" in o]
    if len(decisions) > 1:
        shown = ", ".join(str(o.get("decision"))[:12] for o in decisions[:4])
        raise AmbiguousAnswer(f"ambiguous answer: {len(decisions)} decisions in one answer ({shown})")
    if decisions:
        return decisions[0]
    if objects:
        return objects[0]
    raise ExtractError("no JSON object found in the response")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class AnalystAnswer(BaseModel):
    """The answer fields we use. Pass ``context={"bounds": DecisionBounds, "price": Decimal}``."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    decision: Action
    confidence: float = Field(ge=0, le=1, allow_inf_nan=False)
    take_profit_percent: Decimal | None = Field(None, allow_inf_nan=False)
    stop_loss_percent: Decimal | None = Field(None, allow_inf_nan=False)
    hold_time_hours: float | None = Field(None, allow_inf_nan=False)
    entry_price: Decimal | None = Field(None, allow_inf_nan=False)
    tp_price: Decimal | None = Field(None, allow_inf_nan=False)
    sl_price: Decimal | None = Field(None, allow_inf_nan=False)
    key_catalyst: str = ""
    risk_factors: list[str] = Field(default_factory=list)
    market_sentiment: Sentiment = Sentiment.NEUTRAL
    reasoning: str = Field(min_length=1)

    @field_validator("decision", "market_sentiment", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence_number(cls, value: Any) -> Any:
        # A JSON number only: "0.8", "80%" or true are answers we did not ask for.
        if not _is_number(value):
            raise ValueError("must be a JSON number between 0 and 1")
        return value

    @field_validator(
        "take_profit_percent",
        "stop_loss_percent",
        "hold_time_hours",
        "entry_price",
        "tp_price",
        "sl_price",
        mode="before",
    )
    @classmethod
    def _optional_number(cls, value: Any) -> Any:
        if value is None:
            return None
        if not _is_number(value):
            raise ValueError("must be a JSON number")
        return Decimal(str(value)) if isinstance(value, float) else value

    @field_validator("key_catalyst", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("risk_factors", mode="before")
    @classmethod
    def _factors(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        return value

    @model_validator(mode="after")
    def _within_bounds(self, info: ValidationInfo) -> AnalystAnswer:
        ctx = info.context or {}
        bounds: DecisionBounds | None = ctx.get("bounds")
        price: Decimal | None = ctx.get("price")
        if bounds is None:
            raise ValueError("validation needs bounds")
        if self.decision is Action.WAIT:
            return self
        problems: list[str] = []
        tp, sl, hold = self.take_profit_percent, self.stop_loss_percent, self.hold_time_hours
        if tp is None or not bounds.min_tp_pct <= tp <= bounds.max_tp_pct:
            problems.append(
                f"take_profit_percent = {tp}: must be between {bounds.min_tp_pct} and {bounds.max_tp_pct}"
            )
        if sl is None or not bounds.min_sl_pct <= sl <= bounds.max_sl_pct:
            problems.append(
                f"stop_loss_percent = {sl}: must be between {bounds.min_sl_pct} and {bounds.max_sl_pct}"
            )
        if hold is None or not 0 < hold <= bounds.max_hold_hours:
            problems.append(
                f"hold_time_hours = {hold}: must be above 0 and at most {bounds.max_hold_hours:g}"
            )
        if price is not None and price > 0:
            up = self.decision is Action.LONG
            if self.tp_price is not None and (self.tp_price <= price if up else self.tp_price >= price):
                problems.append(
                    f"tp_price = {self.tp_price}: must be {'above' if up else 'below'} the price {price} "
                    f"for {self.decision.value}"
                )
            if self.sl_price is not None and (self.sl_price >= price if up else self.sl_price <= price):
                problems.append(
                    f"sl_price = {self.sl_price}: must be {'below' if up else 'above'} the price {price} "
                    f"for {self.decision.value}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True, slots=True)
class ParseOutcome:
    """The decision, the validated answer as stored, and why it was refused when it was."""

    decision: Decision
    payload: dict[str, Any] | None = None
    error: str | None = None
    ignored_fields: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.error is None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        shown = err.get("input")
        if loc and not isinstance(shown, dict | list):
            parts.append(f"{loc} = {str(shown)[:60]}: {msg}")
        else:
            parts.append(f"{loc + ': ' if loc else ''}{msg}")
    return "invalid answer: " + "; ".join(parts)


def validate_answer(
    data: Any,
    bounds: DecisionBounds,
    price: Decimal | None,
    *,
    grounded: bool,
    analyst: AnalystKind,
    cap_ungrounded: bool = True,
) -> ParseOutcome:
    """Validate an already-extracted answer object; ungrounded model answers get their confidence capped."""
    if not isinstance(data, dict):
        error = "invalid answer: the JSON value is not an object"
        return ParseOutcome(Decision.wait("invalid analyst answer", analyst, error), None, error)
    try:
        answer = AnalystAnswer.model_validate(data, context={"bounds": bounds, "price": price})
    except ValidationError as exc:
        error = _describe(exc)
        return ParseOutcome(Decision.wait("invalid analyst answer", analyst, error), None, error)
    ignored = sorted(k for k in data if k not in AnalystAnswer.model_fields)
    confidence = float(round_confidence(answer.confidence))
    capped = False
    if cap_ungrounded and not grounded and confidence > bounds.ungrounded_confidence_cap:
        confidence, capped = float(round_confidence(bounds.ungrounded_confidence_cap)), True
    acting = answer.decision is not Action.WAIT
    decision = Decision(
        action=answer.decision,
        confidence=confidence,
        tp_pct=answer.take_profit_percent
        if acting and answer.take_profit_percent is not None
        else Decimal(0),
        sl_pct=answer.stop_loss_percent if acting and answer.stop_loss_percent is not None else Decimal(0),
        hold_hours=float(answer.hold_time_hours) if acting and answer.hold_time_hours is not None else 0.0,
        reasoning=answer.reasoning[:MAX_REASONING_CHARS],
        key_catalyst=answer.key_catalyst[:MAX_FIELD_CHARS],
        risk_factors=tuple(str(f)[:MAX_FIELD_CHARS] for f in answer.risk_factors[:MAX_RISK_FACTORS]),
        sentiment=answer.market_sentiment,
        grounded=grounded,
        analyst=analyst,
    )
    payload = answer.model_dump(mode="json")
    payload["confidence_raw"] = answer.confidence
    payload["confidence"] = confidence
    payload["confidence_capped"] = capped
    payload["grounded"] = grounded
    if ignored:
        payload["ignored_fields"] = ignored
    return ParseOutcome(decision, payload, None, ignored)


def parse_response(
    text: str | None,
    bounds: DecisionBounds,
    price: Decimal | None,
    *,
    grounded: bool,
    analyst: AnalystKind = AnalystKind.GEMINI,
) -> ParseOutcome:
    """Model text to decision; empty or unreadable text is a WAIT with the reason."""
    if text is None or not text.strip():
        error = "empty response"
        return ParseOutcome(Decision.wait("no analyst answer", analyst, error), None, error)
    try:
        data = extract_json(text)
    except ExtractError as exc:
        error = f"invalid answer: {exc}"
        return ParseOutcome(Decision.wait("unreadable analyst answer", analyst, error), None, error)
    return validate_answer(data, bounds, price, grounded=grounded, analyst=analyst)
