"""Reads across the recorded decisions and account history, by time: what the scorecard and replay need.

Kept in one place so the scorecard and `smt replay` hold no SQL; every query takes the moment it is
about and returns only what was recorded by then where that matters.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime

import sqlite_utils

from smt_engine.domain import PositionState
from smt_engine.store.codec import ts
from smt_engine.store.flows import ExchangeFlow, ExchangeFlowsRepo
from smt_engine.store.intel import AnalysesRepo, WhaleSignalsRepo
from smt_engine.store.records import AccountSnapshot, Analysis, Position, Proposal, WhaleSignal
from smt_engine.store.trading import PositionsRepo, ProposalsRepo
from smt_engine.store.venue import AccountRepo

_SCORED = (
    "EXISTS (SELECT 1 FROM scores s "
    "WHERE s.subject = '{subject}' AND s.subject_id = {table}.id AND s.horizon = ?)"
)
"""A subject scored at a horizon (the scores' unique index answers it)."""


def _unscored(subject: str, table: str, horizons: tuple[str, ...]) -> str:
    """Not yet scored at every one of ``horizons``."""
    return "NOT (" + " AND ".join(_SCORED.format(subject=subject, table=table) for _ in horizons) + ")"


def _filter(
    subject: str,
    table: str,
    column: str,
    unless_scored: tuple[str, ...],
    due: Mapping[str, datetime] | None,
) -> tuple[str, list[str]]:
    """The scoring filter: rows not scored at every one of ``unless_scored`` and, with ``due`` (horizon ->
    latest decision time due at it), only those with a horizon that is due and not scored yet."""
    where, params = "1", []
    if unless_scored:
        where, params = _unscored(subject, table, unless_scored), list(unless_scored)
    if due is not None:
        terms = [f"({column} <= ? AND NOT {_SCORED.format(subject=subject, table=table)})" for _ in due]
        where += " AND (" + " OR ".join(terms) + ")"
        params += [v for horizon, cutoff in due.items() for v in (ts(cutoff), horizon)]
    return where, params


class DecisionHistory:
    def __init__(self, db: sqlite_utils.Database, lock: threading.RLock) -> None:
        self.analyses = AnalysesRepo(db, lock)
        self.signals = WhaleSignalsRepo(db, lock)
        self.proposals = ProposalsRepo(db, lock)
        self.positions = PositionsRepo(db, lock)
        self.account = AccountRepo(db, lock)
        self.flows = ExchangeFlowsRepo(db, lock)

    def analyses_since(
        self,
        start: datetime,
        *,
        unless_scored: tuple[str, ...] = (),
        due: Mapping[str, datetime] | None = None,
    ) -> list[Analysis]:
        """Analyses since ``start``; with ``unless_scored``, those not yet scored at all these horizons;
        with ``due``, only those with a horizon due and unscored (what a cycle has to score)."""
        where, params = _filter("analysis", "analyses", "created_at", unless_scored, due)
        return self.analyses.select(f"created_at >= ? AND {where}", [ts(start), *params], order_by="id")

    def aggregate_signals_since(
        self,
        start: datetime,
        *,
        unless_scored: tuple[str, ...] = (),
        due: Mapping[str, datetime] | None = None,
    ) -> list[WhaleSignal]:
        where, params = _filter("signal", "whale_signals", "at", unless_scored, due)
        return self.signals.select(
            f"is_aggregate = 1 AND at >= ? AND {where}", [ts(start), *params], order_by="id"
        )

    def proposals_since(
        self,
        start: datetime,
        *,
        unless_scored: tuple[str, ...] = (),
        due: Mapping[str, datetime] | None = None,
    ) -> list[Proposal]:
        where, params = _filter("proposal", "proposals", "created_at", unless_scored, due)
        return self.proposals.select(f"created_at >= ? AND {where}", [ts(start), *params], order_by="id")

    def flows_since(
        self,
        start: datetime,
        *,
        unless_scored: tuple[str, ...] = (),
        due: Mapping[str, datetime] | None = None,
    ) -> list[ExchangeFlow]:
        where, params = _filter("flow", "exchange_flows", "at", unless_scored, due)
        return self.flows.select(f"at >= ? AND {where}", [ts(start), *params], order_by="at, id")

    def proposals_of_cycle(self, cycle_id: str) -> list[Proposal]:
        return self.proposals.select("cycle_id = ?", [cycle_id], order_by="id")

    def positions_open_at(self, at: datetime) -> list[Position]:
        """Positions opened by ``at`` and not closed before it (one closing at that instant still counts)."""
        return self.positions.select(
            "opened_at <= ? AND (closed_at IS NULL OR closed_at >= ?)",
            [ts(at), ts(at)],
            order_by="id",
        )

    def positions_closed_between(self, start: datetime, end: datetime) -> list[Position]:
        return self.positions.select(
            "state = ? AND closed_at >= ? AND closed_at <= ?",
            [PositionState.CLOSED.value, ts(start), ts(end)],
            order_by="closed_at",
        )

    def account_for_cycle(self, started: datetime, finished: datetime | None) -> AccountSnapshot | None:
        """The snapshot the cycle itself recorded (first one in its span), else the last one before it."""
        if finished is not None:
            rows = self.account.select(
                "at >= ? AND at <= ?", [ts(started), ts(finished)], order_by="id", limit=1
            )
            if rows:
                return rows[0]
        rows = self.account.select("at <= ?", [ts(started)], order_by="at DESC, id DESC", limit=1)
        return rows[0] if rows else None

    def peak_equity_until(self, at: datetime) -> AccountSnapshot | None:
        rows = self.account.select("at <= ?", [ts(at)], order_by="CAST(equity AS REAL) DESC", limit=1)
        return rows[0] if rows else None
