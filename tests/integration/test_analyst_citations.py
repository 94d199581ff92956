"""``[n]`` markers aligned with the numbered sources, from grounding supports read through the real SDK."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smt_engine.analyst import GeminiAnalyst
from smt_engine.analyst.base import AnalysisOutcome
from smt_engine.clock import SimulatedClock
from smt_engine.domain import Action
from smt_engine.store import Store
from smt_tui.why import cited
from tests.analyst_support import NOW, context, fast_settings
from tests.fakes.gemini_server import FakeGeminiServer, Reply, support, text_reply

pytestmark = pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning")

KEY = "AIzaTestKey-0123456789-abcdef"
SOURCES = [
    ("reuters.com", "https://vertexaisearch.cloud.google.com/grounding-api-redirect/r"),
    ("coindesk.com", "https://vertexaisearch.cloud.google.com/grounding-api-redirect/c"),
    ("theblock.co", "https://vertexaisearch.cloud.google.com/grounding-api-redirect/b"),
]
FIRST = "Spot ETF inflows hit 1.2 bn this week."
SECOND = "Funding stayed flat on the main venues."


def answer(reasoning: str, **over: Any) -> str:
    body = {
        "decision": "LONG",
        "confidence": 0.7,
        "take_profit_percent": 3.0,
        "stop_loss_percent": 1.5,
        "hold_time_hours": 12,
        "market_sentiment": "BULLISH",
        "key_catalyst": "ETF inflows",
        "reasoning": reasoning,
        **over,
    }
    return "Here is my analysis.\n```json\n" + json.dumps(body, ensure_ascii=False) + "\n```"


async def analyse(server: FakeGeminiServer, store: Store, reply: Reply) -> AnalysisOutcome:
    settings = fast_settings(server.url)
    server.push(reply)
    analyst = GeminiAnalyst(settings.analyst, store, SimulatedClock(NOW), api_key=KEY)
    try:
        return await analyst.analyse(context(settings))
    finally:
        await analyst.aclose()


def stored_reasoning(store: Store, out: AnalysisOutcome) -> tuple[str, dict[str, Any]]:
    assert out.record.id is not None
    row = store.analyses.get(out.record.id)
    assert row is not None
    assert row.decision is not None
    return str(row.decision["reasoning"]), row.decision


async def test_supports_number_their_sentences(gemini: FakeGeminiServer, store: Store) -> None:
    text = answer(f"{FIRST} {SECOND}")
    reply = text_reply(text, sources=SOURCES, supports=[support(text, FIRST, 2), support(text, SECOND, 1, 0)])
    out = await analyse(gemini, store, reply)
    expected = f"{FIRST[:-1]}.[3] {SECOND}[2][1]"
    assert out.decision.action is Action.LONG
    assert out.decision.reasoning == expected
    reasoning, decision = stored_reasoning(store, out)
    assert reasoning == expected
    assert decision["citations"] == {"placed": 3, "notes": []}
    # The numbers are those of the stored sources: [3] is theblock.co, the third chunk.
    assert out.record.sources[2]["domain"] == "theblock.co"
    assert out.record.raw_response == text  # the raw answer is kept as given


async def test_the_models_own_markers_are_replaced(gemini: FakeGeminiServer, store: Store) -> None:
    text = answer(f"{FIRST} [7] {SECOND} [1, 2]")
    reply = text_reply(text, sources=SOURCES, supports=[support(text, SECOND, 0)])
    out = await analyse(gemini, store, reply)
    assert out.decision.reasoning == f"{FIRST} {SECOND}[1]"


async def test_multibyte_text_places_markers_by_utf8_bytes(gemini: FakeGeminiServer, store: Store) -> None:
    first = "Inflows of 1.2 bn € 🚀 lifted spot."
    second = "Funding — flat."
    text = "Análisis ✓ " + answer(f"{first} {second}")
    assert len(text.encode("utf-8")) > len(text)  # byte and character offsets differ before both sentences
    reply = text_reply(text, sources=SOURCES, supports=[support(text, first, 1), support(text, second, 2)])
    out = await analyse(gemini, store, reply)
    assert out.decision.reasoning == f"{first}[2] {second}[3]"


async def test_escaped_json_text_is_decoded_before_placing(gemini: FakeGeminiServer, store: Store) -> None:
    text = answer('Analysts say "buy the dip".\nFunding flat.')
    assert '\\"buy the dip\\".' in text
    reply = text_reply(text, sources=SOURCES, supports=[support(text, 'say \\"buy the dip\\".', 0)])
    out = await analyse(gemini, store, reply)
    assert out.decision.reasoning == 'Analysts say "buy the dip".[1]\nFunding flat.'


async def test_an_out_of_range_chunk_is_skipped_with_a_note(gemini: FakeGeminiServer, store: Store) -> None:
    text = answer(f"{FIRST} {SECOND}")
    broken = support(text, FIRST, 9)
    too_far = {"segment": {"startIndex": 0, "endIndex": 10_000}, "groundingChunkIndices": [0]}
    reply = text_reply(text, sources=SOURCES, supports=[broken, too_far, support(text, SECOND, 0)])
    out = await analyse(gemini, store, reply)
    assert out.decision.action is Action.LONG
    assert out.record.error is None
    reasoning, decision = stored_reasoning(store, out)
    assert reasoning == f"{FIRST} {SECOND}[1]"
    notes = decision["citations"]["notes"]
    assert any("chunk 9 is not a listed source" in n for n in notes)
    assert any("end 10000 is outside its part" in n for n in notes)


async def test_segments_outside_the_reasoning_are_skipped(gemini: FakeGeminiServer, store: Store) -> None:
    text = answer(FIRST)
    reply = text_reply(
        text,
        sources=SOURCES,
        supports=[support(text, "Here is my analysis.", 0), support(text, '"decision": "LONG"', 1)],
    )
    out = await analyse(gemini, store, reply)
    reasoning, decision = stored_reasoning(store, out)
    assert reasoning == FIRST
    assert "citations" not in decision


async def test_the_key_catalyst_is_cited_too(gemini: FakeGeminiServer, store: Store) -> None:
    text = answer(FIRST, key_catalyst="ETF inflows")
    reply = text_reply(text, sources=SOURCES, supports=[support(text, "ETF inflows", 2)])
    out = await analyse(gemini, store, reply)
    assert out.decision.key_catalyst == "ETF inflows[3]"
    assert out.decision.reasoning == FIRST  # "ETF inflows" in the reasoning is not that segment


async def test_the_fake_backs_the_first_sentence_by_default(gemini: FakeGeminiServer, store: Store) -> None:
    out = await analyse(gemini, store, text_reply(answer(f"{FIRST} {SECOND}"), sources=SOURCES))
    assert out.decision.reasoning == f"{FIRST}[1] {SECOND}"


def test_the_console_links_each_adjacent_marker_to_its_source() -> None:
    sources = [{"title": t, "domain": t, "uri": u} for t, u in SOURCES]
    text = cited(f"{FIRST}[3] {SECOND}[2][1]", sources)
    links = [(text.plain[s.start : s.end], s.style.link) for s in text.spans if not isinstance(s.style, str)]
    assert links == [("[3]", SOURCES[2][1]), ("[2]", SOURCES[1][1]), ("[1]", SOURCES[0][1])]
