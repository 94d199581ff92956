"""What `smt venue probe` reports: one result per step, the options it ran with, the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Status = Literal["pass", "fail", "skip"]


@dataclass
class StepResult:
    name: str
    status: Status
    saw: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_data(self) -> dict[str, Any]:
        return {"step": self.name, "status": self.status, "saw": self.saw, "data": self.data}


@dataclass
class ProbeOptions:
    """What to probe and how hard. ``max_offset_ms``: REST corrects the clock, but a host 5 s off is
    already drifting towards WEEX's 30 s timestamp window; ``settle``: how long a position may take to
    show or to go after an order."""

    symbols: list[str]
    leverage: int
    margin_mode: Literal["cross", "isolated"]
    listen: float = 40.0
    with_position: bool = False
    ai_log: bool = False
    ai_log_model: str = "smt-venue-probe"
    symbol: str | None = None
    distance_pct: Decimal = Decimal(5)
    max_offset_ms: int = 5000
    settle: float = 10.0


@dataclass
class ProbeReport:
    steps: list[StepResult]

    @property
    def passed(self) -> bool:
        """No step failed and at least one proved something (a run of skips proves nothing)."""
        return all(s.status != "fail" for s in self.steps) and any(s.status == "pass" for s in self.steps)

    def as_data(self) -> dict[str, Any]:
        return {"passed": self.passed, "steps": [s.as_data() for s in self.steps]}


class CheckFailed(Exception):
    """A check did not hold: the message is what the operator reads."""

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.data = data
