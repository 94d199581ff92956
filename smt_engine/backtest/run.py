"""One backtest run: load stored history, walk forward, score every call, trade every source, record.

The competition window is ignored (history lies outside it; the phase is continuous) and approval is
``auto``: every proposal that passes the gates is taken, as it would be unattended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from smt_engine.backtest.decisions import Call, decision_times, walk
from smt_engine.backtest.flow_hours import FlowHours, is_flow_asset_source
from smt_engine.backtest.market import HistoryClock, HistoryMarket, Series, finer_path
from smt_engine.backtest.metrics import ALL, RECORD_HORIZON, passes_edge, records, table
from smt_engine.backtest.onchain import OnchainHistory
from smt_engine.backtest.parallel import drive, in_parallel
from smt_engine.backtest.portfolio import Portfolio, simulate
from smt_engine.backtest.scoring import FloatSeries, score_all
from smt_engine.backtest.sources import BASELINES, DETERMINISTIC
from smt_engine.config import Settings
from smt_engine.domain import Pair
from smt_engine.exchange.market import interval_seconds
from smt_engine.pipeline import CANDLE_COUNT, CANDLE_INTERVAL
from smt_engine.store import Store

PATH_INTERVAL = "5m"
"""Finer bars the paper venue walks for TP/SL where they are stored (decisions read 1 h bars)."""
EQUITY_POINTS = 400
"""Equity curve points kept in the report (evenly spaced); the run marks every decision time and hold end."""


class NoData(ValueError):
    """Nothing stored to backtest on: the message says which command fills the store."""


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    pairs: Sequence[str] | None = None
    """Bases (ETH, BTC...); default: every configured pair with stored history."""
    start: datetime | None = None
    end: datetime | None = None
    seed: int = 0
    min_decisions: int = 100
    """Directional decisions before the edge criterion may pass (``risk.edge_min_decisions``)."""


def backtest_settings(settings: Settings) -> Settings:
    competition = settings.competition.model_copy(update={"start": None, "end": None})
    return settings.model_copy(update={"competition": competition})


def load_series(
    store: Store, pairs: Sequence[Pair], start: datetime | None, end: datetime | None
) -> dict[str, Series]:
    length = timedelta(seconds=interval_seconds(CANDLE_INTERVAL))
    out = {}
    for pair in pairs:
        bars = store.market_history.bars(pair.symbol, CANDLE_INTERVAL, start, end)
        if bars:
            out[pair.symbol] = Series.of(bars, length)
    return out


def load_paths(
    store: Store, series: dict[str, Series], start: datetime | None, end: datetime | None
) -> tuple[dict[str, Series], dict[str, int]]:
    """The venue's price path per symbol where 5-minute history is stored, and how many hours it covers."""
    length = timedelta(seconds=interval_seconds(PATH_INTERVAL))
    paths, covered = {}, {}
    for symbol, hours in series.items():
        fine = store.market_history.bars(symbol, PATH_INTERVAL, start, end)
        if not fine:
            continue
        path, replaced = finer_path(hours, fine, length)
        if replaced:
            paths[symbol], covered[symbol] = path, replaced
    return paths, covered


async def run_backtest(
    settings: Settings, store: Store, request: BacktestRequest, now: datetime
) -> dict[str, Any]:
    """The whole report (JSON-ready); its records are stored as one run."""
    settings = backtest_settings(settings)
    configured = settings.pairs.all()
    wanted = {b.upper() for b in request.pairs} if request.pairs else None
    pairs = [p for p in configured if wanted is None or p.base in wanted]
    if wanted and len(pairs) < len(wanted):
        missing = sorted(wanted - {p.base for p in pairs})
        raise NoData(f"pair(s) {', '.join(missing)} are not configured (pairs.tier1 / pairs.tier2)")
    series = load_series(store, pairs, request.start, request.end)
    if not series:
        raise NoData(
            f"no stored {CANDLE_INTERVAL} history for {', '.join(p.base for p in pairs)}"
            + " in the requested span: run `smt data fetch` or `smt data import FILE` first"
        )
    pairs = [p for p in pairs if p.symbol in series]
    paths, covered = load_paths(store, series, request.start, request.end)
    first = min(s.bars[0].open_time for s in series.values())
    last = max(s.closes[-1] for s in series.values())
    warm = first + timedelta(hours=CANDLE_COUNT)
    times = decision_times(warm, last, settings.engine.signal_interval)
    if not times:
        raise NoData(
            f"the stored history ({first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}) is shorter than the "
            f"{CANDLE_COUNT} bars one decision needs plus one signal interval"
        )
    onchain = OnchainHistory(settings, store, first, last)
    # The walk runs here: sending tens of thousands of decisions back from workers costs more CPU than
    # the walk saves by running on two cores (docs/benchmarks.md); the sources are traded in parallel.
    hourly = FlowHours(store, first, last)
    result = walk(
        settings,
        HistoryMarket(series, HistoryClock(first)),
        onchain,
        pairs,
        times,
        request.seed,
        hourly if hourly.present else None,
    )
    walked = [
        f"{p.base} {covered[p.symbol]} of {len(series[p.symbol].bars)} h"
        for p in pairs
        if p.symbol in covered
    ]
    result.notes.append(
        f"TP/SL walked on {PATH_INTERVAL} bars where stored ({', '.join(walked)}), on 1 h bars elsewhere "
        "(a 1 h bar touching both counts as the stop)"
        if walked
        else f"no {PATH_INTERVAL} history: TP/SL are walked on 1 h bars (a bar touching both counts as "
        "the stop)"
    )
    fee_pct = float(settings.exchange.taker_fee_pct) * 2
    floats = {symbol: FloatSeries(s) for symbol, s in series.items()}
    names = list(result.calls)
    # Each source is scored and traded on its own: one job per source.
    done = in_parallel(
        [
            partial(
                _source, settings, series, paths, floats, fee_pct, result.calls[name], name, times[0], last
            )
            for name in names
        ]
    )
    figs: dict[tuple[str, str, str], dict[str, Any]] = {}
    for source_figs, _ in done:
        figs.update(source_figs)
    figs = dict(sorted(figs.items()))
    portfolios = {name: p for name, (_, p) in zip(names, done, strict=True)}
    run_id = store.backtest_records.add_run(
        now,
        first,
        last,
        CANDLE_INTERVAL,
        _settings_used(settings, request),
        {"sources": sorted(result.calls), "pairs": [p.base for p in pairs], "decision_times": len(times)},
        records(figs, first, last),
    )
    return _report(
        run_id, settings, request, pairs, series, first, last, times, result.notes, figs, portfolios
    )


def _source(
    settings: Settings,
    series: dict[str, Series],
    paths: dict[str, Series],
    floats: dict[str, FloatSeries],
    fee_pct: float,
    calls: list[Call],
    name: str,
    start: datetime,
    end: datetime,
) -> tuple[dict[tuple[str, str, str], dict[str, Any]], Portfolio | None]:
    """One source's figures per pair and horizon, and its trading (none for a flow asset's window)."""
    figs = table(score_all(calls, floats, fee_pct))
    if is_flow_asset_source(name):
        return figs, None
    return figs, drive(simulate(settings, series, name, calls, start, end, paths))


def _settings_used(settings: Settings, request: BacktestRequest) -> dict[str, Any]:
    return {
        "signal_interval_hours": settings.engine.signal_interval.total_seconds() / 3600,
        "taker_fee_pct": str(settings.exchange.taker_fee_pct),
        "slippage_pct": str(settings.exchange.paper_slippage_pct),
        "balance": str(settings.exchange.paper_balance),
        "leverage": settings.risk.leverage,
        "min_confidence": str(settings.risk.min_confidence),
        "max_entries_per_cycle": settings.trading.max_entries_per_cycle,
        "max_hold_hours": settings.risk.max_hold.total_seconds() / 3600,
        "seed": request.seed,
        "min_decisions": request.min_decisions,
    }


def _report(
    run_id: int,
    settings: Settings,
    request: BacktestRequest,
    pairs: list[Pair],
    series: dict[str, Series],
    first: datetime,
    last: datetime,
    times: list[datetime],
    notes: list[str],
    figs: dict[tuple[str, str, str], dict[str, Any]],
    portfolios: dict[str, Portfolio | None],
) -> dict[str, Any]:
    sources: dict[str, Any] = {}
    for name, p in portfolios.items():
        flow_asset = is_flow_asset_source(name)
        sources[name] = {
            "kind": "baseline" if name in BASELINES else "flow" if flow_asset else "signal",
            "deterministic": name in DETERMINISTIC or flow_asset,
            "figures": {},
            "portfolio": None,
        }
        if p is None:
            continue
        step = max(1, len(p.equity) // EQUITY_POINTS)
        sources[name]["portfolio"] = {
            "final_equity": round(p.final_equity, 2),
            "return_pct": round(p.return_pct, 2),
            "max_drawdown_pct": round(p.max_drawdown_pct, 2),
            "turnover": round(p.turnover, 2),
            "fees": str(p.fees.quantize(Decimal("0.01"))),
            "entries": p.entries,
            "exits": dict(sorted(p.exits.items())),
            "denied": dict(sorted(p.denied.items())),
            "halts": p.halts[:20],
            "equity": [[t.isoformat(), round(e, 2)] for t, e in p.equity[::step]],
        }
    for (source, pair, horizon), fig in figs.items():
        sources[source]["figures"].setdefault(pair, {})[horizon] = fig
    edge = [
        {
            "source": s,
            "pair": pair,
            "horizon": h,
            "mean": f["avg_return_pct"],
            "ci": f["avg_return_ci_overlap"],
        }
        for (s, pair, h), f in figs.items()
        if h == RECORD_HORIZON and pair != ALL and passes_edge(f, request.min_decisions)
    ]
    return {
        "run_id": run_id,
        "data": {
            "interval": CANDLE_INTERVAL,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "pairs": {p.base: len(series[p.symbol].bars) for p in pairs},
            "decision_times": len(times),
        },
        "settings": _settings_used(settings, request),
        "notes": notes,
        "sources": sources,
        "edge": edge,
    }
