"""``[n]`` markers in the stored reasoning that point at the numbered sources, from grounding supports.

A grounded response lists ``groundingSupports``: a ``segment`` of the answer and the indices of the
``groundingChunks`` that back it. Google's Segment type (google-genai ``types.Segment``; Vertex AI
``Segment`` reference, https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/Segment)
measures ``startIndex``/``endIndex`` in *bytes* from the start of the Part ``partIndex``, end exclusive;
the "Grounding with Google Search" guide (https://ai.google.dev/gemini-api/docs/google-search) inserts
its citations at ``endIndex``. So each end is converted from UTF-8 bytes of its part to a character
offset in the joined answer text, then into the decoded ``reasoning`` (or ``key_catalyst``) string of
the answer object. The model's own bracket markers are removed (they number nothing we store), and
``[n]`` is written right after each supported segment, one bracket per source: ``[1][3]``, numbered
like the stored sources (1-based, in chunk order, chunks without a web source skipped).

A support that cannot be placed (no segment, an index out of range, an end inside a multi-byte
character or a JSON escape) is skipped with a note; a segment ending just past a field's closing quote
(the quote, a comma, a brace taken along) is cited at the field's end; segments outside the cited fields
(the JSON keys, the prose around the object, an end at the opening quote) are skipped silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from smt_engine.analyst.parse import CITATION_RE, MAX_FIELD_CHARS, MAX_REASONING_CHARS, ParseOutcome

CITED_FIELDS = ("reasoning", "key_catalyst")
MAX_NOTES = 20


@dataclass(frozen=True, slots=True)
class Citation:
    """Sources (1-based numbers) backing the answer text that ends at character ``end``."""

    end: int
    sources: tuple[int, ...]


@dataclass(slots=True)
class Supports:
    """The placeable supports of one response, and why the others were skipped."""

    citations: list[Citation]
    notes: list[str]

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)


def read_supports(metadata: Any, parts: Sequence[str | None], chunk_sources: dict[int, int]) -> Supports:
    """The supports of ``metadata`` as character offsets in the joined text of ``parts``.

    ``parts`` are candidate 0's parts in order, ``None`` for a part left out of the answer text (a
    thought, a non-text part); ``chunk_sources`` maps a grounding chunk index to its source number.
    """
    out = Supports([], [])
    starts: list[int | None] = []
    offset = 0
    for text in parts:
        starts.append(offset if text is not None else None)
        offset += len(text or "")
    for i, support in enumerate(getattr(metadata, "grounding_supports", None) or []):
        segment = getattr(support, "segment", None)
        end = getattr(segment, "end_index", None) if segment is not None else None
        if end is None:
            out.note(f"support {i}: no segment end")
            continue
        part = getattr(segment, "part_index", None) or 0
        if not 0 <= part < len(parts) or starts[part] is None:
            out.note(f"support {i}: part {part} is not a text part of the answer")
            continue
        encoded = (parts[part] or "").encode("utf-8")
        if not 0 <= end <= len(encoded):
            out.note(f"support {i}: end {end} is outside its part ({len(encoded)} bytes)")
            continue
        try:
            chars = len(encoded[:end].decode("utf-8"))
        except UnicodeDecodeError:
            out.note(f"support {i}: end {end} falls inside a multi-byte character")
            continue
        numbers: list[int] = []
        for index in getattr(support, "grounding_chunk_indices", None) or []:
            number = chunk_sources.get(index)
            if number is None:
                out.note(f"support {i}: chunk {index} is not a listed source")
            elif number not in numbers:
                numbers.append(number)
        if numbers:
            out.citations.append(Citation((starts[part] or 0) + chars, tuple(numbers)))
    return out


# What may follow a field's closing quote before the next token: a segment ending among these ends the field.
_PAST_FIELD = '",} \t\r\n'
_FIELD_RE = re.compile(r'"(?P<key>' + "|".join(CITED_FIELDS) + r')"\s*:\s*"')


def _string_end(text: str, start: int) -> int | None:
    """Index of the quote closing the JSON string whose content starts at ``start``."""
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            return i
    return None


def _decoded_length(raw: str) -> int | None:
    """Length of the JSON string content ``raw`` once decoded; None when it ends inside an escape."""
    try:
        value = json.loads('"' + raw + '"')
    except json.JSONDecodeError:
        return None
    return len(value) if isinstance(value, str) else None


def cite_fields(payload: dict[str, Any], text: str, supports: Supports) -> dict[str, str]:
    """The cited fields of ``payload`` rewritten with aligned markers (and the model's own removed).

    A field is located in ``text`` as the JSON string whose decoded value is the field as validated
    (surrounding whitespace stripped), so an "example" object elsewhere in the text is not used.
    """
    rewritten: dict[str, str] = {}
    spans: dict[str, tuple[int, int, int]] = {}
    for match in _FIELD_RE.finditer(text):
        key, start = match["key"], match.end()
        value = payload.get(key)
        end = _string_end(text, start)
        if key in spans or not isinstance(value, str) or not value or end is None:
            continue
        try:
            decoded = json.loads(text[start - 1 : end + 1])
        except json.JSONDecodeError:
            continue
        if isinstance(decoded, str) and decoded.strip() == value:
            lead = len(decoded) - len(decoded.lstrip())
            spans[key] = (start, end, lead)
    for key in CITED_FIELDS:
        value = payload.get(key)
        if not isinstance(value, str) or not value:
            continue
        inserts: dict[int, list[int]] = {}
        start, end, lead = spans.get(key, (0, -1, 0))
        for citation in supports.citations:
            cut = citation.end
            if start <= end < cut and not text[end:cut].strip(_PAST_FIELD):
                cut = end  # the segment took the closing quote (and a comma or brace) along: the field's end
            if not start < cut <= end:
                continue  # outside the field (ending at its opening quote is before its first character)
            at = _decoded_length(text[start:cut])
            if at is None:
                supports.note(f"{key}: a support ends inside an escape sequence")
                continue
            numbers = inserts.setdefault(min(max(at - lead, 0), len(value)), [])
            numbers.extend(n for n in citation.sources if n not in numbers)
        cited = _rewrite(value, inserts)
        if cited != value:
            rewritten[key] = cited
    return rewritten


def _rewrite(value: str, inserts: dict[int, list[int]]) -> str:
    """``value`` without the model's markers, with ``[n]`` inserted before the given (original) offsets.

    An offset inside a removed marker moves past it, so "flows [1]." cited after "flows" reads "flows[2].".
    """
    removed = {i for m in CITATION_RE.finditer(value) for i in range(m.start(), m.end())}
    out: list[str] = []
    pending: list[int] = []
    for i in range(len(value) + 1):
        pending.extend(n for n in inserts.get(i, []) if n not in pending)
        if i in removed:
            continue
        if pending:
            out.append("".join(f"[{n}]" for n in pending))
            pending = []
        if i < len(value):
            out.append(value[i])
    return "".join(out)


def cite(parsed: ParseOutcome, text: str, supports: Supports) -> ParseOutcome:
    """A validated answer with its cited fields rewritten; the placed count and notes go in the payload."""
    if parsed.payload is None:
        return parsed
    rewritten = cite_fields(parsed.payload, text, supports)
    payload = {**parsed.payload, **rewritten}
    placed = sum(len(re.findall(r"\[\d+\]", v)) for v in rewritten.values())
    if placed or supports.notes:
        payload["citations"] = {"placed": placed, "notes": list(supports.notes)}
    decision = replace(
        parsed.decision,
        reasoning=payload["reasoning"][:MAX_REASONING_CHARS],
        key_catalyst=str(payload.get("key_catalyst") or "")[:MAX_FIELD_CHARS],
    )
    return replace(parsed, decision=decision, payload=payload)
