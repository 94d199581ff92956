"""The analyst: prompt, Gemini client, parsing and validation, heuristic fallback.

The pipeline builds a ``PairContext`` per pair (``build_context``), gets an analyst from
``make_analyst`` and calls ``analyse_all``; each ``AnalysisOutcome`` holds the validated ``Decision``
and its stored ``analyses`` row. Decisions carry direction, confidence and TP/SL distances only: size
and leverage are decided by the risk engine, never by the analyst.
"""

from smt_engine.analyst.base import AnalysisOutcome, Analyst, analyse_all
from smt_engine.analyst.context import DecisionBounds, PairContext, build_context
from smt_engine.analyst.factory import FallbackAnalyst, make_analyst
from smt_engine.analyst.gemini import GeminiAnalyst
from smt_engine.analyst.heuristic import HeuristicAnalyst
from smt_engine.analyst.quota import GeminiRateLimiter

__all__ = [
    "AnalysisOutcome",
    "Analyst",
    "DecisionBounds",
    "FallbackAnalyst",
    "GeminiAnalyst",
    "GeminiRateLimiter",
    "HeuristicAnalyst",
    "PairContext",
    "analyse_all",
    "build_context",
    "make_analyst",
]
