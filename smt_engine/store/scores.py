"""Scores: each analysis, whale signal and proposal measured against the market once a horizon passed."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import sqlite_utils

from smt_engine.store.base import Repo
from smt_engine.store.codec import ts


@dataclass(slots=True, kw_only=True)
class Score:
    subject: str
    """``analysis``, ``signal`` or ``proposal``."""
    subject_id: int
    horizon: str
    """``1h``, ``4h``, ``24h``, or ``outcome`` (a proposal's TP, SL or max hold)."""
    pair: str
    tier: str
    analyst: str
    model: str
    direction: str
    """LONG, SHORT or WAIT (a whale signal's bias is mapped to one of them)."""
    confidence: float
    signal_agrees: str
    """``agree``, ``disagree`` or ``none``: whether the whale/flow signal pointed the same way."""
    decided_at: datetime
    due_at: datetime
    ref_price: Decimal
    exit_price: Decimal
    move_pct: float
    """Raw price change from decision to horizon, %."""
    return_pct: float | None
    """Return of acting on the call after round-trip fees, %; None for WAIT."""
    hit: bool
    scored_at: datetime
    outcome: str | None = None
    state: str | None = None
    """For proposals: the proposal's own state (denied, rejected, expired, closed...)."""
    cycle_id: str | None = None
    id: int | None = None


class ScoreLine(NamedTuple):
    """The fields the figures need, read without decoding whole records (the report reads thousands; a
    named tuple is the cheapest record to build)."""

    subject: str
    horizon: str
    pair: str
    tier: str
    analyst: str
    model: str
    direction: str
    confidence: float
    signal_agrees: str
    hit: bool
    return_pct: float | None


_LINE = "subject, horizon, pair, tier, analyst, model, direction, confidence, signal_agrees, hit, return_pct"


def _line(r: Sequence[Any]) -> ScoreLine:
    return ScoreLine(r[0], r[1], r[2], r[3], r[4], r[5], r[6], float(r[7]), r[8], bool(r[9]), r[10])


@dataclass(slots=True)
class _Record:
    """One subject's lines at one horizon in (decided_at, id) order, up to score ``last_id``."""

    last_id: int = 0
    keys: list[tuple[str, int]] = field(default_factory=list)
    lines: list[ScoreLine] = field(default_factory=list)

    def add(self, key: tuple[str, int], line: ScoreLine) -> None:
        at = len(self.keys) if not self.keys or key > self.keys[-1] else bisect.bisect(self.keys, key)
        self.keys.insert(at, key)
        self.lines.insert(at, line)


class ScoresRepo(Repo[Score]):
    table = "scores"
    record = Score

    def __init__(self, db: sqlite_utils.Database, lock: threading.RLock) -> None:
        super().__init__(db, lock)
        self._records: dict[tuple[str, str], _Record] = {}

    def add(self, scores: list[Score]) -> int:
        """Insert scores not recorded yet (once per subject and horizon); returns how many were new."""
        return self.write_many(scores)

    def done(self, subject: str, ids: Iterable[int] | None = None) -> set[tuple[int, str]]:
        """(subject id, horizon) pairs already scored; with ``ids``, only for those subjects (an index
        probe each, so a cycle's cost does not grow with every score ever recorded)."""
        sql = "SELECT subject_id, horizon FROM scores WHERE subject = ?"
        if ids is None:
            with self.lock:
                return {(int(r[0]), str(r[1])) for r in self.db.execute(sql, [subject])}
        wanted = sorted(set(ids))
        found: set[tuple[int, str]] = set()
        with self.lock:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                rows = self.db.execute(
                    f"{sql} AND subject_id IN ({', '.join('?' * len(chunk))})", [subject, *chunk]
                )
                found.update((int(r[0]), str(r[1])) for r in rows)
        return found

    def for_pair(self, subject: str, pair: str, horizon: str, analyst: str, start: datetime) -> list[Score]:
        return self.select(
            "subject = ? AND pair = ? AND horizon = ? AND analyst = ? AND decided_at >= ?",
            [subject, pair, horizon, analyst, ts(start)],
            order_by="decided_at",
        )

    def lines_since(self, start: datetime | None = None) -> list[ScoreLine]:
        """Every score decided since ``start`` (all when None), as ``ScoreLine``."""
        sql = f"SELECT {_LINE} FROM scores WHERE decided_at >= ? ORDER BY decided_at, id"
        with self.lock:
            rows = self.db.execute(sql, [ts(start) if start is not None else ""]).fetchall()
        return [_line(r) for r in rows]

    def window_start(self, start: datetime) -> tuple[int, list[ScoreLine]]:
        """The newest score id and every score up to it decided since ``start`` (a window counted afresh)."""
        with self.lock:
            last = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM scores").fetchone()[0]
            sql = f"SELECT {_LINE} FROM scores WHERE decided_at >= ? AND +id <= ?"
            rows = self.db.execute(sql, [ts(start), last]).fetchall()
        return int(last), [_line(r) for r in rows]

    def lines_after(self, last_id: int, start: datetime) -> tuple[int, int, list[ScoreLine]]:
        """Scores recorded after id ``last_id`` (a rowid range: what became due since the last read,
        however long the history): the newest id read, the rows read, those decided since ``start``."""
        sql = f"SELECT id, decided_at, {_LINE} FROM scores WHERE id > ? ORDER BY id"
        with self.lock:
            rows = self.db.execute(sql, [last_id]).fetchall()
        since = ts(start)
        lines = [_line(r[2:]) for r in rows if r[1] >= since]
        return (int(rows[-1][0]) if rows else last_id), len(rows), lines

    def lines_between(self, start: datetime, end: datetime, last_id: int) -> list[ScoreLine]:
        """Scores up to id ``last_id`` decided in [``start``, ``end``): what a sliding window lets go
        (a range of the ``decided_at`` index)."""
        sql = f"SELECT {_LINE} FROM scores WHERE decided_at >= ? AND decided_at < ? AND +id <= ?"
        with self.lock:
            rows = self.db.execute(sql, [ts(start), ts(end), last_id]).fetchall()
        return [_line(r) for r in rows]

    def lines_of(self, subject: str, horizon: str) -> list[ScoreLine]:
        """Every score of one subject at one horizon, oldest first (a source's whole record).

        Kept from one call to the next (scores are only ever added), so each call after the first reads
        only the scores recorded since the one before, however long the record.
        """
        with self.lock:
            record = self._records.setdefault((subject, horizon), _Record())
            newest = int(self.db.execute("SELECT COALESCE(MAX(id), 0) FROM scores").fetchone()[0])
            if record.last_id == 0:
                sql = f"SELECT decided_at, id, {_LINE} FROM scores WHERE subject = ? AND horizon = ?"
                rows = self.db.execute(
                    f"{sql} AND +id <= ? ORDER BY decided_at, id", [subject, horizon, newest]
                )
            else:  # the unary + keeps the planner on the rowid range
                sql = f"SELECT decided_at, id, {_LINE} FROM scores WHERE id > ? AND id <= ?"
                rows = self.db.execute(
                    f"{sql} AND +subject = ? AND +horizon = ?", [record.last_id, newest, subject, horizon]
                )
            for r in rows:
                record.add((r[0], r[1]), _line(r[2:]))
            record.last_id = newest
            return list(record.lines)

    def since(self, start: datetime | None = None) -> list[Score]:
        if start is None:
            return self.select(order_by="decided_at, id")
        return self.select("decided_at >= ?", [ts(start)], order_by="decided_at, id")


@dataclass(slots=True, kw_only=True)
class ScorecardReport:
    """The scorecard as the engine last computed it (``scorecard.report.build_report``), for the console."""

    at: datetime
    report: dict[str, Any]
    id: int | None = None


class ScorecardReportsRepo(Repo[ScorecardReport]):
    table = "scorecard_reports"
    record = ScorecardReport
    KEEP = 48

    def save(self, report: ScorecardReport) -> None:
        """Add the newest report and keep only the last ``KEEP``."""
        with self.lock, self.db.atomic():
            self.insert(report)
            self.db.execute(
                f"DELETE FROM {self.table} WHERE id NOT IN "
                f"(SELECT id FROM {self.table} ORDER BY id DESC LIMIT {self.KEEP})"
            )

    def latest(self) -> ScorecardReport | None:
        rows = self.select(order_by="id DESC", limit=1)
        return rows[0] if rows else None
