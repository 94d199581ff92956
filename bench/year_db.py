"""A one-year database, built with the store's own repositories: what the engine writes at its defaults.

At ``scale=1.0`` (the figures of issue 24): 2.1 million account snapshots (one per 15 s monitor tick),
100,000 positions with their proposals, 300,000 orders (entry, take-profit, stop-loss) and 1 million
events, plus a signal cycle every 4 h (8 analyses, 10 whale signals and an aggregate, 8 prices, and
the scores of each decision). The last two positions are still open, as on a running engine.
Seeded: the same ``seed`` and ``scale`` give the same rows. ``scale`` shortens the simulated span (0.1:
36.5 days at the same density) for a quicker build on a loaded machine; the benchmarks print the scale
they ran at. Scale 0 is a fresh engine's file: one open position and one account snapshot.

Run: PYTHONPATH=. python bench/year_db.py OUT.db [--scale 0.1]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smt_engine.domain import (  # noqa: E402
    Action,
    AnalystKind,
    Bias,
    CloseReason,
    EngineState,
    EventLevel,
    Mode,
    OrderKind,
    OrderState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.store import Store  # noqa: E402
from smt_engine.store.prices import PricePoint  # noqa: E402
from smt_engine.store.records import (  # noqa: E402
    AccountSnapshot,
    Analysis,
    Cycle,
    EngineStatus,
    Event,
    Order,
    Position,
    Proposal,
    WhaleSignal,
)
from smt_engine.store.scores import Score  # noqa: E402

END = datetime(2026, 12, 1, tzinfo=UTC)
"""Where the simulated year ends (fixed, so a seed always gives the same file)."""
YEAR = timedelta(days=365)
SNAPSHOTS = 2_102_400
POSITIONS = 100_000
EVENTS_PER_POSITION = 10
CYCLE = timedelta(hours=4)
PAIRS = ("BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "BNB", "LTC")
BATCH = 20_000


def _chunks(rows: Iterator[object]) -> Iterator[list[object]]:
    batch: list[object] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _snapshots(rng: random.Random, start: datetime, span: timedelta, count: int) -> Iterator[AccountSnapshot]:
    step = span / count
    for i in range(count):
        # A year of small swings around the paper account's 1,000 USDT (its drawdown stays far from the
        # 25 % limit, so the engine measured on this file is not halted): a slow wave plus noise.
        equity = 1000.0 + 30.0 * math.sin(i / 5760) + rng.gauss(0, 2.0)
        value = Decimal(f"{equity:.4f}")
        yield AccountSnapshot(at=start + step * i, balance=value, equity=value, available=value * 2 / 3)


def _proposal_scores(proposal: Proposal, end: datetime) -> list[Score]:
    """What the scorecard recorded for a proposal decided a day or more before ``end``."""
    if proposal.created_at + timedelta(hours=24) > end or proposal.id is None:
        return []
    return [
        Score(
            subject="proposal",
            subject_id=proposal.id,
            horizon=horizon,
            pair=proposal.pair,
            tier="1",
            analyst="heuristic",
            model="heuristic",
            direction=proposal.side.value,
            confidence=proposal.confidence,
            signal_agrees="none",
            decided_at=proposal.created_at,
            due_at=proposal.created_at + timedelta(hours=hours),
            ref_price=proposal.entry_ref,
            exit_price=proposal.tp_price,
            move_pct=2.0,
            return_pct=1.84,
            hit=True,
            outcome="tp" if horizon == "outcome" else None,
            state=proposal.state.value,
            scored_at=proposal.created_at + timedelta(hours=hours),
        )
        for horizon, hours in (("1h", 1), ("4h", 4), ("24h", 24), ("outcome", 2))
    ]


def _position_rows(
    rng: random.Random, start: datetime, span: timedelta, count: int
) -> tuple[list[Proposal], list[Position], list[Order], list[Event]]:
    step = span / count
    proposals: list[Proposal] = []
    positions: list[Position] = []
    orders: list[Order] = []
    events: list[Event] = []
    reasons = (CloseReason.TAKE_PROFIT, CloseReason.STOP_LOSS, CloseReason.FORCED, CloseReason.MANUAL)
    for i in range(count):
        pid = i + 1
        opened = start + step * i
        pair = PAIRS[i % len(PAIRS)]
        symbol = f"{pair}USDT"
        side = Side.LONG if rng.random() < 0.5 else Side.SHORT
        entry = Decimal(f"{rng.uniform(10, 100):.2f}")
        size = Decimal("1.5")
        tp, sl = entry * Decimal("1.02"), entry * Decimal("0.99")
        is_open = i >= count - 2
        reason = rng.choice(reasons)
        closed = opened + step * rng.uniform(0.2, 0.9)
        proposals.append(
            Proposal(
                id=pid,
                pair=pair,
                symbol=symbol,
                side=side,
                confidence=0.7,
                margin=Decimal(10),
                notional=Decimal(100),
                leverage=10,
                size=size,
                entry_ref=entry,
                tp_price=tp,
                sl_price=sl,
                tp_pct=Decimal(2),
                sl_pct=Decimal(1),
                state=ProposalState.OPEN if is_open else ProposalState.CLOSED,
                created_at=opened - timedelta(seconds=30),
                decided_at=opened - timedelta(seconds=20),
                decided_by="auto",
                rationale="year database",
            )
        )
        positions.append(
            Position(
                id=pid,
                symbol=symbol,
                side=side,
                size=size,
                entry_price=entry,
                opened_at=opened,
                state=PositionState.OPEN if is_open else PositionState.CLOSED,
                leverage=10,
                updated_at=opened if is_open else closed,
                margin=Decimal(10),
                tp_price=tp,
                sl_price=sl,
                proposal_id=pid,
                close_reason=None if is_open else reason,
                closed_at=None if is_open else closed,
                exit_price=None if is_open else (tp if reason is CloseReason.TAKE_PROFIT else sl),
                realized_pnl=None if is_open else Decimal(f"{rng.uniform(-2, 3):.4f}"),
            )
        )
        for kind, price, state in (
            (OrderKind.ENTRY, None, OrderState.FILLED),
            (OrderKind.TP, tp, OrderState.SUBMITTED if is_open else OrderState.FILLED),
            (OrderKind.SL, sl, OrderState.SUBMITTED if is_open else OrderState.CANCELLED),
        ):
            orders.append(
                Order(
                    client_order_id=f"y{pid}{kind.value}",
                    exchange_order_id=f"{900_000_000 + len(orders)}",
                    symbol=symbol,
                    side=side,
                    kind=kind,
                    size=size,
                    state=state,
                    created_at=opened,
                    updated_at=opened if is_open else closed,
                    proposal_id=pid,
                    position_id=pid,
                    trigger_price=price,
                    request={"symbol": symbol, "size": str(size)},
                )
            )
        for k in range(EVENTS_PER_POSITION):
            events.append(
                Event(
                    at=opened + timedelta(seconds=k),
                    level=EventLevel.WARNING
                    if k == 9 and reason is CloseReason.STOP_LOSS
                    else EventLevel.INFO,
                    kind=("proposal.open", "order.filled", "position.opened", "position.marked")[min(k, 3)],
                    message=f"position #{pid} {symbol} {side.value}: step {k}",
                    proposal_id=pid,
                    position_id=pid,
                    data={"step": k},
                )
            )
    return proposals, positions, orders, events


def _cycles(
    rng: random.Random, start: datetime, count: int
) -> tuple[list[Cycle], list[Analysis], list[WhaleSignal], list[PricePoint], list[Score]]:
    cycles: list[Cycle] = []
    analyses: list[Analysis] = []
    signals: list[WhaleSignal] = []
    prices: list[PricePoint] = []
    scores: list[Score] = []
    for c in range(count):
        at = start + CYCLE * c
        cid = f"c{c:06d}"
        cycles.append(
            Cycle(
                id=cid, started_at=at, finished_at=at + timedelta(seconds=40), status="ok", trigger="schedule"
            )
        )
        for w in range(11):
            signals.append(
                WhaleSignal(
                    cycle_id=cid,
                    at=at,
                    bias=rng.choice(tuple(Bias)),
                    confidence=0.5,
                    address=None if w == 10 else f"0x{w:040x}",
                    is_aggregate=w == 10,
                    reasoning="year database",
                )
            )
        for pair in PAIRS:
            action = rng.choice((Action.LONG, Action.SHORT, Action.WAIT))
            analyses.append(
                Analysis(
                    id=len(analyses) + 1,
                    cycle_id=cid,
                    pair=pair,
                    analyst=AnalystKind.HEURISTIC,
                    model="heuristic",
                    created_at=at + timedelta(seconds=5),
                    action=action,
                    confidence=0.6,
                    prompt="",
                    decision={"action": action.value},
                )
            )
            price = Decimal(f"{rng.uniform(10, 100):.2f}")
            prices.append(PricePoint(symbol=f"{pair}USDT", at=at, price=price, cycle_id=cid))
            if at + timedelta(hours=24) <= END:
                for horizon, hours in (("1h", 1), ("4h", 4), ("24h", 24)):
                    scores.append(
                        Score(
                            subject="analysis",
                            subject_id=len(analyses),
                            horizon=horizon,
                            pair=pair,
                            tier="1",
                            analyst="heuristic",
                            model="heuristic",
                            direction=action.value,
                            confidence=0.6,
                            signal_agrees="none",
                            decided_at=at,
                            due_at=at + timedelta(hours=hours),
                            ref_price=price,
                            exit_price=price,
                            move_pct=0.0,
                            return_pct=None,
                            hit=True,
                            scored_at=at + timedelta(hours=hours),
                        )
                    )
    return cycles, analyses, signals, prices, scores


def build(path: Path, *, scale: float = 1.0, seed: int = 24, end: datetime = END) -> dict[str, int]:
    """Write the year into a new database at ``path``; returns the row count of each table written."""
    if path.exists():
        raise FileExistsError(f"{path}: exists; the year database is built into a new file")
    rng = random.Random(seed)
    span = YEAR * scale
    start = end - span
    store = Store.open(path)
    counts: dict[str, int] = {}
    try:
        store.engine.put(EngineStatus(mode=Mode.DEMO, state=EngineState.STOPPED))
        n = 0
        for batch in _chunks(iter(_snapshots(rng, start, span, max(1, int(SNAPSHOTS * scale))))):
            n += store.account.write_many(batch, "INSERT")
        counts["account_snapshots"] = n
        proposals, positions, orders, events = _position_rows(
            rng, start, span, max(1, int(POSITIONS * scale))
        )
        for name, repo, rows in (
            ("proposals", store.proposals, proposals),
            ("positions", store.positions, positions),
            ("orders", store.orders, orders),
            ("events", store.events, events),
        ):
            counts[name] = sum(repo.write_many(batch, "INSERT") for batch in _chunks(iter(rows)))
        scored = (score for p in proposals for score in _proposal_scores(p, end))
        counts["scores"] = sum(store.scores.write_many(batch, "INSERT") for batch in _chunks(scored))
        cycles, analyses, signals, prices, scores = _cycles(rng, start, int(span / CYCLE))
        for name, repo, rows in (
            ("cycles", store.cycles, cycles),
            ("analyses", store.analyses, analyses),
            ("whale_signals", store.whale_signals, signals),
            ("prices", store.prices, prices),
            ("scores", store.scores, scores),
        ):
            counts[name] = counts.get(name, 0) + sum(
                repo.write_many(batch, "INSERT") for batch in _chunks(iter(rows))
            )
    finally:
        store.close()
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    t0 = time.perf_counter()
    counts = build(args.out, scale=args.scale, seed=args.seed)
    print(f"built {args.out} at scale {args.scale} in {time.perf_counter() - t0:.1f} s: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
