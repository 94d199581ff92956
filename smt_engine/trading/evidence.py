"""The evidence a cycle's gates see: calibration maps and edge records, gathered once, kept for replay.

``Evidence.gather`` reads the scorecard as of ``now`` (a score exists only once its horizon passed, so
nothing later leaks in), fits each source's calibration map and opens its records. ``judge`` turns
them into what the risk engine needs for one decision (``DecisionEvidence``): the calibrated
confidence that sizes it and, in live mode, the edge gate's verdict. What was used is written with
the cycle's risk inputs (``as_record``), so `smt replay` sizes and gates on exactly that.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import HealthStatus, Mode
from smt_engine.health import report_health
from smt_engine.scorecard.calibration import UNKNOWN, CalibrationMap, fit_maps
from smt_engine.store import Store
from smt_engine.trading.edge_gate import (
    EdgeRecord,
    RecordSource,
    edge_gate,
    forward_records,
    is_override,
    override_key,
)
from smt_engine.trading.risk import DecisionEvidence, GateResult

log = logging.getLogger(__name__)

HEALTH = "risk.edge_gate"


@dataclass(slots=True)
class Evidence:
    gated: bool
    """Live mode when gathered: only then does the edge gate run (paper and demo are never gated)."""
    maps: dict[str, CalibrationMap] | None
    """Calibration per source; None: size on the stated confidence (cycles recorded before calibration)."""
    sources: Sequence[RecordSource] = ()
    """Where records come from, first with a record wins (the forward record; a backtest's may follow)."""
    consulted: dict[tuple[str, str], EdgeRecord] = field(default_factory=dict)

    @classmethod
    def gather(
        cls, store: Store, settings: Settings, now: datetime, extra: Sequence[RecordSource] = ()
    ) -> Evidence:
        """The scorecard's record as of ``now`` (``now`` names the instant; scores are all made by then)."""
        risk = settings.risk
        lines = store.scores.lines_of("analysis", risk.evidence_horizon)
        return cls(
            gated=settings.engine.mode is Mode.LIVE,
            maps=fit_maps(lines, risk.evidence_horizon, risk.calibration_prior),
            sources=(forward_records(lines, risk.evidence_horizon), *extra),
        )

    @classmethod
    def none(cls) -> Evidence:
        """For what was decided before evidence was recorded: stated sizing, no gate."""
        return cls(gated=False, maps=None)

    def record(self, source: str, pair: str) -> EdgeRecord:
        key = (source, pair)
        if key not in self.consulted:
            found = next((r for s in self.sources if (r := s(source, pair)) is not None), None)
            self.consulted[key] = found or EdgeRecord(source, pair, 0, None, None, None)
        return self.consulted[key]

    def calibrated(self, source: str, confidence: float) -> float | None:
        if self.maps is None:
            return None
        found = self.maps.get(source)
        return found.apply(confidence) if found is not None else UNKNOWN

    def judge(self, settings: Settings, source: str, pair: str, confidence: float) -> DecisionEvidence:
        risk = settings.risk
        calibrated = self.calibrated(source, confidence) if risk.size_on_calibrated else None
        gate: GateResult | None = None
        if self.gated:
            overridden = override_key(source, pair) in risk.edge_overrides
            gate = edge_gate(self.record(source, pair), risk.edge_min_decisions, overridden)
        return DecisionEvidence(
            calibrated=Decimal(str(round(calibrated, 4))) if calibrated is not None else None, edge=gate
        )

    def as_record(self) -> dict[str, Any]:
        return {
            "gated": self.gated,
            "calibration": (
                None if self.maps is None else {s: m.as_record() for s, m in sorted(self.maps.items())}
            ),
            "records": [r.as_record() for _, r in sorted(self.consulted.items())],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> Evidence:
        """What a cycle recorded; a cycle recorded before evidence existed gets ``none()``."""
        if record is None:
            return cls.none()
        maps = record.get("calibration")
        records = {(r.source, r.pair): r for r in (EdgeRecord.from_record(x) for x in record["records"])}
        return cls(
            gated=bool(record["gated"]),
            maps=None if maps is None else {s: CalibrationMap.from_record(m) for s, m in maps.items()},
            sources=(lambda source, pair: records.get((source, pair)),),
        )


def report_edge(store: Store, clock: Clock, gates: Sequence[GateResult], *, gated: bool) -> None:
    """The gate's last verdicts as the ``risk.edge_gate`` health row (`smt status`, the console)."""
    if not gated:
        report_health(store, clock, HEALTH, HealthStatus.OFF, "paper and demo are never gated")
        return
    denied = [g.detail for g in gates if not g.passed]
    overridden = [g.detail for g in gates if is_override(g)]
    if denied:
        status = HealthStatus.WARN
        detail = "no_proven_edge: live entries denied: " + " | ".join(denied)
    elif overridden:
        status = HealthStatus.WARN
        detail = "entries allowed by an operator override: " + " | ".join(overridden)
    else:
        status = HealthStatus.OK
        detail = (
            "every live entry this cycle had a proven record"
            if gates
            else "no trade decision to gate this cycle"
        )
    report_health(store, clock, HEALTH, status, detail)
