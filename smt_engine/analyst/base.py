"""The interface the pipeline calls, and the one place an analysis becomes an ``analyses`` row.

Every analyst returns an ``AnalysisOutcome`` whose record is already stored (with its id), so a
proposal can point at the exact prompt, raw answer, sources and error behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from smt_engine.analyst.citations import Supports
from smt_engine.analyst.context import PairContext
from smt_engine.analyst.parse import ParseOutcome
from smt_engine.clock import Clock
from smt_engine.domain import AnalystKind, Decision, HealthStatus
from smt_engine.health import report_health
from smt_engine.secrets import redact, redact_obj
from smt_engine.store import Store
from smt_engine.store.records import Analysis

log = logging.getLogger(__name__)

MAX_RAW_CHARS = 200_000


@dataclass(frozen=True, slots=True)
class AnalysisOutcome:
    decision: Decision
    record: Analysis
    failed: bool = False
    """True when no usable answer came back (call error, timeout, empty): the fallback applies."""
    primary_error: str | None = None
    """Set when this answer replaces the configured analyst's failed call (the fallback answered)."""


class Analyst(Protocol):
    kind: AnalystKind

    async def analyse(self, ctx: PairContext) -> AnalysisOutcome:
        """Never raises for bad or missing answers: those are recorded WAITs."""
        ...

    async def aclose(self) -> None:
        """Release network clients."""
        ...


@dataclass(slots=True)
class CallTrace:
    """What happened on the wire for one analysis, filled in by the analyst as it goes."""

    raw_response: str | None = None
    grounded: bool = False
    queries: list[str] = field(default_factory=list)
    sources: list[dict[str, str]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    latency_ms: int | None = None
    attempts: int = 0
    """HTTP requests sent, over every model tried."""
    call_error: str | None = None
    model: str | None = None
    """The model that answered (None when none did)."""
    search_entry_point: str | None = None
    """Google's rendered Search suggestions, stored as given (its terms ask that they be shown)."""
    search_suggestions: list[dict[str, str]] = field(default_factory=list)
    """The same suggestions as text and link, for screens that cannot render HTML."""
    supports: Supports = field(default_factory=lambda: Supports([], []))
    """Google's grounding supports as placeable citations, for the ``[n]`` markers of the reasoning."""


def record_analysis(
    store: Store,
    ctx: PairContext,
    *,
    kind: AnalystKind,
    model: str,
    prompt: str,
    parsed: ParseOutcome,
    trace: CallTrace,
) -> AnalysisOutcome:
    """Insert the analysis and return it with its id; text is redacted before it reaches the database."""
    error = trace.call_error or parsed.error
    decision = parsed.decision
    if trace.call_error is not None and decision.error is None:
        decision = Decision.wait("analyst call failed", kind, trace.call_error)
    raw = trace.raw_response
    record = Analysis(
        cycle_id=ctx.cycle_id,
        pair=ctx.pair.base,
        analyst=kind,
        model=model,
        created_at=ctx.now,
        action=decision.action,
        confidence=decision.confidence,
        prompt=redact(prompt),
        raw_response=redact(raw[:MAX_RAW_CHARS]) if raw is not None else None,
        decision=redact_obj(parsed.payload),  # None stays None
        grounded=trace.grounded,
        queries=[redact(q) for q in trace.queries],
        sources=redact_obj(trace.sources),
        usage=dict(trace.usage),
        latency_ms=trace.latency_ms,
        attempts=trace.attempts,
        error=redact(error) if error else None,
        search_entry_point=trace.search_entry_point,
        search_suggestions=list(trace.search_suggestions),
    )
    record = store.analyses.insert(record)
    log.info(
        "%s %s: %s %.2f%s%s",
        kind.value,
        ctx.pair.base,
        decision.action.value,
        decision.confidence,
        "" if trace.grounded or kind is AnalystKind.HEURISTIC else " (ungrounded)",
        f" — {record.error}" if record.error else "",
        extra={"event": "analysis", "cycle_id": ctx.cycle_id},
    )
    return AnalysisOutcome(decision, record, failed=trace.call_error is not None)


async def analyse_all(
    analyst: Analyst,
    contexts: Sequence[PairContext],
    *,
    store: Store | None = None,
    clock: Clock | None = None,
) -> list[AnalysisOutcome]:
    """Analyse every pair concurrently; the analyst's own limiter decides how many calls overlap.

    Results keep the order of ``contexts``. An unexpected exception for one pair is recorded by the
    caller's logs and that pair is left out, so one bug cannot cancel the whole cycle's analyses.
    With ``store`` and ``clock``, the ``analyst`` health says how many of the cycle's analyses failed.
    """
    results = await asyncio.gather(*(analyst.analyse(c) for c in contexts), return_exceptions=True)
    outcomes: list[AnalysisOutcome] = []
    errors: list[str] = []
    for ctx, result in zip(contexts, results, strict=True):
        if isinstance(result, BaseException):
            if isinstance(result, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise result
            errors.append(f"{ctx.pair.base}: crashed")
            log.error(
                "analysis of %s crashed: %s",
                ctx.pair.base,
                redact(f"{type(result).__name__}: {result}"),
                exc_info=result,
                extra={"event": "analysis_crash", "cycle_id": ctx.cycle_id},
            )
            continue
        if result.failed or result.primary_error is not None:
            errors.append(f"{ctx.pair.base}: {result.primary_error or result.record.error}")
        outcomes.append(result)
    if store is not None and clock is not None and contexts:
        report_cycle_health(store, clock, len(contexts), errors)
    return outcomes


def report_cycle_health(store: Store, clock: Clock, total: int, errors: list[str]) -> None:
    """``analyst``: OK when every pair got an answer, WARN when some failed, DOWN when all did."""
    failed = len(errors)
    status = HealthStatus.OK if failed == 0 else HealthStatus.DOWN if failed == total else HealthStatus.WARN
    detail = f"{failed} of {total} analyses failed" + (": " + "; ".join(errors[:3]) if errors else "")
    report_health(store, clock, "analyst", status, detail, {"failed": failed, "total": total})
