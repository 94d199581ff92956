"""`smt data fetch | import | status`: market history for backtests, from WEEX or from files.

History goes to its own table (``market_history``), never among the bars the engine saw. Every series
is checked (gaps, duplicates, rows going backwards, non-finite or inconsistent prices, bars of another
interval) and the findings are printed; a file is written in one transaction or not at all.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smt_engine.cli.context import Context, VerbError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from smt_engine.domain import Candle
    from smt_engine.store import Store

Sub = Any


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "data",
        parents=[common],
        help="market history for backtests: fetch from WEEX, import CSV files, show what is stored",
        description="Closed candles for `smt backtest`, kept apart from the prices the engine saw.",
    )
    verbs = p.add_subparsers(dest="data_verb", metavar="VERB", required=True)

    f = verbs.add_parser(
        "fetch",
        parents=[common],
        help="read closed candles from WEEX's public history klines (resumable)",
        description="Reads closed candles of the pairs from WEEX's public history klines endpoint, 100 per "
        "request under half the configured weight budget (exchange.rate_limit_weight), with a progress bar "
        "and ETA. Each page is checked and stored on its own, so an interrupted fetch resumes after the "
        "last stored bar when run again. No API key is needed.",
    )
    f.add_argument("--pairs", metavar="LIST", help="comma-separated bases (default: all configured pairs)")
    f.add_argument(
        "--from", dest="start", metavar="DATE", required=True, help="first day (UTC), e.g. 2024-01-01"
    )
    f.add_argument(
        "--to", dest="end", metavar="DATE", help="fetch bars opening before this day (default: now)"
    )
    f.add_argument("--interval", default="1h", help="comma-separated intervals, e.g. 1h,5m (default 1h)")
    f.add_argument("--db", metavar="PATH", help="database file (default: engine.database from the config)")
    f.set_defaults(handler=cmd_fetch)

    i = verbs.add_parser(
        "import",
        parents=[common],
        help="read Binance public-data kline CSVs or plain OHLCV CSVs",
        description="Reads Binance public-data kline CSVs (data.binance.vision: 12 columns, ms or us "
        "timestamps, header or not; symbol and interval are taken from names like ETHUSDT-1h-2024-01.csv) "
        "or plain CSVs of time, open, high, low, close[, volume] (UTC; ISO time or epoch s/ms/us; header or "
        "not). All files are checked first; if any is refused nothing is stored, else all are stored in one "
        "transaction. Bars already stored at the same times are replaced; the output counts those whose "
        "values differed.",
    )
    i.add_argument("files", nargs="+", type=Path, metavar="FILE")
    i.add_argument("--symbol", help="WEEX symbol, e.g. ETHUSDT (default: from a Binance file name)")
    i.add_argument("--interval", help="bar interval, e.g. 1h (default: from a Binance file name)")
    i.add_argument("--db", metavar="PATH", help="database file (default: engine.database from the config)")
    i.set_defaults(handler=cmd_import)

    s = verbs.add_parser("status", parents=[common], help="what history is stored, per symbol and interval")
    s.add_argument("--db", metavar="PATH", help="database file (default: engine.database from the config)")
    s.set_defaults(handler=cmd_status)


def _day(text: str | None, flag: str) -> datetime | None:
    from smt_engine.cli.backtest import parse_day

    return parse_day(text, flag)


def _symbols(ctx: Context) -> list[str]:
    settings = ctx.settings()
    if not ctx.args.pairs:
        return [p.symbol for p in settings.pairs.all()]
    out = []
    for base in (b.strip().upper() for b in ctx.args.pairs.split(",") if b.strip()):
        pair = settings.pairs.by_base(base)
        if pair is None:
            raise VerbError(f"--pairs: {base} is not a configured pair (pairs.tier1 / pairs.tier2)")
        out.append(pair.symbol)
    return out


def cmd_fetch(ctx: Context) -> int:
    from smt_engine.clock import WallClock
    from smt_engine.exchange.base import ExchangeError
    from smt_engine.exchange.market import interval_seconds
    from smt_engine.exchange.weex.limiter import WeightLimiter
    from smt_engine.history.fetch import HistoryFetcher, progress_line, run_fetch

    settings = ctx.settings()
    intervals = [x.strip() for x in ctx.args.interval.split(",") if x.strip()]
    for interval in intervals:
        try:
            interval_seconds(interval)
        except ValueError as exc:
            raise VerbError(f"--interval: {exc}") from None
    now = datetime.now(UTC)
    start = _day(ctx.args.start, "--from")
    end = _day(ctx.args.end, "--to") or now
    assert start is not None
    if end <= start:
        raise VerbError(f"--to {end:%Y-%m-%d} must be after --from {start:%Y-%m-%d}")
    store = ctx.store(path=Path(ctx.args.db) if ctx.args.db else None)
    clock = WallClock()
    limiter = WeightLimiter(max(5, settings.exchange.rate_limit_weight // 2))
    fetcher = HistoryFetcher(
        settings.exchange.base_url, store, clock, limiter, timeout=settings.exchange.timeout.total_seconds()
    )
    symbols = _symbols(ctx)
    tty = sys.stderr.isatty()
    shown = [-1]

    def show(p: Any) -> None:
        step = p.done * 10 // max(p.total, 1)
        if tty:
            print("\r" + progress_line(p), end="", file=sys.stderr, flush=True)
        elif step != shown[0]:
            shown[0] = step
            print(progress_line(p), file=sys.stderr, flush=True)

    try:
        reports = asyncio.run(run_fetch(fetcher, symbols, intervals, start, end, on_progress=show))
    except ExchangeError as exc:
        if tty:
            print(file=sys.stderr)
        raise VerbError(
            f"fetch stopped: {exc}; every page stored so far is kept, run again to resume"
        ) from None
    if tty:
        print(file=sys.stderr)
    for r in reports:
        resumed = f", resumed at {r.resumed_from:%Y-%m-%d %H:%M}" if r.resumed_from else ""
        print(f"{r.symbol} {r.interval}: {r.stored} bar(s) stored in {r.requests} request(s){resumed}")
        _print_gaps(r.gaps, timedelta(seconds=interval_seconds(r.interval)))
    return 0


def _print_gaps(gaps: list[tuple[datetime, datetime]], length: timedelta) -> None:
    if not gaps:
        print("  no gaps")
        return
    missing = sum(int((b - a) / length) for a, b in gaps)
    print(f"  {len(gaps)} gap(s), {missing} bar(s) missing:")
    for a, b in gaps[:10]:
        print(f"    {a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M} UTC")
    if len(gaps) > 10:
        print(f"    ... and {len(gaps) - 10} more")


def cmd_import(ctx: Context) -> int:
    from smt_engine.exchange.market import interval_seconds
    from smt_engine.history.importer import ImportError_, read_file
    from smt_engine.history.validate import validate

    checked = []
    refused = False
    for path in ctx.args.files:
        try:
            read = read_file(path)
        except ImportError_ as exc:
            raise VerbError(f"{exc}; nothing was stored") from None
        symbol = (ctx.args.symbol or read.symbol or "").upper()
        interval = ctx.args.interval or read.interval
        if not symbol or not interval:
            raise VerbError(
                f"{path}: give --symbol and --interval (the name is not a Binance file name like "
                "ETHUSDT-1h-2024-01.csv); nothing was stored"
            )
        if read.interval and ctx.args.interval and read.interval != ctx.args.interval:
            raise VerbError(f"{path}: the name says {read.interval}, --interval says {ctx.args.interval}")
        try:
            length = timedelta(seconds=interval_seconds(interval))
        except ValueError as exc:
            raise VerbError(f"--interval: {exc}") from None
        v = validate(read.bars, length)
        head = "with a header" if read.header else "no header"
        print(f"{path}: {read.kind} ({head}), {len(read.bars)} row(s), {symbol} {interval}")
        for line in v.summary() or ["no problems found"]:
            print(f"  {line}")
        refused |= not v.ok
        checked.append((symbol, interval, v))
    if refused:
        raise VerbError("refused: fix the file(s) above; nothing was stored")
    store = ctx.store(path=Path(ctx.args.db) if ctx.args.db else None)
    now = datetime.now(UTC)
    for s, i, v in checked:
        _report_replaced(store, s, i, v.bars)
    with store.transaction():
        total = sum(store.market_history.write(s, i, v.bars, "import", now) for s, i, v in checked)
    print(f"stored {total} bar(s)")
    return 0


def _report_replaced(store: Store, symbol: str, interval: str, bars: Sequence[Candle]) -> None:
    """An import rewrites stored bars of the same times; say so when their values differ (another source)."""
    if not bars:
        return
    end = bars[-1].open_time + timedelta(seconds=1)
    stored = {b.open_time: b for b in store.market_history.bars(symbol, interval, bars[0].open_time, end)}
    changed = [b.open_time for b in bars if (old := stored.get(b.open_time)) is not None and old != b]
    if changed:
        print(
            f"{symbol} {interval}: {len(changed)} stored bar(s) had other values and are replaced by "
            f"this import (first {changed[0]:%Y-%m-%d %H:%M} UTC)"
        )


def cmd_status(ctx: Context) -> int:
    store = ctx.store(readonly=True, path=Path(ctx.args.db) if ctx.args.db else None)
    spans = store.market_history.spans()
    if not spans:
        print("no market history stored: run `smt data fetch` or `smt data import FILE`")
        return 0
    for s in spans:
        print(
            f"{s.symbol:<10} {s.interval:>4} {s.bars:>8} bar(s) {s.first:%Y-%m-%d %H:%M} to "
            f"{s.last:%Y-%m-%d %H:%M} UTC  ({', '.join(s.sources)})"
        )
    return 0
