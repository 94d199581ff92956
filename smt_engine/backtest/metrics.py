"""The scorecard's figures per source, pair and horizon, and the records the edge gate may read.

Figures come from ``scorecard.stats.figures`` unchanged (hit rate with its Wilson interval, after-fee
mean return with its 95 % interval, Brier, calibration), so a backtest and the live scorecard say the
same thing in the same words. ``ALL`` groups a source's pairs.

One figure is added: ``avg_return_ci_overlap``. A 24 h return scored every 4 h shares 20 of its 24
hours with the next one, and pairs move together; the scorecard's interval treats every return as
independent and is then far too narrow (on a random walk it "finds" edges). The overlap interval is a
Newey-West (Bartlett) interval that counts as correlated any two returns whose windows overlap in
time, across pairs too. The record, and the edge criterion, use it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from smt_engine.backtest.flow_hours import is_flow_asset_source
from smt_engine.backtest.scoring import Line
from smt_engine.backtest.sources import DETERMINISTIC
from smt_engine.scorecard.scoring import OUTCOME
from smt_engine.scorecard.stats import Z95, figures
from smt_engine.store.backtest_records import BacktestRecord

ALL = "ALL"
RECORD_HORIZON = OUTCOME
"""The horizon a source's record is judged on: what its trades earned (TP, SL or the end of the hold)."""


def group(lines: Iterable[Line]) -> dict[tuple[str, str, str], list[Line]]:
    """Lines by (source, pair, horizon), plus (source, ALL, horizon)."""
    out: dict[tuple[str, str, str], list[Line]] = {}
    for line in lines:
        out.setdefault((line.source, line.pair, line.horizon), []).append(line)
        out.setdefault((line.source, ALL, line.horizon), []).append(line)
    return out


def overlap_interval(lines: Sequence[Line], z: float = Z95) -> tuple[float, float] | None:
    """Mean after-fee return +- z Newey-West standard errors, windows overlapping in time correlated."""
    acting = [ln for ln in lines if ln.return_pct is not None]
    n = len(acting)
    if n < 2:
        return None
    mean = sum(ln.return_pct or 0.0 for ln in acting) / n
    span = max(ln.span for ln in acting)
    by_time: dict[datetime, float] = {}
    for ln in acting:
        by_time[ln.at] = by_time.get(ln.at, 0.0) + (ln.return_pct or 0.0) - mean
    times = sorted(by_time)
    sums = [by_time[t] for t in times]
    var = 0.0
    for i, t in enumerate(times):
        var += sums[i] * sums[i]
        j = i + 1
        while j < len(times) and times[j] - t < span:
            var += 2 * (1 - (times[j] - t) / span) * sums[i] * sums[j]
            j += 1
    var /= n * (n - 1)
    half = z * math.sqrt(max(var, 0.0))
    return (round(mean - half, 4), round(mean + half, 4))


def table(lines: Iterable[Line]) -> dict[tuple[str, str, str], dict[str, Any]]:
    out = {}
    for key, group_lines in sorted(group(lines).items()):
        fig = figures(group_lines)
        fig["avg_return_ci_overlap"] = overlap_interval(group_lines)
        out[key] = fig
    return out


def passes_edge(fig: dict[str, Any], min_decisions: int) -> bool:
    """The edge criterion: a positive after-fee mean whose 95 % lower bound is above zero, over enough
    directional decisions."""
    ci = fig.get("avg_return_ci_overlap")
    return bool(
        fig.get("directional", 0) >= min_decisions
        and fig.get("avg_return_pct") is not None
        and fig["avg_return_pct"] > 0
        and ci is not None
        and ci[0] > 0
    )


def records(
    figs: dict[tuple[str, str, str], dict[str, Any]], data_from: datetime, data_to: datetime
) -> list[BacktestRecord]:
    out = []
    for (source, pair, horizon), fig in figs.items():
        ci = fig["avg_return_ci_overlap"]
        out.append(
            BacktestRecord(
                source=source,
                pair=pair,
                horizon=horizon,
                deterministic=source in DETERMINISTIC or is_flow_asset_source(source),
                n=fig["n"],
                directional=fig["directional"],
                mean_return_pct=fig["avg_return_pct"],
                ci_low=ci[0] if ci else None,
                ci_high=ci[1] if ci else None,
                hit_rate=fig["directional_hit_rate"],
                brier=fig["brier"],
                data_from=data_from,
                data_to=data_to,
            )
        )
    return out
