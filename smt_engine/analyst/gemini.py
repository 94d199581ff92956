"""Gemini with Google Search grounding: one grounded call per pair, asked for a JSON object in the text.

Why this shape (external-apis.md §C, seed §4):

* Grounding and schema-constrained output cannot be combined on gemini-2.5-flash (HTTP 400), and on
  some newer models asking for JSON output silently drops grounding. So the call carries only the
  ``google_search`` tool, no ``response_mime_type``/``response_schema``; the prompt asks for JSON and
  ``parse`` extracts it from whatever prose and citation markers come back. No second structuring call
  is made: an answer that does not validate is a WAIT.
* The SDK does not retry by default and ignores the server's retry hint, so retries are ours: jittered
  exponential back-off on 408/429/5xx and connection errors that waits at least the server's
  ``RetryInfo.retryDelay`` / ``Retry-After``, and gives up when the hint exceeds ``backoff_max``. The
  SDK's own retries are switched off (``attempts=1``), which also stops its hidden 1-10 s reconnect sleep.
* Grounded calls occasionally hang: every attempt is bounded by ``analyst.timeout`` in the SDK *and* by
  ``asyncio.timeout``; a timeout is recorded and not retried, so one pair cannot stall a cycle.
* Quota: a minimum spacing between call starts plus a token bucket; pairs run concurrently up to the
  bucket's burst size.
* Whether grounding really happened is read from the response (grounding metadata with queries or
  chunks), not assumed; ungrounded answers have their confidence capped by ``parse``.
* Models get retired. ``analyst.model`` is tried first, then ``analyst.fallback_models`` in order; a
  model answering NOT_FOUND or "retired/deprecated" is skipped for ``model_retry_after`` and the next
  one answers in the same analysis. ``analyst.model`` health turns WARN (naming the fallback), or DOWN
  when none is left, and every analysis records the model that actually answered.
* Temperature and thinking follow the model family (``analyst.tuning``): Gemini 3 keeps its default
  temperature and is steered with a thinking level, as Google advises.
* The ``[n]`` markers of the stored reasoning are placed from the response's grounding supports
  and numbered like the stored sources (``citations``); the model's own markers are dropped.
* Every call's tokens, search queries and cost are stored (``analyst_usage``); over a daily cap no
  call goes out and the answer follows ``analyst.fallback``: a recorded WAIT, or the heuristic.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from smt_engine.analyst.base import AnalysisOutcome, CallTrace, record_analysis
from smt_engine.analyst.budget import Budget, call_cost
from smt_engine.analyst.citations import cite, read_supports
from smt_engine.analyst.context import PairContext
from smt_engine.analyst.grounding import search_suggestions, source_entry
from smt_engine.analyst.heuristic import HeuristicAnalyst
from smt_engine.analyst.parse import ParseOutcome, parse_response
from smt_engine.analyst.prompt import build_prompt
from smt_engine.analyst.quota import RETRYABLE_STATUS, GeminiRateLimiter, backoff_delay, retry_hint
from smt_engine.clock import Clock
from smt_engine.config.analyst import AnalystSettings
from smt_engine.domain import AnalystKind, Decision, EventLevel, HealthStatus
from smt_engine.health import report_health
from smt_engine.scorecard.track_record import track_record_section
from smt_engine.secrets import redact
from smt_engine.store import Store
from smt_engine.store.analyst_usage import AnalystUsage

log = logging.getLogger(__name__)

_GONE_RE = re.compile(
    r"\b(retired|deprecated|discontinued|shut ?down|no longer (?:available|supported|served)|"
    r"is not found|not found for api version|unsupported model)\b",
    re.IGNORECASE,
)
MODEL_COMPONENT = "analyst.model"


def model_gone(code: int, status: str | None, message: str | None) -> bool:
    """Whether an API error says the model itself is unavailable (retired, unknown), not the request."""
    if code == 404 or (status or "").upper() == "NOT_FOUND":
        return True
    return code in (400, 403, 410) and bool(_GONE_RE.search(message or ""))


class _GiveUp(Exception):
    """A failure not worth retrying (or retries exhausted)."""


class _ModelGone(Exception):
    """The model answered NOT_FOUND or said it is retired: try the next model."""


@dataclass(frozen=True, slots=True)
class _Cached:
    at: datetime
    outcome: AnalysisOutcome


# --------------------------------------------------------------------------- the analyst


class GeminiAnalyst:
    """Grounded Gemini analyst; construct once per engine and ``aclose`` on shutdown."""

    kind = AnalystKind.GEMINI

    def __init__(
        self,
        settings: AnalystSettings,
        store: Store,
        clock: Clock,
        *,
        api_key: str | None = None,
        limiter: GeminiRateLimiter | None = None,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        if not settings.vertex and not api_key:
            raise ValueError("Gemini needs an API key or analyst.vertex = true")
        self.settings = settings
        self.store = store
        self.clock = clock
        self.budget = Budget(settings, store, clock)
        self.over_budget = HeuristicAnalyst(store) if settings.fallback == "heuristic" else None
        """Who answers over a daily cap: the heuristic only when the operator chose it as the fallback."""
        self._gone: dict[str, tuple[datetime, str]] = {}
        self._api_key = api_key
        self.limiter = limiter or GeminiRateLimiter(
            settings.min_spacing.total_seconds(), settings.requests_per_minute
        )
        self._client_factory = client_factory or self._make_client
        self._client: Any = None
        self._cache: dict[str, _Cached] = {}

    # -- client

    def _make_client(self) -> Any:
        from google import genai
        from google.genai import types

        http_options = types.HttpOptions(
            timeout=int(self.settings.timeout.total_seconds() * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        if self.settings.base_url:
            http_options.base_url = self.settings.base_url
        if self.settings.vertex:
            return genai.Client(
                vertexai=True,
                project=self.settings.vertex_project,
                location=self.settings.vertex_location,
                http_options=http_options,
            )
        return genai.Client(api_key=self._api_key, http_options=http_options)

    def _get_client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aio.aclose()
            except Exception as exc:  # closing must not mask the caller's own outcome
                log.debug("closing the Gemini client failed: %s", redact(str(exc)))

    # -- analysis

    @property
    def model(self) -> str:
        """The model the next call goes to first (the preferred one unless it is marked unavailable)."""
        available = self.available_models()
        return available[0] if available else self.settings.model

    def available_models(self) -> list[str]:
        now = self.clock.now()
        return [
            m
            for m in self.settings.models()
            if m not in self._gone or self._gone[m][0] + self.settings.model_retry_after <= now
        ]

    async def analyse(self, ctx: PairContext) -> AnalysisOutcome:
        cached = self._from_cache(ctx)
        if cached is not None:
            return cached
        over = self.budget.exceeded()
        if over is not None:
            return await self._over_budget(ctx, over)
        # Reserved before the first await, so pairs analysed concurrently cannot all pass one last slot.
        # Each further request (retry, next model) reserves one more in ``_reserve_request``.
        self.budget.in_flight += 1
        trace = CallTrace()
        try:
            return await self._call_and_record(ctx, trace)
        finally:
            self.budget.in_flight -= max(trace.attempts, 1)

    def _reserve_request(self, trace: CallTrace) -> None:
        """Before a request beyond the analysis' first: re-check the daily caps, then count it in flight."""
        if trace.attempts == 0:
            return  # reserved in ``analyse``
        over = self.budget.exceeded()
        if over is not None:
            raise _GiveUp(f"{over}; no further request for this analysis")
        self.budget.in_flight += 1

    async def _over_budget(self, ctx: PairContext, over: str) -> AnalysisOutcome:
        """No call goes out: the heuristic answers if ``analyst.fallback`` says so, else a recorded WAIT."""
        if self.over_budget is not None:
            log.warning(
                "gemini %s: %s; the heuristic answers instead",
                ctx.pair.base,
                over,
                extra={"event": "analyst_budget", "cycle_id": ctx.cycle_id},
            )
            return await self.over_budget.analyse(ctx, note={"over_budget": over})
        log.warning(
            "gemini %s: %s; WAIT (analyst.fallback = wait)",
            ctx.pair.base,
            over,
            extra={"event": "analyst_budget", "cycle_id": ctx.cycle_id},
        )
        parsed = ParseOutcome(
            Decision.wait("over the daily analyst budget", self.kind, over), {"over_budget": over}, over
        )
        return record_analysis(
            self.store,
            ctx,
            kind=self.kind,
            model=self.model,
            prompt="(no call: over the daily budget)",
            parsed=parsed,
            trace=CallTrace(),
        )

    async def _call_and_record(self, ctx: PairContext, trace: CallTrace) -> AnalysisOutcome:
        record = None
        if self.settings.track_record_in_prompt:
            record = track_record_section(self.store, ctx.pair.base, self.kind.value, ctx.now)
        prompt = build_prompt(ctx, record)
        started = time.monotonic()
        response: Any = None
        try:
            async with self.limiter.concurrency:
                response = await self._call_models(prompt, trace)
        except _GiveUp as exc:
            trace.call_error = str(exc)
        trace.latency_ms = int((time.monotonic() - started) * 1000)
        parsed: ParseOutcome
        if response is not None:
            text = self._read_response(response, trace)
            if text is None or not text.strip():
                trace.call_error = self._empty_reason(response)
                parsed = ParseOutcome(Decision.wait("no analyst answer", self.kind, trace.call_error))
            else:
                parsed = parse_response(
                    text, ctx.bounds, ctx.price, grounded=trace.grounded, analyst=self.kind
                )
                parsed = cite(parsed, text, trace.supports)
        else:
            parsed = ParseOutcome(Decision.wait("analyst call failed", self.kind, trace.call_error))
        outcome = record_analysis(
            self.store,
            ctx,
            kind=self.kind,
            model=_answering_model(trace) or self.model,
            prompt=prompt,
            parsed=parsed,
            trace=trace,
        )
        self._record_usage(outcome, trace)
        if not outcome.failed and outcome.record.error is None:
            self._cache[ctx.pair.base] = _Cached(ctx.now, outcome)
        return outcome

    def _from_cache(self, ctx: PairContext) -> AnalysisOutcome | None:
        hit = self._cache.get(ctx.pair.base)
        ttl = self.settings.cache_ttl
        if hit is None or ttl <= timedelta(0) or not hit.at <= ctx.now < hit.at + ttl:
            return None
        src = hit.outcome.record
        decision = dict(src.decision or {})
        decision["cached_from"] = src.id
        record = replace(
            src,
            id=None,
            cycle_id=ctx.cycle_id,
            created_at=ctx.now,
            decision=decision,
            latency_ms=0,
            attempts=0,
            usage={"cached_from": src.id},
        )
        record = self.store.analyses.insert(record)
        log.info(
            "gemini %s: reusing analysis #%s from %s (cache)",
            ctx.pair.base,
            src.id,
            hit.at.isoformat(timespec="seconds"),
            extra={"event": "analysis_cached", "cycle_id": ctx.cycle_id},
        )
        return AnalysisOutcome(hit.outcome.decision, record)

    def _record_usage(self, outcome: AnalysisOutcome, trace: CallTrace) -> None:
        if trace.attempts == 0:
            return
        answering = _answering_model(trace)
        model = answering or self.model
        cost = None
        if answering is not None and trace.model is not None:
            # The answering version's own price when listed, else the price of the model we asked for.
            priced_as = answering if self.settings.price_for(answering) is not None else trace.model
            cost = call_cost(self.settings, priced_as, trace.usage)
        answered = answering is not None
        if cost is not None:
            outcome.record.usage["cost_usd"] = str(cost.usd)
            if outcome.record.id is not None:
                self.store.analyses.update(outcome.record.id, usage=outcome.record.usage)
        now = self.clock.now()
        self.budget.record(
            AnalystUsage(
                at=now,
                day=now.date().isoformat(),
                model=model,
                requests=trace.attempts,
                answered=answered,
                input_tokens=int(trace.usage.get("prompt_tokens", 0))
                + int(trace.usage.get("tool_use_prompt_tokens", 0)),
                output_tokens=int(trace.usage.get("output_tokens", 0)),
                thinking_tokens=int(trace.usage.get("thoughts_tokens", 0)),
                search_queries=int(trace.usage.get("search_queries", 0)),
                cost_usd=cost.usd if cost is not None else Decimal(0),
                priced=cost.priced if cost is not None else True,
                analysis_id=outcome.record.id,
            )
        )

    async def _call_models(self, prompt: str, trace: CallTrace) -> Any:
        """The preferred model, then each fallback, skipping models that answered NOT_FOUND or retired."""
        models = self.available_models()
        if not models:
            self._report_models(None)
            raise _GiveUp("no model available: " + self._gone_summary())
        for model in models:
            try:
                response = await self._call_with_retries(prompt, trace, model)
            except _ModelGone as exc:
                self._mark_gone(model, str(exc))
                continue
            trace.model = model
            self._report_models(model)
            return response
        self._report_models(None)
        raise _GiveUp("no model available: " + self._gone_summary())

    def _gone_summary(self) -> str:
        return "; ".join(f"{m}: {why}" for m, (_, why) in self._gone.items()) or "none configured"

    def _mark_gone(self, model: str, why: str) -> None:
        now = self.clock.now()
        self._gone[model] = (now, why)
        log.warning(
            "Gemini model %s is unavailable (%s); skipping it for %s",
            model,
            why,
            self.settings.model_retry_after,
            extra={"event": "analyst_model_unavailable"},
        )
        self.store.events.append(
            now,
            EventLevel.WARNING,
            "analyst.model_unavailable",
            f"Gemini model {model} is unavailable ({why}); trying the next configured model",
            data={"model": model, "error": why},
        )

    def _report_models(self, answered: str | None) -> None:
        preferred = self.settings.model
        data = {"preferred": preferred, "answered": answered, "unavailable": sorted(self._gone)}
        if answered is None:
            status, detail = HealthStatus.DOWN, "no configured model answers: " + self._gone_summary()
        elif answered == preferred:
            status, detail = HealthStatus.OK, f"{answered} answering"
        else:
            why = self._gone.get(preferred, (None, "unavailable"))[1]
            status, detail = HealthStatus.WARN, f"{preferred} unavailable ({why}); using fallback {answered}"
        report_health(self.store, self.clock, MODEL_COMPONENT, status, detail, data)

    def _config(self, model: str) -> Any:
        from google.genai import types

        tuning = self.settings.tuning_for(model)
        thinking = None
        if tuning.thinking_level is not None:
            thinking = types.ThinkingConfig(thinking_level=types.ThinkingLevel(tuning.thinking_level.upper()))
        elif tuning.thinking_budget is not None:
            thinking = types.ThinkingConfig(thinking_budget=tuning.thinking_budget)
        return types.GenerateContentConfig(
            tools=[types.Tool(google_search=types.GoogleSearch())],
            temperature=tuning.temperature,
            thinking_config=thinking,
        )

    async def _call_with_retries(self, prompt: str, trace: CallTrace, model: str) -> Any:
        from google.genai import errors

        config = self._config(model)
        timeout = self.settings.timeout.total_seconds()
        attempts = self.settings.max_attempts
        initial = self.settings.backoff_initial.total_seconds()
        maximum = self.settings.backoff_max.total_seconds()
        for attempt in range(1, attempts + 1):
            await self.limiter.acquire()
            self._reserve_request(trace)
            trace.attempts += 1
            try:
                client = self._get_client()
                async with asyncio.timeout(timeout):
                    return await client.aio.models.generate_content(
                        model=model, contents=prompt, config=config
                    )
            except TimeoutError:
                raise _GiveUp(f"timed out after {timeout:g}s (attempt {attempt})") from None
            except errors.APIError as exc:
                code = int(exc.code) if exc.code else 0
                summary = f"HTTP {code} {exc.status or ''}: {exc.message or ''}".strip()
                if model_gone(code, exc.status, exc.message):
                    raise _ModelGone(redact(summary)) from None
                if code not in RETRYABLE_STATUS:
                    raise _GiveUp(redact(summary)) from None
                hint = retry_hint(exc, self.clock.now())
                if hint is not None and hint > maximum:
                    raise _GiveUp(
                        redact(f"{summary} (server asks to retry in {hint:g}s, beyond backoff_max)")
                    ) from None
                failure = summary
            except Exception as exc:
                if not _is_transient(exc):
                    raise _GiveUp(redact(f"unexpected error: {type(exc).__name__}: {exc}")) from None
                hint, failure = None, f"connection error: {type(exc).__name__}: {exc}"
            if attempt >= attempts:
                raise _GiveUp(redact(f"{failure} (after {attempt} attempts)"))
            delay = backoff_delay(attempt, initial, maximum, hint)
            log.warning(
                "Gemini attempt %d failed (%s); retrying in %.1fs",
                attempt,
                redact(failure),
                delay,
                extra={"event": "analyst_retry"},
            )
            await asyncio.sleep(delay)
        raise _GiveUp("no attempt made")  # max_attempts >= 1, kept for the type checker

    def _read_response(self, response: Any, trace: CallTrace) -> str | None:
        candidates = getattr(response, "candidates", None) or []
        metadata = getattr(candidates[0], "grounding_metadata", None) if candidates else None
        if metadata is not None:
            trace.queries = [q for q in (metadata.web_search_queries or []) if q]
            chunk_sources: dict[int, int] = {}
            for index, chunk in enumerate(metadata.grounding_chunks or []):
                web = getattr(chunk, "web", None)
                if web is not None and (web.uri or web.title):
                    trace.sources.append(source_entry(web.title, web.uri, getattr(web, "domain", None)))
                    chunk_sources[index] = len(trace.sources)
            trace.supports = read_supports(metadata, _answer_parts(candidates), chunk_sources)
            entry = getattr(metadata, "search_entry_point", None)
            rendered = getattr(entry, "rendered_content", None) if entry is not None else None
            trace.search_entry_point = str(rendered) if rendered else None
            trace.search_suggestions = [
                {"text": text, "uri": link} for text, link in search_suggestions(trace.search_entry_point)
            ]
            trace.grounded = bool(trace.queries or trace.sources)
            trace.usage["search_queries"] = len(trace.queries)
        usage = getattr(response, "usage_metadata", None)
        if usage is not None:
            for key, attr in (
                ("prompt_tokens", "prompt_token_count"),
                ("output_tokens", "candidates_token_count"),
                ("thoughts_tokens", "thoughts_token_count"),
                ("tool_use_prompt_tokens", "tool_use_prompt_token_count"),
                ("total_tokens", "total_token_count"),
            ):
                value = getattr(usage, attr, None)
                if value is not None:
                    trace.usage[key] = int(value)
        version = getattr(response, "model_version", None)
        if version:
            trace.usage["model_version"] = str(version)
        if candidates:
            reason = getattr(candidates[0], "finish_reason", None)
            if reason is not None:
                trace.usage["finish_reason"] = str(getattr(reason, "value", reason))
        text = _candidate_text(candidates)
        trace.raw_response = text if text else _dump(response)
        return text

    @staticmethod
    def _empty_reason(response: Any) -> str:
        candidates = getattr(response, "candidates", None) or []
        if not candidates:
            feedback = getattr(response, "prompt_feedback", None)
            block = getattr(feedback, "block_reason", None) if feedback is not None else None
            return "empty response: no candidates" + (f" (blocked: {block})" if block else "")
        reason = getattr(candidates[0], "finish_reason", None)
        return f"empty response: no text (finish reason {getattr(reason, 'value', reason)})"


def _answering_model(trace: CallTrace) -> str | None:
    """The model that answered: the response's ``model_version`` when given, else the one we called."""
    if trace.model is None:
        return None
    version = str(trace.usage.get("model_version") or "").strip()
    return version or trace.model


def _answer_parts(candidates: list[Any]) -> list[str | None]:
    """Candidate 0's parts in order: the text of each answer part, None for thoughts and non-text parts."""
    content = getattr(candidates[0], "content", None) if candidates else None
    parts = getattr(content, "parts", None) or []
    return [p.text if getattr(p, "text", None) and not getattr(p, "thought", False) else None for p in parts]


def _candidate_text(candidates: list[Any]) -> str | None:
    """Text parts of candidate 0, without thought parts (``response.text`` warns on mixed parts)."""
    texts = [t for t in _answer_parts(candidates) if t is not None]
    return "".join(texts) if texts else None


def _dump(response: Any) -> str | None:
    try:
        return str(response.model_dump_json(exclude_none=True))
    except Exception:
        return None


def _is_transient(exc: BaseException) -> bool:
    """Connection-level failures worth another attempt."""
    try:
        import aiohttp

        if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
            return True
    except ImportError:  # pragma: no cover - aiohttp ships with the SDK's async extra
        pass
    import httpx

    return isinstance(exc, httpx.TransportError | ConnectionError)
