"""Backtest speed: two years of 1 h bars for the eight pairs, every source and baseline, under 60 s.

The history is synthetic (``tests/fakes/candle_history.random_walk``: fat-tailed hourly returns with
volatility clustering, seeded, at each pair's price level and WEEX tick). Stored in a fresh database,
then ``run_backtest`` walks it forward exactly as ``smt backtest`` does: decisions every 4 h for the
heuristic's market part and the four baselines, scoring at every horizon, and one paper-venue trading
run per source. Prints a table and writes JSON (``bench/results/backtest.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from provenance import stamped  # bench/ is on the path when a bench runs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from smt_engine.backtest import BacktestRequest, run_backtest
from smt_engine.config import Settings
from smt_engine.store import Store
from tests.fakes.candle_history import random_walk

START = datetime(2024, 1, 1, tzinfo=UTC)
TARGET_S = 60.0


def _cpu() -> float:
    """CPU seconds of this process and its finished workers (the backtest forks one per core)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "backtest.json")
    args = parser.parse_args()
    settings = Settings()
    pairs = settings.pairs.all()
    hours = args.days * 24
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "smt.db")
        t0 = time.perf_counter()
        bars = {p.symbol: random_walk(p.symbol, START, hours, args.seed) for p in pairs}
        t1 = time.perf_counter()
        with store.transaction():
            for symbol, series in bars.items():
                store.market_history.write(symbol, "1h", series, "synthetic", START)
        t2 = time.perf_counter()
        cpu = _cpu()
        report = asyncio.run(
            run_backtest(settings, store, BacktestRequest(seed=args.seed), datetime(2026, 1, 1, tzinfo=UTC))
        )
        t3 = time.perf_counter()
        cpu = _cpu() - cpu
        load = os.getloadavg()[0]
        store.close()
    rows = [
        ("generate synthetic bars", t1 - t0),
        ("store them (one transaction)", t2 - t1),
        ("backtest (load, decide, score, trade every source)", t3 - t2),
    ]
    total_bars = sum(len(b) for b in bars.values())
    calls = report["data"]["decision_times"] * len(pairs)
    print(
        f"Backtest: {args.days} days of 1 h bars, {len(pairs)} pairs ({total_bars:,} bars), "
        f"{calls:,} decisions/source"
    )
    for name, seconds in rows:
        print(f"  {name:<52} {seconds:>8.2f} s")
    print(
        f"  {'  CPU time, this process and its workers':<52} {cpu:>8.2f} s  "
        f"(load average {load:.1f}, {os.cpu_count()} cores)"
    )
    verdict = "PASS" if t3 - t2 < TARGET_S else "FAIL"
    print(f"  target: backtest under {TARGET_S:.0f} s wall -> {verdict}")
    print()
    print(
        f"  {'source':<13} {'outcome mean %':>14} {'95% (overlap)':>18} {'equity %':>9} "
        f"{'max DD %':>9} {'trades':>7}"
    )
    for name, src in report["sources"].items():
        fig = src["figures"].get("ALL", {}).get("outcome", {})
        ci = fig.get("avg_return_ci_overlap")
        mean = fig.get("avg_return_pct")
        port = src["portfolio"]
        print(
            f"  {name:<13} {mean if mean is not None else float('nan'):>14.3f} "
            f"{str(ci) if ci else 'n/a':>18} {port['return_pct']:>9.2f} {port['max_drawdown_pct']:>9.2f} "
            f"{port['entries']:>7}"
        )
    result = {
        "bench": "backtest",
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "days": args.days,
        "pairs": len(pairs),
        "bars": total_bars,
        "decisions_per_source": calls,
        "sources": sorted(report["sources"]),
        "seconds": {name: round(s, 3) for name, s in rows},
        "backtest_cpu_seconds": round(cpu, 3),
        "load_average_1min": round(load, 2),
        "target_s": TARGET_S,
        "pass": t3 - t2 < TARGET_S,
        "edge": report["edge"],
        "outcome_all_pairs": {
            name: {
                "mean": src["figures"].get("ALL", {}).get("outcome", {}).get("avg_return_pct"),
                "ci_overlap": src["figures"].get("ALL", {}).get("outcome", {}).get("avg_return_ci_overlap"),
                "return_pct": src["portfolio"]["return_pct"],
                "max_drawdown_pct": src["portfolio"]["max_drawdown_pct"],
                "entries": src["portfolio"]["entries"],
            }
            for name, src in report["sources"].items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(stamped(result), indent=2, default=str) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
