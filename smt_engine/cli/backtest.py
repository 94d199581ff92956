"""`smt backtest`: the deterministic decision sources walked forward over stored market history.

Reads market history (``smt data fetch`` / ``smt data import``) and any stored flow and whale history,
scores every decision the way the scorecard does, trades each source through the risk engine and the
paper venue, and stores the records per source, pair and horizon. No exchange is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smt_engine.cli.context import Context, VerbError

Sub = Any


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "backtest",
        parents=[common],
        help="walk the heuristic, flow and whale signals forward over stored history, with baselines",
        description="A decision every engine.signal_interval from the bars closed before it, the "
        "heuristic analyst's market part, the flow and whale signals where their history is stored, the "
        "risk gates and sizing, TP/SL and max hold, fees on both sides, fills on the paper venue's "
        "matching. Scored like the scorecard (hit rate, after-fee return, Brier, calibration) per source, "
        "pair and horizon, beside the baselines always long, always short, random (seeded) and no trade. "
        "Where hourly flows are stored (smt whales backfill), each flow asset and window is scored on its "
        "own (flow USDT 1h, ...; scored, not traded). "
        "The records are stored. A grounded LLM cannot be backtested: it has read the future (see "
        "docs/evidence.md).",
    )
    p.add_argument(
        "--pairs", metavar="LIST", help="comma-separated bases, e.g. ETH,BTC (default: all configured)"
    )
    p.add_argument("--from", dest="start", metavar="DATE", help="first day of history to use (UTC)")
    p.add_argument("--to", dest="end", metavar="DATE", help="use history before this day (UTC)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random baseline (default 0)")
    p.add_argument(
        "--min-decisions",
        type=int,
        default=100,
        help="directional decisions a record needs before the edge criterion may pass (default 100)",
    )
    p.add_argument("--chart", action="store_true", help="also draw the equity curves")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.add_argument("--db", metavar="PATH", help="database file (default: engine.database from the config)")
    p.set_defaults(handler=cmd_backtest)


def parse_day(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise VerbError(f"{flag} {text!r}: expected a date like 2024-01-31 or 2024-01-31T12:00") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def cmd_backtest(ctx: Context) -> int:
    from smt_engine.backtest import BacktestRequest, NoData, run_backtest
    from smt_engine.backtest.report import chart, render

    settings = ctx.settings()
    store = ctx.store(path=Path(ctx.args.db) if ctx.args.db else None)
    pairs = [p.strip() for p in ctx.args.pairs.split(",") if p.strip()] if ctx.args.pairs else None
    if ctx.args.min_decisions < 2:
        raise VerbError(f"--min-decisions {ctx.args.min_decisions}: must be at least 2")
    request = BacktestRequest(
        pairs=pairs,
        start=parse_day(ctx.args.start, "--from"),
        end=parse_day(ctx.args.end, "--to"),
        seed=ctx.args.seed,
        min_decisions=ctx.args.min_decisions,
    )
    try:
        report = asyncio.run(run_backtest(settings, store, request, datetime.now(UTC)))
    except NoData as exc:
        raise VerbError(str(exc)) from None
    if ctx.args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(render(report))
    if ctx.args.chart:
        print()
        print(chart(report, color=sys.stdout.isatty()))
    return 0
