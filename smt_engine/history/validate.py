"""Checking a series of bars before it is stored: what is wrong refuses it, what is missing is said.

* refused (nothing is written): a non-finite or non-positive price, a high below the open/close or a
  low above them, a negative volume, a bar off the interval's grid (a file of another interval), a
  timestamp going backwards (a file pasted together out of order), the same bar twice with different
  values;
* reported and written: the same bar twice with the same values (kept once), gaps (history has them:
  exchange outages, delistings; the backtest leaves a decision without its bars unscored).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from smt_engine.domain import Candle
from smt_engine.exchange.market import EPOCH

MAX_LISTED = 5
"""Problems of one kind listed by time; the rest are counted."""


@dataclass
class Validation:
    """What a check found; ``bars`` are the clean bars (sorted, duplicates dropped) when nothing refused."""

    interval: timedelta
    bars: list[Candle] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)
    duplicates: int = 0
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused

    @property
    def missing_bars(self) -> int:
        return sum(int((b - a) / self.interval) for a, b in self.gaps)

    def refuse(self, kind: str, detail: str) -> None:
        self.refused.setdefault(kind, []).append(detail)

    def summary(self) -> list[str]:
        """One line per finding, for the operator."""
        lines = []
        for kind, details in self.refused.items():
            shown = "; ".join(details[:MAX_LISTED]) + (
                f"; and {len(details) - MAX_LISTED} more" if len(details) > MAX_LISTED else ""
            )
            lines.append(f"refused: {len(details)} {kind}: {shown}")
        if self.duplicates:
            lines.append(f"{self.duplicates} duplicate bar(s) with identical values: kept once")
        if self.gaps:
            listed = ", ".join(f"{a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M}" for a, b in self.gaps[:MAX_LISTED])
            more = f" and {len(self.gaps) - MAX_LISTED} more" if len(self.gaps) > MAX_LISTED else ""
            lines.append(f"{len(self.gaps)} gap(s), {self.missing_bars} bar(s) missing: {listed}{more}")
        return lines


def validate(bars: Sequence[Candle], interval: timedelta, *, ordered: bool = True) -> Validation:
    """Check ``bars`` (in the order read) as one series of ``interval`` bars.

    ``ordered``: the source promises ascending time (a file); a fetch's pages are sorted first.
    """
    v = Validation(interval)
    seconds = int(interval.total_seconds())
    for b in bars:
        at = f"{b.open_time:%Y-%m-%d %H:%M}"
        prices = (b.open, b.high, b.low, b.close)
        if not all(p.is_finite() for p in (*prices, b.volume)):
            v.refuse("non-finite row(s)", at)
            continue
        if any(p <= 0 for p in prices) or b.volume < 0:
            v.refuse("non-positive price or negative volume row(s)", at)
            continue
        if b.high < max(b.open, b.close, b.low) or b.low > min(b.open, b.close):
            v.refuse("row(s) whose high/low do not contain the open and close", at)
            continue
        if int((b.open_time - EPOCH).total_seconds()) % seconds:
            v.refuse(f"row(s) off the {_name(interval)} grid (another interval?)", at)
    if ordered:
        for a, b in itertools.pairwise(bars):
            if b.open_time < a.open_time:
                v.refuse(
                    "timestamp(s) going backwards",
                    f"{b.open_time:%Y-%m-%d %H:%M} after {a.open_time:%Y-%m-%d %H:%M}",
                )
    by_time: dict[datetime, Candle] = {}
    for b in bars:
        seen = by_time.get(b.open_time)
        if seen is None:
            by_time[b.open_time] = b
        elif seen == b:
            v.duplicates += 1
        else:
            v.refuse("conflicting duplicate(s)", f"{b.open_time:%Y-%m-%d %H:%M}")
    if not v.ok:
        return v
    v.bars = [by_time[t] for t in sorted(by_time)]
    for a, b in itertools.pairwise(v.bars):
        if b.open_time - a.open_time > interval:
            v.gaps.append((a.open_time + interval, b.open_time))
    return v


def _name(interval: timedelta) -> str:
    minutes = int(interval.total_seconds() // 60)
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"
