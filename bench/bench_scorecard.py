"""Scorecard cost on a 30-day database: 8 pairs, a cycle every 4 h, 5-minute bars (no target in the issue;
the per-cycle step should stay small next to the cycle's own CPU time in docs/benchmarks.md)."""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from provenance import stamped  # bench/ is on the path when a bench runs

from smt_engine.config import Settings
from smt_engine.domain import Action, AnalystKind, ProposalState, Side
from smt_engine.scorecard.recording import publish_report
from smt_engine.scorecard.scoring import Scorer
from smt_engine.store import Store
from smt_engine.store.prices import PricePoint, StoredCandle
from smt_engine.store.records import Analysis, Proposal

DAYS = 30
START = datetime(2026, 10, 1, tzinfo=UTC)
FIVE = timedelta(minutes=5)
STEADY_RUNS = 20


def fill(store: Store, settings: Settings) -> dict[str, int]:
    pairs = settings.pairs.all()
    bars = 0
    with store.transaction():
        for k, pair in enumerate(pairs):
            candles = []
            for i in range(DAYS * 288 + 288):
                t = START + i * FIVE
                o = 100 * (1 + 0.02 * math.sin((i + k * 37) / 50))
                c = 100 * (1 + 0.02 * math.sin((i + 1 + k * 37) / 50))
                d = Decimal(f"{o:.4f}"), Decimal(f"{c:.4f}")
                candles.append(
                    StoredCandle(
                        symbol=pair.symbol,
                        interval="5m",
                        open_time=t,
                        close_time=t + FIVE,
                        open=d[0],
                        high=max(d),
                        low=min(d),
                        close=d[1],
                        volume=Decimal(1),
                        seen_at=t + FIVE,
                    )
                )
            bars += store.candles.record_closed(candles)
    analyses = proposals = 0
    for cycle in range(DAYS * 6):
        at = START + timedelta(hours=4 * cycle, seconds=1)
        with store.transaction():
            for j, pair in enumerate(pairs):
                store.prices.insert(PricePoint(symbol=pair.symbol, at=at, price=Decimal(100)))
                action = (Action.LONG, Action.SHORT, Action.WAIT)[(cycle + j) % 3]
                a = store.analyses.insert(
                    Analysis(
                        cycle_id=None,
                        pair=pair.base,
                        analyst=AnalystKind.GEMINI,
                        model="gemini-3.5-flash",
                        created_at=at,
                        action=action,
                        confidence=0.5 + 0.05 * (j % 8),
                        decision={"decision": action.value, "hold_time_hours": 12},
                    )
                )
                analyses += 1
                if action is not Action.WAIT:
                    store.proposals.insert(
                        Proposal(
                            pair=pair.base,
                            symbol=pair.symbol,
                            side=Side(action.value),
                            confidence=0.7,
                            margin=Decimal(50),
                            notional=Decimal(1000),
                            leverage=20,
                            size=Decimal(1),
                            entry_ref=Decimal(100),
                            tp_price=Decimal(103) if action is Action.LONG else Decimal(97),
                            sl_price=Decimal("98.5") if action is Action.LONG else Decimal("101.5"),
                            tp_pct=Decimal(3),
                            sl_pct=Decimal("1.5"),
                            state=ProposalState.DENIED,
                            created_at=at,
                            analysis_id=a.id,
                        )
                    )
                    proposals += 1
    return {"bars": bars, "analyses": analyses, "proposals": proposals}


def main() -> None:
    settings = Settings()
    now = START + timedelta(days=DAYS, hours=1)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "bench.db")
        sizes = fill(store, settings)
        scorer = Scorer(settings, store)
        t0 = time.perf_counter()
        added = scorer.run(now)
        catch_up_ms = (time.perf_counter() - t0) * 1000
        steady = []
        for i in range(STEADY_RUNS):
            t0 = time.perf_counter()
            scorer.run(now + timedelta(seconds=i))
            steady.append((time.perf_counter() - t0) * 1000)
        reports = []
        for i in range(5):
            t0 = time.perf_counter()
            publish_report(store, now + timedelta(seconds=i))
            reports.append((time.perf_counter() - t0) * 1000)
        store.close()
    rows = [
        {"step": "catch-up: score 30 days at once", "ms": round(catch_up_ms, 1)},
        {"step": "per cycle: nothing new due (median)", "ms": round(statistics.median(steady), 1)},
        {
            "step": "per cycle: build and store the report (median)",
            "ms": round(statistics.median(reports), 1),
        },
    ]
    result = {"name": "scorecard", **sizes, "scores": added, "rows": rows}
    print(
        f"scorecard on {sizes['analyses']} analyses, {sizes['proposals']} proposals, {sizes['bars']} bars; "
        f"{added} scores"
    )
    for r in rows:
        print(f"  {r['step']:<50} {r['ms']:>9.1f} ms")
    out = Path(__file__).parent / "results" / "scorecard.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(stamped(result), indent=2) + "\n")


if __name__ == "__main__":
    main()
