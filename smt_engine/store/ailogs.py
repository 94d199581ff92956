"""Outbox of WEEX AI-log uploads: rows are written with the decision and sent later."""

from __future__ import annotations

from datetime import datetime

from smt_engine.domain import AiLogState
from smt_engine.store.base import Repo
from smt_engine.store.codec import ts
from smt_engine.store.records import AiLog


class AiLogsRepo(Repo[AiLog]):
    table = "ai_logs"
    record = AiLog

    def due(self, now: datetime, limit: int = 20) -> list[AiLog]:
        return self.select(
            "state = ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
            [AiLogState.PENDING.value, ts(now)],
            order_by="id",
            limit=limit,
        )

    def recent(self, limit: int = 100) -> list[AiLog]:
        return self.select(order_by="id DESC", limit=limit)
