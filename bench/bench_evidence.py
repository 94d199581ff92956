"""The evidence a cycle gathers before its gates: calibration maps and edge records from every score.

Two years of a busy engine's scores (8 pairs every 4 h, each analysis at 1 h, 4 h and 24 h, plus every
exchange flow per asset and window at three horizons: about 300,000 rows) in a scratch database; then
``Evidence.gather`` and eight ``judge`` calls (one per pair), as the proposal step and each live
approval run them. Target: under 1 s, so neither the cycle nor an operator's approval waits on it.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from provenance import stamped  # bench/ is on the path when a bench runs

from smt_engine.config import Settings
from smt_engine.store import Store
from smt_engine.store.scores import Score
from smt_engine.trading.evidence import Evidence

TARGET_S = 1.0
DAYS = 730
PAIRS = ("ETH", "BTC", "SOL", "DOGE", "XRP", "ADA", "BNB", "LTC")
HORIZONS = ("1h", "4h", "24h")
FLOWS = [(a, w) for a in ("ETH", "WETH", "stETH", "USDT", "USDC") for w in (1, 6, 24)]
RUNS = 5


def fill(store: Store) -> int:
    rng = random.Random(7)
    start = datetime(2024, 12, 1, tzinfo=UTC)
    batch: list[Score] = []
    n = 0
    sid = 0
    for cycle in range(DAYS * 6):
        at = start + timedelta(hours=4 * cycle)
        subjects = [("analysis", p, "heuristic" if cycle % 2 else "gemini", "m") for p in PAIRS]
        subjects += [("flow", "ETH", "flow", f"{a} {w}h") for a, w in FLOWS]
        for subject, pair, analyst, model in subjects:
            sid += 1
            ret = rng.gauss(-0.1, 1.0)
            for horizon in HORIZONS:
                batch.append(
                    Score(
                        subject=subject,
                        subject_id=sid,
                        horizon=horizon,
                        pair=pair,
                        tier="1",
                        analyst=analyst,
                        model=model,
                        direction="LONG",
                        confidence=round(rng.uniform(0.5, 0.9), 2),
                        signal_agrees="none",
                        decided_at=at,
                        due_at=at + timedelta(hours=4),
                        ref_price=Decimal(100),
                        exit_price=Decimal(101),
                        move_pct=ret + 0.16,
                        return_pct=ret,
                        hit=ret > 0,
                        scored_at=at + timedelta(hours=24),
                    )
                )
        if len(batch) >= 20_000:
            n += store.scores.add(batch)
            batch = []
    return n + store.scores.add(batch)


def main() -> None:
    settings = Settings.model_validate({"engine": {"mode": "live"}})
    with tempfile.TemporaryDirectory(prefix="smt-bench-evidence-") as tmp:
        store = Store.open(Path(tmp) / "bench.db")
        try:
            rows = fill(store)
            now = datetime(2027, 1, 1, tzinfo=UTC)
            samples = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                evidence = Evidence.gather(store, settings, now)
                for pair in PAIRS:
                    evidence.judge(settings, "heuristic", pair, 0.8)
                samples.append(time.perf_counter() - t0)
        finally:
            store.close()
    median = statistics.median(samples)
    result = {
        "name": "evidence",
        "scores": rows,
        "days": DAYS,
        "runs": RUNS,
        "median_s": round(median, 4),
        "max_s": round(max(samples), 4),
        "target_s": TARGET_S,
        "pass": max(samples) < TARGET_S,
    }
    print(f"evidence gathered from {rows:,} scores ({DAYS} days, 8 pairs, flows), {RUNS} runs")
    print(f"{'step':<32}{'median s':>10}{'max s':>10}")
    print(f"{'gather + judge 8 pairs':<32}{median:>10.4f}{max(samples):>10.4f}")
    print(f"target < {TARGET_S} s: {'PASS' if result['pass'] else 'FAIL'}")
    out = Path(__file__).parent / "results" / "evidence.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(stamped(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
