"""The 30-day report kept up to date equals the report counted afresh, and each update reads only what
changed: the scores recorded since the last one and those whose decision left the window."""

from __future__ import annotations

import math
import random
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smt_engine.scorecard import build_report
from smt_engine.scorecard.recording import publish_report
from smt_engine.scorecard.stats import Z95, figures
from smt_engine.scorecard.window import REPORT_WINDOW, ReportWindow, report_window
from smt_engine.store import Store
from smt_engine.store.scores import Score

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HORIZONS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24)}


@contextmanager
def fresh_store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "smt.db")
        try:
            yield store
        finally:
            store.close()


def score(rng: random.Random, subject_id: int, decided_at: datetime) -> Score:
    horizon = rng.choice(list(HORIZONS))
    direction = rng.choice(["LONG", "SHORT", "WAIT"])
    return Score(
        subject=rng.choice(["analysis", "signal", "proposal"]),
        subject_id=subject_id,
        horizon=horizon,
        pair=rng.choice(["ETH", "BTC", "SOL"]),
        tier=rng.choice(["1", "2"]),
        analyst=rng.choice(["heuristic", "gemini"]),
        model=rng.choice(["m1", "m2"]),
        direction=direction,
        confidence=rng.choice([0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, rng.random()]),
        signal_agrees=rng.choice(["agree", "disagree", "none"]),
        decided_at=decided_at,
        due_at=decided_at + HORIZONS[horizon],
        ref_price=Decimal("100"),
        exit_price=Decimal("101"),
        move_pct=1.0,
        return_pct=None if direction == "WAIT" else round(rng.gauss(0, 2), rng.choice([2, 4, 12])),
        hit=rng.random() < 0.5,
        scored_at=decided_at + HORIZONS[horizon],
    )


def afresh(store: Store, now: datetime) -> dict[str, Any]:
    since = now - REPORT_WINDOW
    return build_report(store.scores.lines_since(since), since=since, now=now)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    steps=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 72 * 60)), min_size=1, max_size=12),
)
def test_the_window_kept_up_to_date_equals_a_fresh_count(seed: int, steps: list[tuple[int, int]]) -> None:
    """Scores arrive in batches (some decided long ago, as after downtime) while the window slides."""
    rng = random.Random(seed)
    window = ReportWindow()
    now = T0 + timedelta(days=40)
    next_id = 1
    with fresh_store() as store:
        store.scores.add(
            [score(rng, i, now - timedelta(minutes=rng.randint(0, 60 * 24 * 60))) for i in range(60)]
        )
        next_id = 61
        assert window.report(store, now) == afresh(store, now)
        for batch, minutes in steps:
            now += timedelta(minutes=minutes)
            arrived = [
                score(rng, next_id + i, now - timedelta(minutes=rng.randint(60, 60 * 24 * 35)))
                for i in range(batch)
            ]
            next_id += batch
            store.scores.add(arrived)
            assert window.report(store, now) == afresh(store, now)


def test_a_clock_set_back_recounts_the_window() -> None:
    rng = random.Random(7)
    now = T0 + timedelta(days=40)
    with fresh_store() as store:
        store.scores.add([score(rng, i, now - timedelta(hours=rng.randint(1, 24 * 50))) for i in range(200)])
        window = ReportWindow()
        window.report(store, now)
        earlier = now - timedelta(days=3)
        assert window.report(store, earlier) == afresh(store, earlier)
        assert window.rows_read == afresh(store, earlier)["scores"]


def reference_figures(lines: list[Score]) -> dict[str, Any]:
    """The figures computed the plain way, in floats."""
    n = len(lines)
    directional = [s for s in lines if s.direction != "WAIT"]
    returns = [s.return_pct for s in directional if s.return_pct is not None]
    out: dict[str, Any] = {
        "n": n,
        "hit_rate": sum(s.hit for s in lines) / n,
        "directional": len(directional),
        "avg_return_pct": statistics.fmean(returns) if returns else None,
        "brier": (
            statistics.fmean((s.confidence - s.hit) ** 2 for s in directional) if directional else None
        ),
    }
    if len(returns) >= 2:
        half = Z95 * statistics.stdev(returns) / math.sqrt(len(returns))
        out["avg_return_ci"] = (out["avg_return_pct"] - half, out["avg_return_pct"] + half)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_the_exact_sums_give_the_plain_figures(seed: int) -> None:
    rng = random.Random(seed)
    lines = [score(rng, i, T0) for i in range(rng.randint(1, 300))]
    got, want = figures(lines), reference_figures(lines)
    for key in ("n", "directional"):
        assert got[key] == want[key]
    for key in ("hit_rate", "avg_return_pct", "brier"):
        assert (got[key] is None) == (want[key] is None)
        if want[key] is not None:
            assert got[key] == pytest.approx(want[key], abs=6e-5)
    if "avg_return_ci" in want:
        assert got["avg_return_ci"] == pytest.approx(want["avg_return_ci"], abs=6e-5)
    stated = {c["bin"]: c["stated"] for c in got["calibration"]}
    for label, value in stated.items():
        lo = float(label.split("-")[0])
        in_bin = [
            s.confidence for s in lines if s.direction != "WAIT" and lo - 1e-9 <= s.confidence < lo + 0.1
        ]
        assert value == pytest.approx(statistics.fmean(in_bin), abs=6e-5)


def history(store: Store, now: datetime, per_hour: int) -> None:
    """60 days of scores, ``per_hour`` decided each hour."""
    rng = random.Random(3)
    hours = 60 * 24
    store.scores.add(
        [score(rng, i, now - timedelta(hours=hours - i // per_hour)) for i in range(hours * per_hour)]
    )


def test_an_update_reads_only_what_arrived_and_what_left() -> None:
    now = T0 + timedelta(days=60)
    with fresh_store() as store:
        history(store, now, per_hour=4)
        window = report_window(store)
        publish_report(store, now)
        assert window.rows_read == 30 * 24 * 4  # the window counted once, afresh
        rng = random.Random(11)
        arrived = [score(rng, 10**6 + i, now + timedelta(minutes=30)) for i in range(5)]
        store.scores.add(arrived)
        publish_report(store, now + timedelta(hours=1))
        # the 5 new scores, and the 4 decided in the hour that left the window
        assert window.rows_read == 5 + 4
        assert store.scorecard_reports.latest() is not None
        latest = store.scorecard_reports.latest()
        assert latest is not None
        assert latest.report["scores"] == 30 * 24 * 4 - 4 + 5


def plans(store: Store, statements: list[str]) -> list[str]:
    """The query plan of each read of the scores among ``statements``."""
    return [
        " | ".join(r[3] for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        for sql in statements
        if "FROM scores WHERE" in sql
    ]


@contextmanager
def traced(store: Store) -> Iterator[list[str]]:
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        store.conn.set_trace_callback(None)


def test_the_window_reads_ranges_of_an_index_never_the_whole_table() -> None:
    """Counted afresh: the window's range of the decision-time index; updated: the new rowids and the
    range of decision times that left the window."""
    now = T0 + timedelta(days=60)
    with fresh_store() as store:
        history(store, now, per_hour=1)
        window = ReportWindow()
        with traced(store) as first:
            window.report(store, now)
        with traced(store) as update:
            window.report(store, now + timedelta(hours=2))
        assert plans(store, first) == ["SEARCH scores USING INDEX scores_decided (decided_at>?)"]
        assert sorted(plans(store, update)) == [
            "SEARCH scores USING INDEX scores_decided (decided_at>? AND decided_at<?)",
            "SEARCH scores USING INTEGER PRIMARY KEY (rowid>?)",
        ]


def test_a_source_record_kept_between_calls_equals_a_fresh_read() -> None:
    """``lines_of`` (what calibration and the edge gate read each cycle) reads only what was recorded since
    its last call, and keeps the record in decision order even when an older decision is scored late."""
    rng = random.Random(5)
    now = T0 + timedelta(days=60)
    with fresh_store() as store, fresh_store() as twin:
        first = [score(rng, i, now - timedelta(hours=rng.randint(1, 24 * 50))) for i in range(400)]
        store.scores.add(first)
        kept = [(s.subject, s.horizon) for s in first[:3]]
        for subject, horizon in kept:
            store.scores.lines_of(subject, horizon)
        late = [score(rng, 1000 + i, now - timedelta(hours=rng.randint(1, 24 * 50))) for i in range(50)]
        store.scores.add(late)
        twin.scores.add(first + late)
        with traced(store) as statements:
            for subject, horizon in kept:
                assert store.scores.lines_of(subject, horizon) == twin.scores.lines_of(subject, horizon)
        assert (
            plans(store, statements) == ["SEARCH scores USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"] * 3
        )
