"""Scoring decisions once their horizon has passed, from stored prices only.

A decision made at ``t`` is scored at horizon ``h`` only when ``now >= t + h`` and only with prices
known by ``t + h``: the exit is the last price or closed bar at or before ``t + h``, observed strictly
after ``t`` and not older than ``exit_tolerance(h)`` (``PRICE_TOLERANCE``, at most half the horizon).
Nothing is scored early, nothing from a later price, and never with the decision-time price as its
exit: without such a price the horizon stays unscored.

* An analysis (WAIT included) and a whale signal are scored at 1 h, 4 h and 24 h. A LONG or SHORT is
  a hit when acting on it would have earned more than the round-trip taker fee; a WAIT is a hit when
  the move was too small to pay that fee either way.
* A proposal (denied, rejected and expired included) is scored at the same horizons and once more on
  its outcome: the first of its take-profit or stop-loss touched by a stored bar (stop first when one
  bar touches both), else its price at the end of the maximum hold.

Analyses without a valid answer (call failed, answer refused) are not decisions and are not scored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from smt_engine.config import Settings
from smt_engine.domain import Action, Bias, Side, Tier
from smt_engine.scorecard.flow_subjects import flow_horizons, flow_subjects
from smt_engine.scorecard.subject import Subject
from smt_engine.store import Store
from smt_engine.store.prices import StoredCandle
from smt_engine.store.records import Analysis, Proposal, WhaleSignal
from smt_engine.store.scores import Score

log = logging.getLogger(__name__)

HORIZONS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "24h": timedelta(hours=24),
}
OUTCOME = "outcome"
LAST_HORIZON = "24h"
PRICE_TOLERANCE = timedelta(minutes=90)
"""A price older than this at the moment it is needed is no price (the engine was not watching)."""


def exit_tolerance(horizon: timedelta) -> timedelta:
    """How old an exit price may be at its horizon: ``PRICE_TOLERANCE``, at most half the horizon."""
    return min(PRICE_TOLERANCE, horizon / 2)


LOOKBACK = timedelta(days=30)
"""Decisions older than this that could not be scored (no prices) are given up on."""

_BIAS_DIRECTION = {Bias.BULLISH: "LONG", Bias.BEARISH: "SHORT", Bias.NEUTRAL: "WAIT", Bias.AVOID: "WAIT"}


def judge(direction: str, move_pct: float, fee_pct: float) -> tuple[bool, float | None]:
    """Hit and after-fee return of one call on a move: a LONG/SHORT hits when its move beats the
    round-trip fee; a WAIT (no return) when the move could not pay the fee either way. The scorecard
    and the backtest both judge by this one rule."""
    if direction == "WAIT":
        return abs(move_pct) <= fee_pct, None
    ret = (move_pct if direction == "LONG" else -move_pct) - fee_pct
    return ret > 0, ret


class Scorer:
    """Scores what is due; ``score_due`` is the entry point the pipeline and the CLI use."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.fee_pct = float(settings.exchange.taker_fee_pct) * 2

    # -- prices

    def price_at(
        self,
        symbol: str,
        at: datetime,
        within: timedelta = PRICE_TOLERANCE,
        after: datetime | None = None,
    ) -> Decimal | None:
        """The latest price known at ``at``: a recorded last price or a closed bar's close.

        With ``after``, only a price observed strictly later counts (an exit must postdate the decision).
        """
        point = self.store.prices.at_or_before(symbol, at, within)
        bar = self.store.candles.last_close(symbol, at, within)
        if after is not None:
            point = point if point is not None and point.at > after else None
            bar = bar if bar is not None and bar[0] > after else None
        if point is None and bar is None:
            return None
        if bar is None or (point is not None and point.at >= bar[0]):
            return point.price if point is not None else None
        return bar[1]

    def path(self, symbol: str, start: datetime, end: datetime) -> list[StoredCandle]:
        """The finest stored bars between ``start`` and ``end`` (one interval, oldest first)."""
        bars = self.store.candles.between(symbol, start, end)
        if not bars:
            return []
        finest = min(bars, key=lambda b: b.close_time - b.open_time)
        length = finest.close_time - finest.open_time
        return [b for b in bars if b.close_time - b.open_time == length]

    # -- scoring

    def exit_price(self, subject: Subject, due: datetime) -> Decimal | None:
        """The price at ``due`` observed after the decision and close enough to ``due`` to stand for it."""
        within = exit_tolerance(due - subject.decided_at)
        return self.price_at(subject.symbol, due, within, after=subject.decided_at)

    def score(self, subject: Subject, horizon: str, due: datetime, now: datetime) -> Score | None:
        ref = self.price_at(subject.symbol, subject.decided_at)
        exit_price = self.exit_price(subject, due)
        if ref is None or exit_price is None or ref <= 0:
            return None
        return self._make(subject, horizon, due, now, ref, exit_price, None)

    def _make(
        self,
        subject: Subject,
        horizon: str,
        due: datetime,
        now: datetime,
        ref: Decimal,
        exit_price: Decimal,
        outcome: str | None,
    ) -> Score:
        move = float((exit_price / ref - 1) * 100)
        hit, ret = judge(subject.direction, move, self.fee_pct)
        return Score(
            subject=subject.kind,
            subject_id=subject.id,
            horizon=horizon,
            pair=subject.pair,
            tier=subject.tier,
            analyst=subject.analyst,
            model=subject.model,
            direction=subject.direction,
            confidence=subject.confidence,
            signal_agrees=subject.signal_agrees,
            decided_at=subject.decided_at,
            due_at=due,
            ref_price=ref,
            exit_price=exit_price,
            move_pct=round(move, 6),
            return_pct=None if ret is None else round(ret, 6),
            hit=hit,
            outcome=outcome,
            state=subject.state,
            cycle_id=subject.cycle_id,
            scored_at=now,
        )

    def score_horizons(
        self, subjects: list[Subject], now: datetime, horizons: Mapping[str, timedelta] = HORIZONS
    ) -> list[Score]:
        if not subjects:
            return []
        done = self.store.scores.done(subjects[0].kind, (s.id for s in subjects))
        out: list[Score] = []
        for s in subjects:
            for name, length in horizons.items():
                due = s.decided_at + length
                if due > now or (s.id, name) in done:
                    continue  # not yet: no look-ahead
                score = self.score(s, name, due, now)
                if score is not None:
                    out.append(score)
        return out

    def score_outcome(
        self, subject: Subject, proposal: Proposal, hold: timedelta, now: datetime
    ) -> Score | None:
        """The first of TP or SL touched by a stored bar, else the price when the maximum hold ended."""
        ref = proposal.entry_ref
        end = subject.decided_at + hold
        long = proposal.side is Side.LONG
        for bar in self.path(subject.symbol, subject.decided_at, min(end, now)):
            stop = bar.low <= proposal.sl_price if long else bar.high >= proposal.sl_price
            take = bar.high >= proposal.tp_price if long else bar.low <= proposal.tp_price
            if stop:  # both touched in one bar: the stop is assumed first (the cautious reading)
                return self._make(subject, OUTCOME, bar.close_time, now, ref, proposal.sl_price, "sl")
            if take:
                return self._make(subject, OUTCOME, bar.close_time, now, ref, proposal.tp_price, "tp")
        if end > now:
            return None
        exit_price = self.exit_price(subject, end)
        if exit_price is None:
            return None
        return self._make(subject, OUTCOME, end, now, ref, exit_price, "max_hold")

    # -- subjects

    def _pair(self, base: str) -> tuple[str, str]:
        pair = self.settings.pairs.by_base(base)
        return (pair.symbol, pair.tier.value) if pair is not None else (f"{base}USDT", "?")

    def _signal_direction(self, cycle_id: str | None, tier: str) -> str | None:
        if cycle_id is None or tier != Tier.ONE.value:
            return None
        signals = [s for s in self.store.whale_signals.for_cycle(cycle_id) if s.is_aggregate]
        return _BIAS_DIRECTION[signals[0].bias] if signals else None

    def _agreement(self, direction: str, cycle_id: str | None, tier: str) -> str:
        signal = self._signal_direction(cycle_id, tier)
        if signal is None:
            return "none"
        return "agree" if signal == direction else "disagree"

    def analysis_subject(self, a: Analysis) -> Subject | None:
        if a.id is None or a.decision is None or a.error is not None:
            # No valid answer, or a WAIT the engine wrote for the model (failed call, over a daily cap):
            # not the model's own decision, so it must not score as one.
            return None
        if "cached_from" in a.decision:
            return None  # a cached copy: its source analysis is already scored once
        symbol, tier = self._pair(a.pair)
        return Subject(
            kind="analysis",
            id=a.id,
            pair=a.pair,
            symbol=symbol,
            tier=tier,
            analyst=a.analyst.value,
            model=a.model,
            direction=a.action.value,
            confidence=a.confidence,
            signal_agrees=self._agreement(a.action.value, a.cycle_id, tier),
            decided_at=a.created_at,
            cycle_id=a.cycle_id,
        )

    def signal_subject(self, s: WhaleSignal) -> Subject | None:
        """An aggregate whale signal (ETH flow) is scored on ETH, else on the first tier-1 pair."""
        tier1 = self.settings.pairs.tier1
        if s.id is None or not tier1:
            return None
        base = "ETH" if "ETH" in tier1 else tier1[0]
        symbol, tier = self._pair(base)
        direction = _BIAS_DIRECTION[s.bias]
        return Subject(
            kind="signal",
            id=s.id,
            pair=base,
            symbol=symbol,
            tier=tier,
            analyst="whales",
            model=s.whale_class or "aggregate",
            direction=direction,
            confidence=s.confidence,
            signal_agrees="none",
            decided_at=s.at,
            cycle_id=s.cycle_id,
        )

    def proposal_subject(self, p: Proposal, analysis: Analysis | None) -> Subject | None:
        if p.id is None:
            return None
        symbol, tier = self._pair(p.pair)
        direction = Action.LONG.value if p.side is Side.LONG else Action.SHORT.value
        return Subject(
            kind="proposal",
            id=p.id,
            pair=p.pair,
            symbol=p.symbol or symbol,
            tier=tier,
            analyst=analysis.analyst.value if analysis is not None else p.source,
            model=analysis.model if analysis is not None else p.source,
            direction=direction,
            confidence=p.confidence,
            signal_agrees=self._agreement(direction, p.cycle_id, tier),
            decided_at=p.created_at,
            cycle_id=p.cycle_id,
            state=p.state.value,
        )

    def hold_for(self, analysis: Analysis | None) -> timedelta:
        hours = (analysis.decision or {}).get("hold_time_hours") if analysis is not None else None
        if isinstance(hours, int | float | str):
            try:
                value = float(hours)
            except ValueError:
                value = 0.0
            if value > 0:
                return timedelta(hours=value)
        return self.settings.risk.max_hold

    def run(self, now: datetime) -> int:
        # Incremental: only decisions with a horizon that is due and not scored yet are read at all (one
        # younger than 1 h costs nothing); one scored at 24 h (a proposal: and on its outcome) has had
        # everything tried. A proposal's outcome can be settled by a bar before its hold ends.
        start = now - LOOKBACK
        history = self.store.history
        due = {name: now - length for name, length in HORIZONS.items()}
        analyses = history.analyses_since(start, unless_scored=(LAST_HORIZON,), due=due)
        scores = self.score_horizons(
            [s for a in analyses if (s := self.analysis_subject(a)) is not None], now
        )

        signals = history.aggregate_signals_since(start, unless_scored=(LAST_HORIZON,), due=due)
        scores += self.score_horizons([s for w in signals if (s := self.signal_subject(w)) is not None], now)

        flows = flow_subjects(self.settings, self.store, start, now)
        scores += self.score_horizons(flows, now, flow_horizons(self.settings))

        proposals = history.proposals_since(
            start, unless_scored=(LAST_HORIZON, OUTCOME), due={**due, OUTCOME: now}
        )
        behind = self.store.analyses.by_ids([p.analysis_id for p in proposals if p.analysis_id is not None])
        pairs = [(p, behind.get(p.analysis_id) if p.analysis_id is not None else None) for p in proposals]
        psubjects = {s.id: (s, p, a) for p, a in pairs if (s := self.proposal_subject(p, a)) is not None}
        scores += self.score_horizons([s for s, _, _ in psubjects.values()], now)
        done = self.store.scores.done("proposal", psubjects)
        for sid, (s, p, a) in psubjects.items():
            if (sid, OUTCOME) in done:
                continue
            outcome = self.score_outcome(s, p, self.hold_for(a), now)
            if outcome is not None:
                scores.append(outcome)
        return self.store.scores.add(scores)


def score_due(settings: Settings, store: Store, now: datetime) -> int:
    """Score every decision whose horizon has passed by ``now``; returns how many scores were added."""
    added = Scorer(settings, store).run(now)
    if added:
        log.info("scorecard: %d new score(s)", added, extra={"event": "scorecard.scored"})
    return added
