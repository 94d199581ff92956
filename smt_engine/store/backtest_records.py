"""Backtest runs and their records per source, pair and horizon: what the edge gate may read.

A record is the after-fee mean return of a source's directional decisions on one pair at one horizon,
with its 95 % interval and counts, over the history the run covered. Only deterministic sources
(``deterministic = 1``: the heuristic's market part, the flow and whale signals, their combination)
may stand for a live record; baselines are stored for comparison and are never deterministic sources.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smt_engine.store.base import Repo
from smt_engine.store.codec import parse_ts, ts


@dataclass(frozen=True, slots=True)
class BacktestRecord:
    """One source's record on one pair at one horizon (``outcome`` = TP/SL/max hold)."""

    source: str
    pair: str
    horizon: str
    deterministic: bool
    n: int
    """Decisions scored (WAITs included)."""
    directional: int
    """LONG/SHORT decisions among them: the sample the mean and its interval are over."""
    mean_return_pct: float | None
    ci_low: float | None
    ci_high: float | None
    hit_rate: float | None
    brier: float | None
    data_from: datetime
    data_to: datetime
    run_id: int | None = None
    at: datetime | None = None


class BacktestRecordsRepo(Repo[BacktestRecord]):
    table = "backtest_records"
    record = BacktestRecord

    def add_run(
        self,
        at: datetime,
        data_from: datetime,
        data_to: datetime,
        interval: str,
        settings: dict[str, Any],
        summary: dict[str, Any],
        records: Sequence[BacktestRecord],
    ) -> int:
        """Store a run and its records in one transaction; returns the run id."""
        with self.lock, self.db.atomic():
            cursor = self.db.conn.execute(
                "INSERT INTO backtest_runs (at, data_from, data_to, interval, settings, summary) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    ts(at),
                    ts(data_from),
                    ts(data_to),
                    interval,
                    json.dumps(settings, sort_keys=True, default=str),
                    json.dumps(summary, sort_keys=True, default=str),
                ],
            )
            run_id = int(cursor.lastrowid or 0)
            self.db.conn.executemany(
                f"INSERT INTO {self.table} (run_id, source, pair, horizon, deterministic, n, directional, "
                "mean_return_pct, ci_low, ci_high, hit_rate, brier, data_from, data_to, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        r.source,
                        r.pair,
                        r.horizon,
                        int(r.deterministic),
                        r.n,
                        r.directional,
                        r.mean_return_pct,
                        r.ci_low,
                        r.ci_high,
                        r.hit_rate,
                        r.brier,
                        ts(r.data_from),
                        ts(r.data_to),
                        ts(at),
                    )
                    for r in records
                ],
            )
        return run_id

    def latest(self, source: str, pair: str, horizon: str) -> BacktestRecord | None:
        """The newest run's record for one source, pair and horizon."""
        rows = self.select(
            "source = ? AND pair = ? AND horizon = ?",
            [source, pair, horizon],
            order_by="run_id DESC",
            limit=1,
        )
        return rows[0] if rows else None

    def for_run(self, run_id: int) -> list[BacktestRecord]:
        return self.select("run_id = ?", [run_id], order_by="source, pair, horizon")

    def last_run(self) -> tuple[int, datetime] | None:
        with self.lock:
            row = self.db.conn.execute("SELECT id, at FROM backtest_runs ORDER BY id DESC LIMIT 1").fetchone()
        return (int(row[0]), parse_ts(row[1])) if row else None
