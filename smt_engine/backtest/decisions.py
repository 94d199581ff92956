"""Walk forward over stored history: every source's decision at every decision time, from the past only.

A decision time is a multiple of ``engine.signal_interval`` since the epoch (UTC: 00:00, 04:00, ...,
so every decision sees whole closed bars). At ``t`` each pair's context is built by ``build_context``
from the 48 one-hour bars that had closed by ``t`` (``pipeline.CANDLE_COUNT``), priced at the last of
them, with the flow and whale signals recorded by ``t``. A decision depends on nothing later: changing
any bar after ``t`` changes no decision made at or before ``t``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from smt_engine.analyst.context import build_context
from smt_engine.backtest.flow_hours import FlowHours, bases_for, source_name
from smt_engine.backtest.market import HistoryMarket, NoHistory
from smt_engine.backtest.onchain import OnchainHistory
from smt_engine.backtest.sources import (
    ALWAYS_LONG,
    ALWAYS_SHORT,
    COMBINED,
    FLOW,
    HEURISTIC,
    NO_TRADE,
    RANDOM,
    WHALE,
    FixedCalls,
    combined,
    flow_call,
    market_part,
    random_baseline,
    signal_call,
)
from smt_engine.config import Settings
from smt_engine.domain import Action, Decision, Pair
from smt_engine.exchange.market import EPOCH
from smt_engine.pipeline import CANDLE_COUNT


@dataclass(frozen=True, slots=True)
class Call:
    """One source's decision on one pair at one moment, at the price it was made on."""

    source: str
    pair: Pair
    at: datetime
    price: Decimal
    decision: Decision

    @property
    def direction(self) -> str:
        return self.decision.action.value


def decision_times(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Multiples of ``step`` since the epoch in ``[start, end]``."""
    seconds = int(step.total_seconds())
    first = int((start - EPOCH).total_seconds())
    first += (-first) % seconds
    out = []
    at = EPOCH + timedelta(seconds=first)
    while at <= end:
        out.append(at)
        at += step
    return out


@dataclass
class Walk:
    """Every source's calls, in time order, and what was not available."""

    calls: dict[str, list[Call]]
    times: list[datetime]
    notes: list[str]


def walk(
    settings: Settings,
    market: HistoryMarket,
    onchain: OnchainHistory | None,
    pairs: Sequence[Pair],
    times: Sequence[datetime],
    seed: int,
    flow_hours: FlowHours | None = None,
) -> Walk:
    """Decide at every time for every pair (a pair without a closed bar at ``t`` is skipped there)."""
    clock = market.clock
    fixed = FixedCalls()
    has_flows = onchain is not None and onchain.has_flows
    has_whales = onchain is not None and onchain.has_whales
    names = [HEURISTIC, ALWAYS_LONG, ALWAYS_SHORT, NO_TRADE]
    if has_flows:
        names.append(FLOW)
    if has_whales:
        names.append(WHALE)
    if has_flows or has_whales:
        names.append(COMBINED)
    hourly = [
        (source_name(a, w), a, w, bases_for(a))
        for a, w in (flow_hours.series() if flow_hours is not None else [])
    ]
    names += [name for name, _, _, _ in hourly]
    calls: dict[str, list[Call]] = {n: [] for n in names}
    balance = settings.competition.starting_balance
    min_conf = float(settings.risk.min_confidence)
    for at in times:
        clock.set(at)
        for pair in pairs:
            candles = (
                market.series[pair.symbol].last(at, CANDLE_COUNT) if pair.symbol in market.series else []
            )
            if len(candles) < CANDLE_COUNT:
                continue  # live, the exchange always answers with the full window
            try:
                price = market.last_bar(pair.symbol, at).close
            except NoHistory:
                continue
            flows = onchain.flow_signal(pair.base, at) if onchain is not None and has_flows else None
            whale = onchain.whale_signal(pair.base, at) if onchain is not None and has_whales else None
            ctx = build_context(
                settings,
                cycle_id=None,
                now=at,
                pair=pair,
                price=price,
                candles=candles,
                balance=balance,
                available=balance,
                equity=balance,
                whale_signal=whale,
                exchange_flows=flows,
            )

            def add(
                name: str, decision: Decision, p: Pair = pair, t: datetime = at, px: Decimal = price
            ) -> None:
                calls[name].append(Call(name, p, t, px, decision))

            add(HEURISTIC, market_part(ctx))
            add(ALWAYS_LONG, fixed.decide(Action.LONG, min_conf, ctx, "baseline: always long"))
            add(ALWAYS_SHORT, fixed.decide(Action.SHORT, min_conf, ctx, "baseline: always short"))
            add(NO_TRADE, fixed.decide(Action.WAIT, 0.0, ctx, "baseline: no trade"))
            if has_flows:
                add(
                    FLOW,
                    signal_call(
                        fixed, flows.bias if flows else None, flows.confidence if flows else 0.0, ctx, "flow"
                    ),
                )
            if has_whales:
                add(
                    WHALE,
                    signal_call(
                        fixed, whale.bias if whale else None, whale.confidence if whale else 0.0, ctx, "whale"
                    ),
                )
            if has_flows or has_whales:
                add(COMBINED, combined(ctx))
            for name, asset, hours, bases in hourly:
                if pair.base in bases:
                    assert flow_hours is not None
                    add(name, flow_call(fixed, flow_hours.window(asset, hours, at), ctx))
    calls[RANDOM] = _random_calls(calls[HEURISTIC], fixed, settings, seed, min_conf)
    notes = []
    if not has_flows:
        notes.append("no stored exchange-flow cycles in this span: the flow signal was not backtested")
    if hourly:
        notes.append(
            "flow assets and windows (flow_history) are scored on their own and not traded: they state "
            "the forward scoring's 0.5 confidence, not a trading confidence"
        )
    else:
        notes.append("no stored hourly flows (`smt whales backfill`): flow assets were not scored apart")
    if not has_whales:
        notes.append("no stored whale-signal history in this span: the whale signal was not backtested")
    notes.append("funding: no stored funding history, so funding payments are not charged")
    return Walk(calls, list(times), notes)


def _random_calls(
    heuristic: list[Call], fixed: FixedCalls, settings: Settings, seed: int, confidence: float
) -> list[Call]:
    """Random entries at the heuristic's frequency on each pair so far (no look-ahead), same hold."""
    by_pair: dict[str, list[Call]] = {}
    for c in heuristic:
        by_pair.setdefault(c.pair.base, []).append(c)
    out: list[Call] = []
    balance = settings.competition.starting_balance
    for base, group in by_pair.items():
        draw = random_baseline(seed, base)
        first = group[0]
        # Without a competition window the bounds and default TP/SL do not change over time.
        ctx = build_context(
            settings,
            cycle_id=None,
            now=first.at,
            pair=first.pair,
            price=first.price,
            candles=[],
            balance=balance,
            available=balance,
            equity=balance,
        )
        acting = 0
        for seen, c in enumerate(group, start=1):
            acting += c.decision.action is not Action.WAIT
            action = draw(acting / seen)
            out.append(
                Call(RANDOM, c.pair, c.at, c.price, fixed.decide(action, confidence, ctx, "baseline: random"))
            )
    out.sort(key=lambda c: c.at)
    return out
