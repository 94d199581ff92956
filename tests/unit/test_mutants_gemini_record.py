"""What the Gemini analyst stores for each call, value by value: the prompt, the raw answer, the grounding
sources and queries, the answering model's version, the usage row and its cost (README, "Everything is
recorded"). The SDK's responses are stood in for by plain objects of the same shape; no network."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from smt_engine.analyst import gemini
from smt_engine.analyst.base import CallTrace
from smt_engine.analyst.citations import Citation, Supports
from smt_engine.analyst.gemini import GeminiAnalyst, _answering_model
from smt_engine.analyst.prompt import build_prompt
from smt_engine.clock import SimulatedClock
from smt_engine.domain import Action, AnalystKind, Decision
from smt_engine.store import Store
from smt_engine.store.analyst_usage import AnalystUsage
from tests.analyst_support import NOW, answer, context, fast_settings

STOP = SimpleNamespace(value="STOP")
USAGE = {
    "search_queries": 2,
    "prompt_tokens": 1_000_000,
    "output_tokens": 100_000,
    "thoughts_tokens": 100_000,
    "tool_use_prompt_tokens": 200_000,
    "total_tokens": 1_400_000,
    "model_version": "gemini-3.8-flash-002",
    "finish_reason": "STOP",
}
"""The usage the recorded SOL response reports, as the trace and the analysis row keep it."""
ENTRY = '<div><a class="chip" href="https://www.google.com/search?q=sol">sol</a></div>'


def web(title: str, uri: str, **domain: str) -> SimpleNamespace:
    return SimpleNamespace(web=SimpleNamespace(title=title, uri=uri, **domain))


def grounding(**over: Any) -> SimpleNamespace:
    """Four chunks: no web part, a web source with a domain, an empty one, one without a domain field."""
    values: dict[str, Any] = {
        "web_search_queries": ["sol etf", "", "sol funding"],
        "grounding_chunks": [
            SimpleNamespace(web=None),
            web("CoinDesk", "https://redirect.example/0", domain="coindesk.com"),
            web("", ""),
            web("news.example", "https://redirect.example/1"),
        ],
        "grounding_supports": [
            SimpleNamespace(
                segment=SimpleNamespace(end_index=7, part_index=1), grounding_chunk_indices=[1, 3]
            )
        ],
        "search_entry_point": SimpleNamespace(rendered_content=ENTRY),
    }
    values.update(over)
    return SimpleNamespace(**values)


def tokens(**over: int) -> SimpleNamespace:
    values = {
        "prompt_token_count": 1_000_000,
        "candidates_token_count": 100_000,
        "thoughts_token_count": 100_000,
        "tool_use_prompt_token_count": 200_000,
        "total_token_count": 1_400_000,
    }
    values.update(over)
    return SimpleNamespace(**values)


def response(
    *texts: str,
    metadata: Any = None,
    usage: Any = None,
    version: str | None = "gemini-3.8-flash-002",
    finish: Any = STOP,
    candidates: bool = True,
) -> SimpleNamespace:
    """A generate_content response: a thought part first, then the answer's text parts."""
    parts = [SimpleNamespace(text="thinking it over", thought=True)]
    parts += [SimpleNamespace(text=t, thought=False) for t in texts]
    candidate = SimpleNamespace(
        content=SimpleNamespace(parts=parts), grounding_metadata=metadata, finish_reason=finish
    )
    return SimpleNamespace(
        candidates=[candidate] if candidates else [],
        usage_metadata=usage,
        model_version=version,
        prompt_feedback=None,
        model_dump_json=lambda exclude_none=False: json.dumps({"dumped": exclude_none}),
    )


class FakeClient:
    """The SDK client's surface the analyst uses: ``aio.models.generate_content`` and ``aio.aclose``."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.prompts: list[str] = []
        self.aio = SimpleNamespace(models=self, aclose=self._aclose)

    async def generate_content(self, *, model: str, contents: str, config: Any) -> Any:
        self.prompts.append(contents)
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    async def _aclose(self) -> None:
        return None


def analyst(store: Store, client: FakeClient, **over: Any) -> GeminiAnalyst:
    settings = fast_settings(None, max_attempts=1, **over)
    return GeminiAnalyst(
        settings.analyst, store, SimulatedClock(NOW), api_key="k", client_factory=lambda: client
    )


@pytest.fixture
def ticks(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The analyst's monotonic clock: each call takes the next reading."""
    readings = [100.0, 101.2345]
    monkeypatch.setattr(gemini, "time", SimpleNamespace(monotonic=lambda: readings.pop(0)))
    return readings


# --------------------------------------------------------------------------- reading the response


def test_a_grounded_response_is_read_into_the_trace_value_by_value() -> None:
    trace = CallTrace()
    metadata = grounding()
    text = GeminiAnalyst._read_response(
        None,  # type: ignore[arg-type]
        response("Answer.", " More.", metadata=metadata, usage=tokens()),
        trace,
    )
    assert text == "Answer. More."
    assert trace.raw_response == "Answer. More."
    assert trace.queries == ["sol etf", "sol funding"]
    assert trace.sources == [
        {"title": "CoinDesk", "domain": "coindesk.com", "uri": "https://redirect.example/0"},
        {"title": "news.example", "domain": "news.example", "uri": "https://redirect.example/1"},
    ]
    # Chunk 1 is source 1, chunk 3 source 2; the support ends 7 characters into the first answer part.
    assert trace.supports == Supports([Citation(7, (1, 2))], [])
    assert trace.search_entry_point == ENTRY
    assert trace.search_suggestions == [{"text": "sol", "uri": "https://www.google.com/search?q=sol"}]
    assert trace.grounded is True
    assert trace.usage == USAGE


def test_sources_alone_make_an_answer_grounded() -> None:
    trace = CallTrace()
    GeminiAnalyst._read_response(
        None,  # type: ignore[arg-type]
        response("a", metadata=grounding(web_search_queries=None, search_entry_point=None)),
        trace,
    )
    assert (trace.grounded, trace.queries, len(trace.sources)) == (True, [], 2)
    assert (trace.search_entry_point, trace.search_suggestions) == (None, [])
    assert trace.usage["search_queries"] == 0


def test_queries_alone_make_an_answer_grounded() -> None:
    trace = CallTrace()
    metadata = grounding(grounding_chunks=None, grounding_supports=None, web_search_queries=["q"])
    GeminiAnalyst._read_response(None, response("a", metadata=metadata), trace)  # type: ignore[arg-type]
    assert (trace.grounded, trace.queries, trace.sources) == (True, ["q"], [])
    assert trace.supports == Supports([], [])


def test_an_empty_grounding_block_is_no_grounding() -> None:
    trace = CallTrace()
    metadata = grounding(
        web_search_queries=[], grounding_chunks=[], grounding_supports=[], search_entry_point=None
    )
    GeminiAnalyst._read_response(None, response("a", metadata=metadata), trace)  # type: ignore[arg-type]
    assert trace.grounded is False
    assert trace.usage["search_queries"] == 0


def test_an_entry_point_without_rendered_content_is_stored_as_none() -> None:
    trace = CallTrace()
    metadata = grounding(search_entry_point=SimpleNamespace(rendered_content=""))
    GeminiAnalyst._read_response(None, response("a", metadata=metadata), trace)  # type: ignore[arg-type]
    assert (trace.search_entry_point, trace.search_suggestions) == (None, [])


def test_a_response_without_grounding_or_usage_records_no_counts() -> None:
    trace = CallTrace()
    text = GeminiAnalyst._read_response(
        None,  # type: ignore[arg-type]
        response("plain", version=None, finish="MAX_TOKENS"),
        trace,
    )
    assert text == "plain"
    assert (trace.grounded, trace.queries, trace.sources, trace.search_entry_point) == (False, [], [], None)
    # A finish reason without ``value`` (a plain string) is stored as given; no model version, no tokens.
    assert trace.usage == {"finish_reason": "MAX_TOKENS"}


def test_missing_token_counts_are_left_out_not_zeroed() -> None:
    trace = CallTrace()
    usage = SimpleNamespace(prompt_token_count=12, candidates_token_count=None)
    GeminiAnalyst._read_response(
        None,  # type: ignore[arg-type]
        response("a", usage=usage, version="", finish=None),
        trace,
    )
    assert trace.usage == {"prompt_tokens": 12}


def test_an_answer_without_text_stores_the_whole_response_as_raw() -> None:
    trace = CallTrace()
    text = GeminiAnalyst._read_response(None, response(candidates=False), trace)  # type: ignore[arg-type]
    assert text is None
    assert trace.raw_response == '{"dumped": true}'  # the SDK's dump, without its empty fields
    assert trace.usage == {"model_version": "gemini-3.8-flash-002"}


def test_a_text_part_is_taken_only_when_it_is_not_a_thought() -> None:
    trace = CallTrace()
    reply = response("")
    reply.candidates[0].content.parts.append(SimpleNamespace(text="answer", thought=None))
    assert GeminiAnalyst._read_response(None, reply, trace) == "answer"  # type: ignore[arg-type]
    assert trace.raw_response == "answer"


# --------------------------------------------------------------------------- the answering model


@pytest.mark.parametrize(
    ("called", "version", "expected"),
    [
        (None, "gemini-3.8-flash-002", None),
        ("gemini-3.8-flash", "  gemini-3.8-flash-002 ", "gemini-3.8-flash-002"),
        ("gemini-3.8-flash", "   ", "gemini-3.8-flash"),
        ("gemini-3.8-flash", None, "gemini-3.8-flash"),
    ],
)
def test_the_answering_model_is_the_version_given_else_the_model_called(
    called: str | None, version: str | None, expected: str | None
) -> None:
    usage = {} if version is None else {"model_version": version}
    assert _answering_model(CallTrace(model=called, usage=usage)) == expected


# --------------------------------------------------------------------------- the analysis and its usage row


async def test_an_answered_call_stores_prompt_answer_sources_version_and_usage(
    store: Store, ticks: list[float]
) -> None:
    text = json.dumps(answer(reasoning="Answer. Funding is neutral."))
    client = FakeClient(response(text, metadata=grounding(), usage=tokens()))
    a = analyst(store, client)
    ctx = context(fast_settings())
    out = await a.analyse(ctx)
    assert out.record.id is not None
    row = store.analyses.get(out.record.id)
    assert row is not None
    assert row.prompt == build_prompt(ctx, None) == client.prompts[0]
    assert row.raw_response == text
    assert (row.action, row.confidence, row.grounded, row.error) == (Action.LONG, 0.78, True, None)
    assert row.model == "gemini-3.8-flash-002"
    assert row.queries == ["sol etf", "sol funding"]
    assert [s["uri"] for s in row.sources] == ["https://redirect.example/0", "https://redirect.example/1"]
    assert (row.latency_ms, row.attempts) == (1234, 1)
    # 1.2 M in at $1.50/M, 0.2 M out and thinking at $7.50/M, 2 queries at $14/1000.
    assert row.usage == USAGE | {"cost_usd": "3.328000"}
    assert out.decision.analyst is AnalystKind.GEMINI
    assert store.analyst_usage.select() == [
        AnalystUsage(
            at=NOW,
            day="2026-01-20",
            model="gemini-3.8-flash-002",
            requests=1,
            answered=True,
            input_tokens=1_200_000,
            output_tokens=100_000,
            thinking_tokens=100_000,
            search_queries=2,
            cost_usd=Decimal("3.328"),
            priced=True,
            analysis_id=out.record.id,
            id=1,
        )
    ]
    assert out.record == row
    # The answer is the pair's analysis until the cache expires: no second call.
    again = await a.analyse(ctx)
    assert again.decision == out.decision
    assert client.replies == []


async def test_an_unlisted_version_is_priced_as_the_model_called(store: Store, ticks: list[float]) -> None:
    client = FakeClient(response(json.dumps(answer()), usage=tokens(), version="gemini-exp-9"))
    out = await analyst(store, client).analyse(context(fast_settings()))
    (spent,) = store.analyst_usage.select()
    assert (spent.model, spent.cost_usd, spent.priced) == ("gemini-exp-9", Decimal("3.300"), True)
    assert out.record.usage["cost_usd"] == "3.300000"


async def test_a_failed_call_is_a_recorded_wait_and_an_unanswered_usage_row(
    store: Store, ticks: list[float]
) -> None:
    client = FakeClient(ValueError("malformed"))
    a = analyst(store, client)
    ctx = context(fast_settings())
    out = await a.analyse(ctx)
    failure = "unexpected error: ValueError: malformed"
    assert out.decision == Decision.wait("analyst call failed", AnalystKind.GEMINI, failure)
    assert out.record.id is not None
    row = store.analyses.get(out.record.id)
    assert row is not None
    assert (row.model, row.error, row.raw_response, row.attempts, row.latency_ms) == (
        "gemini-3.8-flash",
        failure,
        None,
        1,
        1234,
    )
    assert "cost_usd" not in row.usage
    assert store.analyst_usage.select() == [
        AnalystUsage(
            at=NOW,
            day="2026-01-20",
            model="gemini-3.8-flash",
            requests=1,
            answered=False,
            cost_usd=Decimal(0),
            priced=True,
            analysis_id=out.record.id,
            id=1,
        )
    ]
    # A failure is not cached: the next cycle calls again.
    client.replies.append(response(json.dumps(answer())))
    ticks += [200.0, 200.5]
    second = await a.analyse(ctx)
    assert second.decision.action is Action.LONG
    assert client.replies == []


@pytest.mark.parametrize("text", [None, "  \n"])
async def test_an_answer_without_text_is_a_recorded_wait_naming_why(
    store: Store, ticks: list[float], text: str | None
) -> None:
    reply = response(finish=SimpleNamespace(value="SAFETY")) if text is None else response(text)
    out = await analyst(store, FakeClient(reply)).analyse(context(fast_settings()))
    reason = f"empty response: no text (finish reason {'SAFETY' if text is None else 'STOP'})"
    assert out.decision == Decision.wait("no analyst answer", AnalystKind.GEMINI, reason)
    assert out.record.error == reason
    assert out.record.raw_response == ('{"dumped": true}' if text is None else text)


async def test_a_refused_answer_is_recorded_and_not_cached(store: Store, ticks: list[float]) -> None:
    client = FakeClient(response(json.dumps(answer(confidence=7))), response(json.dumps(answer())))
    a = analyst(store, client)
    ctx = context(fast_settings())
    first = await a.analyse(ctx)
    assert first.decision.action is Action.WAIT
    assert first.record.error is not None
    ticks += [300.0, 300.0]
    second = await a.analyse(ctx)
    assert second.decision.action is Action.LONG
    assert client.replies == []


async def test_an_ungrounded_answer_is_parsed_as_ungrounded(store: Store, ticks: list[float]) -> None:
    out = await analyst(store, FakeClient(response(json.dumps(answer())))).analyse(context(fast_settings()))
    assert (out.decision.grounded, out.decision.confidence) == (False, 0.6)


async def test_the_reasoning_is_cited_from_the_grounding_supports(store: Store, ticks: list[float]) -> None:
    text = json.dumps(answer(reasoning="Inflows rose. Funding flat."))
    end = len(text.encode()[: text.index("rose.") + len("rose.")])
    metadata = grounding(
        grounding_supports=[
            SimpleNamespace(segment=SimpleNamespace(end_index=end, part_index=1), grounding_chunk_indices=[1])
        ]
    )
    out = await analyst(store, FakeClient(response(text, metadata=metadata))).analyse(
        context(fast_settings())
    )
    assert out.decision.reasoning == "Inflows rose.[1] Funding flat."


async def test_the_track_record_goes_into_the_prompt_only_when_enabled(
    store: Store, ticks: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, str]] = []

    def section(given: Store, base: str, kind: str, now: Any) -> str:
        assert (given, now) == (store, NOW)
        asked.append((base, kind))
        return "=== YOUR TRACK RECORD ===\nnone yet"

    monkeypatch.setattr(gemini, "track_record_section", section)
    client = FakeClient(response(json.dumps(answer())))
    ctx = context(fast_settings())
    out = await analyst(store, client, track_record_in_prompt=True).analyse(ctx)
    assert asked == [("BTC", "gemini")]
    assert out.record.prompt == build_prompt(ctx, "=== YOUR TRACK RECORD ===\nnone yet") == client.prompts[0]


def test_no_usage_row_when_no_request_went_out(store: Store) -> None:
    a = analyst(store, FakeClient())
    outcome = SimpleNamespace(record=SimpleNamespace(usage={}, id=1))
    a._record_usage(outcome, CallTrace(attempts=0, model="gemini-3.8-flash"))  # type: ignore[arg-type]
    assert store.analyst_usage.select() == []


async def test_a_listed_version_is_priced_at_its_own_rate(store: Store, ticks: list[float]) -> None:
    # 1.2 M in at $0.30/M, 0.2 M out and thinking at $2.50/M.
    reply = response(json.dumps(answer()), usage=tokens(), version="gemini-3.5-flash-lite-preview-09")
    await analyst(store, FakeClient(reply)).analyse(context(fast_settings()))
    (spent,) = store.analyst_usage.select()
    assert (spent.model, spent.cost_usd, spent.priced) == (
        "gemini-3.5-flash-lite-preview-09",
        Decimal("0.860"),
        True,
    )


async def test_an_unpriced_answer_is_flagged_unpriced(store: Store, ticks: list[float]) -> None:
    a = analyst(store, FakeClient(response(json.dumps(answer()), usage=tokens())))
    a.settings = a.settings.model_copy(update={"prices": {}})
    out = await a.analyse(context(fast_settings()))
    (spent,) = store.analyst_usage.select()
    assert (spent.cost_usd, spent.priced) == (Decimal(0), False)
    assert out.record.usage["cost_usd"] == "0"


def test_a_source_needs_only_a_title_or_a_link() -> None:
    trace = CallTrace()
    chunks = [web("CoinDesk", "", domain="coindesk.com"), web("", "https://coindesk.com/y")]
    metadata = grounding(grounding_chunks=chunks, grounding_supports=None)
    GeminiAnalyst._read_response(None, response("a", metadata=metadata), trace)  # type: ignore[arg-type]
    assert trace.sources == [
        {"title": "CoinDesk", "domain": "coindesk.com", "uri": ""},
        {"title": "", "domain": "coindesk.com", "uri": "https://coindesk.com/y"},
    ]


async def test_the_answer_is_checked_against_the_pairs_price(store: Store, ticks: list[float]) -> None:
    reply = response(json.dumps(answer(tp_price=97)))
    out = await analyst(store, FakeClient(reply)).analyse(context(fast_settings()))
    assert out.decision.action is Action.WAIT
    assert "tp_price = 97: must be above the price 100" in (out.record.error or "")
