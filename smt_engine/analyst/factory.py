"""Choosing the analyst from configuration and credentials, and applying ``analyst.fallback``."""

from __future__ import annotations

import logging
from dataclasses import replace

from smt_engine.analyst.base import AnalysisOutcome, Analyst
from smt_engine.analyst.context import PairContext
from smt_engine.analyst.gemini import GeminiAnalyst
from smt_engine.analyst.heuristic import HeuristicAnalyst
from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import AnalystKind
from smt_engine.secrets import SecretName, SecretStore
from smt_engine.store import Store

log = logging.getLogger(__name__)


class FallbackAnalyst:
    """Gemini first; when a call yields no usable answer (error, timeout, empty), the fallback's answer.

    With ``analyst.fallback = "wait"`` there is no fallback analyst and the failure stays a recorded
    WAIT. An answer that arrived but failed validation is never replaced: that WAIT stands, because the
    model did answer and its answer was unsafe.
    """

    kind = AnalystKind.GEMINI

    def __init__(self, primary: GeminiAnalyst, fallback: HeuristicAnalyst | None) -> None:
        self.primary = primary
        self.fallback = fallback

    async def analyse(self, ctx: PairContext) -> AnalysisOutcome:
        outcome = await self.primary.analyse(ctx)
        if outcome.failed and self.fallback is not None:
            log.info(
                "gemini failed for %s (%s); using the heuristic fallback",
                ctx.pair.base,
                outcome.record.error,
                extra={"event": "analyst_fallback", "cycle_id": ctx.cycle_id},
            )
            answer = await self.fallback.analyse(ctx, fallback_for=outcome.record)
            return replace(answer, primary_error=outcome.record.error or "call failed")
        return outcome

    async def aclose(self) -> None:
        await self.primary.aclose()


def make_analyst(settings: Settings, store: Store, clock: Clock, secrets: SecretStore) -> Analyst:
    """Gemini (API key or Vertex AI) when configured and credentialled, else the heuristic."""
    cfg = settings.analyst
    if cfg.provider == "heuristic":
        return HeuristicAnalyst(store)
    api_key = None if cfg.vertex else secrets.get(SecretName.GEMINI_API_KEY)
    if not cfg.vertex and not api_key:
        log.warning(
            "no Gemini credentials (set %s or analyst.vertex): using the offline heuristic analyst",
            SecretName.GEMINI_API_KEY.value,
            extra={"event": "analyst_heuristic"},
        )
        return HeuristicAnalyst(store)
    primary = GeminiAnalyst(cfg, store, clock, api_key=api_key)
    fallback = HeuristicAnalyst(store) if cfg.fallback == "heuristic" else None
    return FallbackAnalyst(primary, fallback)
