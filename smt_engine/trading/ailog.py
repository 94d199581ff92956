"""The AI-log outbox: every stage of a decision becomes a row, uploaded later to WEEX's AI-log endpoint.

Recording is a local insert that never raises into trading; uploading is a separate step with
exponential back-off whose failures stay visible (``last_error``, state ``failed``). The competition
suspended accounts whose logs lacked order ids, so executions and closes always carry theirs.

``model`` is the provider's raw id of the model that answered (WEEX's AI-Wars agent skill asks for it,
e.g. ``gemini-2.5-flash``), taken from the analysis that produced the decision: the analysis stage
passes it, a decision/execution/close finds it through its proposal (or the position's), and only a
stage no language model took part in (whale discovery and signals) carries ``ailog.model_name``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import AiLogState, EventLevel, Mode
from smt_engine.exchange.base import AiLogUpload, Exchange, RateLimited
from smt_engine.secrets import redact, redact_obj
from smt_engine.store import Store
from smt_engine.store.records import AiLog

log = logging.getLogger(__name__)

EXPLANATION_MAX = 1000
_ERROR_MAX = 500
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


class Stage:
    """Stage names as the seed uploaded them (the competition's reviewers know these)."""

    WHALE_DISCOVERY = "Whale Discovery"
    WHALE_SIGNAL = "Whale Signal Generation"
    TRADE_DECISION = "Trade Decision"
    TRADE_EXECUTION = "Trade Execution"
    POSITION_CLOSED = "Position Closed"

    @staticmethod
    def analysis(pair: str) -> str:
        return f"Market Analysis - {pair}"


def _jsonable(value: Any) -> Any:
    """Decimals, datetimes and enums as the strings the upload will carry."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def bounded_explanation(text: str) -> str:
    """Redacted first (a mask can change the length), then cut to the 1000-character limit."""
    text = redact(text or "")
    if len(text) <= EXPLANATION_MAX:
        return text
    return text[: EXPLANATION_MAX - 1] + "…"


def with_overrides(input: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Every AI log names the edge-gate overrides in force (live mode), so a reviewer sees them."""
    if settings.engine.mode is not Mode.LIVE or not settings.risk.edge_overrides:
        return input
    return {**input, "edge_overrides": list(settings.risk.edge_overrides)}


class AiLogOutbox:
    """Writes AI-log rows. Rows are ``skipped`` when uploads are off, so they still show on screen."""

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self._cycle_models: dict[str, str] = {}

    def record(
        self,
        stage: str,
        input: dict[str, Any],
        output: dict[str, Any],
        explanation: str,
        order_id: str | None = None,
        cycle_id: str | None = None,
        model: str | None = None,
    ) -> AiLog | None:
        """Queue one row; returns it, or None if it could not be written (logged, never raised)."""
        try:
            answered = self._answering_model(model, input, cycle_id)
            row = AiLog(
                stage=redact(stage)[:200],
                model=redact(answered)[:200],
                input=redact_obj(_jsonable(with_overrides(input, self.settings))),
                output=redact_obj(_jsonable(output)),
                explanation=bounded_explanation(explanation),
                created_at=self.clock.now(),
                state=AiLogState.PENDING if self.settings.ailog_enabled else AiLogState.SKIPPED,
                order_id=redact(order_id) if order_id else None,
                cycle_id=cycle_id,
            )
            return self.store.ailogs.insert(row)
        except Exception:  # an audit row must never stop a trade
            log.exception("AI log %r could not be recorded", stage)
            return None

    def _answering_model(self, model: str | None, input: dict[str, Any], cycle_id: str | None) -> str:
        """The model that answered: given, or that of the analysis behind the proposal or position."""
        if model:
            if cycle_id is not None:
                self._cycle_models[cycle_id] = model
            return model
        found = self._model_of_proposal(input.get("proposal_id"))
        if found is None and input.get("symbol") and input.get("side"):
            found = self._model_of_position(str(input["symbol"]), str(input["side"]))
        if found is None and cycle_id is not None:
            found = self._cycle_models.get(cycle_id)
        return found or self.settings.ailog.model_name

    def _model_of_proposal(self, proposal_id: Any) -> str | None:
        if not isinstance(proposal_id, int):
            return None
        proposal = self.store.proposals.get(proposal_id)
        if proposal is None or proposal.analysis_id is None:
            return None
        analysis = self.store.analyses.get(proposal.analysis_id)
        return analysis.model if analysis is not None and analysis.model else None

    def _model_of_position(self, symbol: str, side: str) -> str | None:
        candidates = [*self.store.positions.open_positions(), *self.store.positions.recent_closed(20)]
        for position in candidates:
            if position.symbol == symbol and position.side.value == side:
                return self._model_of_proposal(position.proposal_id)
        return None

    # Convenience wrappers, one per stage, so callers cannot misspell a stage name.

    def whale_discovery(
        self, input: dict[str, Any], output: dict[str, Any], explanation: str, cycle_id: str | None = None
    ) -> AiLog | None:
        return self.record(Stage.WHALE_DISCOVERY, input, output, explanation, cycle_id=cycle_id)

    def whale_signal(
        self, input: dict[str, Any], output: dict[str, Any], explanation: str, cycle_id: str | None = None
    ) -> AiLog | None:
        return self.record(Stage.WHALE_SIGNAL, input, output, explanation, cycle_id=cycle_id)

    def analysis(
        self,
        pair: str,
        input: dict[str, Any],
        output: dict[str, Any],
        explanation: str,
        cycle_id: str | None = None,
        model: str | None = None,
    ) -> AiLog | None:
        return self.record(Stage.analysis(pair), input, output, explanation, cycle_id=cycle_id, model=model)

    def trade_decision(
        self, input: dict[str, Any], output: dict[str, Any], explanation: str, cycle_id: str | None = None
    ) -> AiLog | None:
        return self.record(Stage.TRADE_DECISION, input, output, explanation, cycle_id=cycle_id)

    def execution(
        self,
        order_id: str,
        input: dict[str, Any],
        output: dict[str, Any],
        explanation: str,
        cycle_id: str | None = None,
    ) -> AiLog | None:
        return self.record(Stage.TRADE_EXECUTION, input, output, explanation, order_id, cycle_id)

    def close(
        self,
        order_id: str | None,
        input: dict[str, Any],
        output: dict[str, Any],
        explanation: str,
        cycle_id: str | None = None,
    ) -> AiLog | None:
        return self.record(Stage.POSITION_CLOSED, input, output, explanation, order_id, cycle_id)


@dataclass(frozen=True, slots=True)
class UploadReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 1 h."""
    delay: timedelta = BACKOFF_BASE * (2 ** max(0, attempts - 1))
    return min(delay, BACKOFF_MAX)


class AiLogUploader:
    """Sends due outbox rows. One bad row never blocks the others, and nothing here raises."""

    def __init__(self, exchange: Exchange, store: Store, clock: Clock, settings: Settings) -> None:
        self.exchange = exchange
        self.store = store
        self.clock = clock
        self.settings = settings

    async def run_once(self, limit: int = 20) -> UploadReport:
        if not self.settings.ailog_enabled:
            return UploadReport()
        sent = retrying = failed = 0
        for row in self.store.ailogs.due(self.clock.now(), limit=limit):
            assert row.id is not None
            entry = AiLogUpload(
                stage=row.stage,
                model=row.model,
                input=row.input,
                output=row.output,
                explanation=row.explanation,
                order_id=row.order_id,
            )
            try:
                await self.exchange.upload_ai_log(entry)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any venue failure: retry later, keep it visible
                now = self.clock.now()
                attempts = row.attempts + 1
                error = redact(f"{type(exc).__name__}: {exc}")[:_ERROR_MAX]
                delay = backoff(attempts)
                if isinstance(exc, RateLimited):
                    delay = max(delay, timedelta(seconds=exc.retry_after))
                if attempts >= self.settings.ailog.max_attempts:
                    failed += 1
                    self.store.ailogs.update(
                        row.id, attempts=attempts, last_error=error, state=AiLogState.FAILED
                    )
                    self.store.events.append(
                        now,
                        EventLevel.ERROR,
                        "ailog.failed",
                        f"AI log #{row.id} ({row.stage}) not uploaded after {attempts} attempts: {error}",
                        cycle_id=row.cycle_id,
                    )
                else:
                    retrying += 1
                    self.store.ailogs.update(
                        row.id, attempts=attempts, last_error=error, next_attempt_at=now + delay
                    )
                log.warning("AI log #%s upload failed (attempt %d): %s", row.id, attempts, error)
                if isinstance(exc, RateLimited):
                    break
                continue
            sent += 1
            self.store.ailogs.update(
                row.id,
                attempts=row.attempts + 1,
                state=AiLogState.SENT,
                sent_at=self.clock.now(),
                last_error=None,
            )
        return UploadReport(sent=sent, retrying=retrying, failed=failed)
