"""The edge gate: in live mode a source earns entries on a pair only by its measured record.

A record is what a decision source (``heuristic``, ``gemini``) has shown on one pair: the number of
directional decisions scored, their mean return after round-trip fees and its 95 % interval. The gate
passes when ``n >= risk.edge_min_decisions`` and the interval's lower bound is above zero; otherwise
the proposal is denied with ``no_proven_edge``. An operator may override a source and pair
(``risk.edge_overrides``); the gate then passes and says so. Paper and demo are never gated, so their
records can accumulate (docs/operator-guide.md, "The edge gate").

Records are read through ``RecordSource``, one function from (source, pair) to a record: the
forward-scored record of the scorecard today; a backtest's record can be offered the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from smt_engine.scorecard.stats import mean_interval
from smt_engine.trading.risk import GateResult, ReasonCode

FORWARD = "forward"
"""A record of the engine's own decisions, scored by the scorecard once their horizon passed."""


@dataclass(frozen=True, slots=True)
class EdgeRecord:
    source: str
    pair: str
    n: int
    mean_pct: float | None
    """Mean return after round-trip fees, %; None with no decision."""
    low_pct: float | None
    """95 % interval of the mean; None below two decisions."""
    high_pct: float | None
    origin: str = FORWARD
    horizon: str = ""

    def describe(self) -> str:
        if self.mean_pct is None:  # no decision (a record has a mean from its first decision on)
            return f"{self.source} on {self.pair}: no scored decision yet ({self.origin} record)"
        interval = (
            f" [95% CI {self.low_pct:+.3f}%, {self.high_pct:+.3f}%]"
            if self.low_pct is not None and self.high_pct is not None
            else " [no interval below 2 decisions]"
        )
        at = f" at {self.horizon}" if self.horizon else ""
        return (
            f"{self.source} on {self.pair}: n={self.n}, mean after fees {self.mean_pct:+.3f}%{interval}"
            f"{at} ({self.origin} record)"
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "pair": self.pair,
            "n": self.n,
            "mean_pct": self.mean_pct,
            "low_pct": self.low_pct,
            "high_pct": self.high_pct,
            "origin": self.origin,
            "horizon": self.horizon,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> EdgeRecord:
        def opt(key: str) -> float | None:
            value = record.get(key)
            return None if value is None else float(value)

        return cls(
            source=str(record["source"]),
            pair=str(record["pair"]),
            n=int(record["n"]),
            mean_pct=opt("mean_pct"),
            low_pct=opt("low_pct"),
            high_pct=opt("high_pct"),
            origin=str(record["origin"]),
            horizon=str(record["horizon"]),
        )


RecordSource = Callable[[str, str], EdgeRecord | None]
"""(source, pair) -> that source's record on that pair, or None when this source has none."""


class RecordLine(Protocol):
    """What a forward record reads of a score (``ScoreLine`` has it)."""

    @property
    def subject(self) -> str: ...
    @property
    def horizon(self) -> str: ...
    @property
    def analyst(self) -> str: ...
    @property
    def pair(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def return_pct(self) -> float | None: ...


def forward_records(lines: Iterable[RecordLine], horizon: str) -> RecordSource:
    """The scorecard's record: a source's directional analyses on a pair, after-fee returns at ``horizon``."""
    returns: dict[tuple[str, str], list[float]] = {}
    for line in lines:
        if (
            line.subject == "analysis"
            and line.horizon == horizon
            and line.direction != "WAIT"
            and line.return_pct is not None
        ):
            returns.setdefault((line.analyst, line.pair), []).append(float(line.return_pct))

    def record(source: str, pair: str) -> EdgeRecord | None:
        values = returns.get((source, pair), [])
        if not values:
            return None
        interval = mean_interval(values)
        return EdgeRecord(
            source=source,
            pair=pair,
            n=len(values),
            mean_pct=round(sum(values) / len(values), 4),
            low_pct=interval[0] if interval else None,
            high_pct=interval[1] if interval else None,
            horizon=horizon,
        )

    return record


def proven(record: EdgeRecord, min_decisions: int) -> bool:
    """A positive after-fee mean whose 95 % lower bound is above zero, over enough decisions."""
    return (
        record.n >= min_decisions
        and record.mean_pct is not None
        and record.mean_pct > 0
        and record.low_pct is not None
        and record.low_pct > 0
    )


def override_key(source: str, pair: str) -> str:
    """How ``risk.edge_overrides`` names a source and pair: ``heuristic:ETH``."""
    return f"{source}:{pair.upper()}"


OVERRIDDEN = "OVERRIDDEN by risk.edge_overrides"


def is_override(gate: GateResult) -> bool:
    """A gate an operator override let pass (its detail says so first)."""
    return gate.code is ReasonCode.NO_PROVEN_EDGE and gate.passed and gate.detail.startswith(OVERRIDDEN)


def edge_gate(record: EdgeRecord, min_decisions: int, overridden: bool) -> GateResult:
    """The gate's verdict on one record; an override passes and says what it overrides."""
    need = f"needs n >= {min_decisions} and a 95% lower bound above 0"
    if proven(record, min_decisions):
        return GateResult(ReasonCode.NO_PROVEN_EDGE, True, f"proven: {record.describe()}")
    if overridden:
        key = override_key(record.source, record.pair)
        return GateResult(
            ReasonCode.NO_PROVEN_EDGE,
            True,
            f"{OVERRIDDEN} ({key}): {record.describe()}; {need}",
        )
    return GateResult(ReasonCode.NO_PROVEN_EDGE, False, f"{record.describe()}; {need}")
