"""The scorecard as figures per group, for `smt scorecard` (text or JSON) and the console.

Every group is split by what was scored (analysis, signal, proposal) and by horizon, because a 1 h
hit rate and a 24 h one answer different questions; every row carries its counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from smt_engine.scorecard.calibration import render_maps
from smt_engine.scorecard.stats import Scored, Tally


class Cell(NamedTuple):
    """Everything a score is grouped by: every grouping's group is a union of cells."""

    subject: str
    horizon: str
    pair: str
    tier: str
    analyst: str
    model: str
    signal_agrees: str


class Grouped(Scored, Protocol):
    """A score with what it is grouped by."""

    @property
    def subject(self) -> str: ...
    @property
    def horizon(self) -> str: ...
    @property
    def pair(self) -> str: ...
    @property
    def tier(self) -> str: ...
    @property
    def analyst(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def signal_agrees(self) -> str: ...


HORIZON_ORDER = {"1h": 0, "4h": 1, "24h": 2, "outcome": 3}
SUBJECT_ORDER = {"analysis": 0, "signal": 1, "flow": 2, "proposal": 3}

GROUPS: dict[str, Callable[[Cell], str]] = {
    "overall": lambda c: "all",
    "analyst_model": lambda c: f"{c.analyst}/{c.model}",
    "pair": lambda c: c.pair,
    "tier": lambda c: f"tier {c.tier}",
    "signal_agreement": lambda c: c.signal_agrees,
}
"""Name -> key of each grouping; "signal_agreement" says whether the whale signal pointed the same way."""


def cell_of(s: Grouped) -> Cell:
    return Cell(s.subject, s.horizon, s.pair, s.tier, s.analyst, s.model, s.signal_agrees)


def tally_cells(scores: Iterable[Grouped]) -> dict[Cell, Tally]:
    """The sums of every cell, counted afresh (one sum per score; the groupings merge cells)."""
    cells: dict[Cell, Tally] = {}
    for s in scores:
        key = cell_of(s)
        tally = cells.get(key)
        if tally is None:
            tally = cells[key] = Tally()
        tally.add(s)
    return cells


def report_of(
    cells: Mapping[Cell, Tally], count: int, *, since: datetime | None, now: datetime
) -> dict[str, Any]:
    """The report (JSON-ready) from every cell's sums; ``count`` is how many scores they hold."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, key in GROUPS.items():
        merged: dict[tuple[str, str, str], Tally] = {}
        for cell, tally in cells.items():
            merged.setdefault((cell.subject, cell.horizon, key(cell)), Tally()).merge(tally)
        groups[name] = [
            {"subject": subject, "horizon": horizon, "group": value}
            | merged[(subject, horizon, value)].figures()
            for subject, horizon, value in sorted(
                merged,
                key=lambda k: (SUBJECT_ORDER.get(k[0], 9), k[0], HORIZON_ORDER.get(k[1], 9), k[1], k[2]),
            )
        ]
    return {
        "generated_at": now.isoformat(),
        "since": since.isoformat() if since is not None else None,
        "scores": count,
        "groups": groups,
    }


def build_report(scores: Sequence[Grouped], *, since: datetime | None, now: datetime) -> dict[str, Any]:
    """Every group with its figures, counted afresh from ``scores``; JSON-ready."""
    return report_of(tally_cells(scores), len(scores), since=since, now=now)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _ci(value: tuple[float, float] | list[float] | None, scale: float = 100, unit: str = "%") -> str:
    if not value:
        return ""
    lo, hi = value
    return f" [{lo * scale:.0f}-{hi * scale:.0f}{unit}]" if unit == "%" else f" [{lo:+.2f}, {hi:+.2f}]"


def render_report(report: dict[str, Any]) -> str:
    """Plain-text tables, one per grouping."""
    lines = [
        f"Scorecard: {report['scores']} score(s)"
        + (f" since {report['since']}" if report["since"] else "")
        + " (hit: right direction after round-trip fees; WAIT right when the move could not pay them)"
    ]
    if not report["scores"]:
        lines.append(
            "Nothing scored yet: a decision is scored only once its horizon (1h, 4h, 24h) has passed."
        )
        return "\n".join(lines)
    header = f"  {'what':<9} {'horizon':<8} {'group':<28} {'n':>5} {'hit rate [95% CI]':<20} "
    header += f"{'avg return % [95% CI]':<26} {'brier':>6}"
    for name, rows in report["groups"].items():
        lines += ["", name.replace("_", " ").capitalize() + ":", header]
        for r in rows:
            ret = "-" if r["avg_return_pct"] is None else f"{r['avg_return_pct']:+.2f}"
            ret += _ci(r["avg_return_ci"], unit="")
            brier = "-" if r["brier"] is None else f"{r['brier']:.3f}"
            lines.append(
                f"  {r['subject']:<9} {r['horizon']:<8} {r['group'][:28]:<28} {r['n']:>5} "
                f"{_pct(r['hit_rate']) + _ci(r['hit_rate_ci']):<20} {ret:<26} {brier:>6}"
            )
    lines += render_maps(report.get("calibrated") or {})
    calib = [r for r in report["groups"]["overall"] if r["calibration"]]
    if calib:
        lines += ["", "Calibration (directional calls: stated confidence vs realised hit rate, with counts):"]
        for r in calib:
            cells = ", ".join(
                f"{c['bin']}: {c['stated'] * 100:.0f}% vs {c['realised'] * 100:.0f}% (n={c['n']})"
                for c in r["calibration"]
            )
            lines.append(f"  {r['subject']} {r['horizon']}: {cells}")
    return "\n".join(lines)
