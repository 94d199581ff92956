"""What one monitor tick did, filled in by each of its steps and read by the engine and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from smt_engine.domain import CloseReason
from smt_engine.trading.inflight import InFlightReport
from smt_engine.trading.risk import ReasonCode


@dataclass
class TickReport:
    ok: bool = True
    error: str | None = None
    adopted: list[int] = field(default_factory=list)
    closed: list[tuple[int, CloseReason]] = field(default_factory=list)
    orphans_cancelled: list[str] = field(default_factory=list)
    orphans_flagged: list[str] = field(default_factory=list)
    stops_placed: list[int] = field(default_factory=list)
    forced: list[int] = field(default_factory=list)
    inflight: InFlightReport = field(default_factory=InFlightReport)
    halted: ReasonCode | None = None


__all__ = ["TickReport"]
