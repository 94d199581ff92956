"""Each call scored on its own, the way the scorecard scores a live decision (``scorecard.scoring``).

At 1 h, 4 h and 24 h: the exit is the close of the last bar closed by ``t + h``, closed after ``t`` and
no older than ``exit_tolerance(h)``; a LONG/SHORT is a hit when its move beats the round-trip taker
fee, a WAIT when the move could not pay it either way. On ``outcome``: the first of the call's TP or
SL touched by a later bar (the stop first when one bar touches both), else the close at the end of its
hold. A horizon without such a bar (a gap, the end of the data) stays unscored, as live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from smt_engine.backtest.decisions import Call
from smt_engine.backtest.market import Series
from smt_engine.scorecard.scoring import HORIZONS, OUTCOME, PRICE_TOLERANCE, exit_tolerance, judge


@dataclass(frozen=True, slots=True)
class Line:
    """One scored call at one horizon (what ``scorecard.stats`` reads)."""

    source: str
    pair: str
    horizon: str
    at: datetime
    direction: str
    confidence: float
    hit: bool
    return_pct: float | None
    move_pct: float
    span: timedelta
    """How long the return was exposed to the market (the horizon, or the hold for ``outcome``)."""
    outcome: str | None = None


class FloatSeries:
    """A series' closes, highs and lows as floats (statistics, not money), indexed like ``Series``."""

    def __init__(self, series: Series) -> None:
        self.series = series
        self.close = [float(b.close) for b in series.bars]
        self.high = [float(b.high) for b in series.bars]
        self.low = [float(b.low) for b in series.bars]


def score_call(call: Call, fs: FloatSeries, fee_pct: float) -> list[Line]:
    """Every horizon of one call that the data can score."""
    s = fs.series
    i = s.closed_by(call.at) - 1
    if i < 0 or call.at - s.closes[i] > PRICE_TOLERANCE:
        return []
    ref = fs.close[i]
    d = call.decision
    direction = d.action.value
    out: list[Line] = []
    for name, length in HORIZONS.items():
        due = call.at + length
        j = s.closed_by(due) - 1
        if j <= i or due - s.closes[j] > exit_tolerance(length):
            continue
        move = (fs.close[j] / ref - 1) * 100
        hit, ret = judge(direction, move, fee_pct)
        out.append(
            Line(call.source, call.pair.base, name, call.at, direction, d.confidence, hit, ret, move, length)
        )
    if direction != "WAIT":
        line = _outcome(call, fs, i, ref, fee_pct)
        if line is not None:
            out.append(line)
    return out


def _outcome(call: Call, fs: FloatSeries, i: int, ref: float, fee_pct: float) -> Line | None:
    d = call.decision
    long = d.action.value == "LONG"
    tp_pct, sl_pct = float(d.tp_pct), float(d.sl_pct)
    tp = ref * (1 + tp_pct / 100) if long else ref * (1 - tp_pct / 100)
    sl = ref * (1 - sl_pct / 100) if long else ref * (1 + sl_pct / 100)
    end = call.at + timedelta(hours=d.hold_hours)
    s = fs.series
    last = s.closed_by(end)
    exit_price, how = None, None
    for k in range(i + 1, last):
        stop = fs.low[k] <= sl if long else fs.high[k] >= sl
        take = fs.high[k] >= tp if long else fs.low[k] <= tp
        if stop:  # both touched in one bar: the stop is assumed first, as the scorecard does
            exit_price, how = sl, "sl"
            break
        if take:
            exit_price, how = tp, "tp"
            break
    if exit_price is None:
        j = last - 1
        if j <= i or end - s.closes[j] > exit_tolerance(end - call.at):
            return None
        exit_price, how = fs.close[j], "max_hold"
    move = (exit_price / ref - 1) * 100
    hit, ret = judge(d.action.value, move, fee_pct)
    return Line(
        call.source,
        call.pair.base,
        OUTCOME,
        call.at,
        d.action.value,
        d.confidence,
        hit,
        ret,
        move,
        end - call.at,
        how,
    )


def score_all(calls: list[Call], series: dict[str, FloatSeries], fee_pct: float) -> list[Line]:
    out: list[Line] = []
    for c in calls:
        fs = series.get(c.pair.symbol)
        if fs is not None:
            out.extend(score_call(c, fs, fee_pct))
    return out
