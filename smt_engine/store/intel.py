"""Cycles, whale intelligence and analyst records: the inputs behind every proposal."""

from __future__ import annotations

from smt_engine.store.base import Repo
from smt_engine.store.codec import to_row
from smt_engine.store.records import Analysis, Cycle, Whale, WhaleSignal, WhaleTransfer


class CyclesRepo(Repo[Cycle]):
    table = "cycles"
    record = Cycle

    def latest(self) -> Cycle | None:
        rows = self.select(order_by="started_at DESC", limit=1)
        return rows[0] if rows else None


class WhaleTransfersRepo(Repo[WhaleTransfer]):
    table = "whale_transfers"
    record = WhaleTransfer

    def add_new(self, transfers: list[WhaleTransfer]) -> int:
        """Insert transfers not seen before; returns how many were new."""
        return self.write_many(transfers)

    def recent(self, limit: int = 100) -> list[WhaleTransfer]:
        return self.select(order_by="at DESC, id DESC", limit=limit)


class WhalesRepo(Repo[Whale]):
    table = "whales"
    record = Whale
    pk = "address"

    def upsert(self, whale: Whale) -> None:
        """Keep ``first_seen_at`` of an existing row; replace the rest."""
        existing = self.get(whale.address)
        if existing is not None:
            whale.first_seen_at = existing.first_seen_at
        row = to_row(whale)
        self.write_row(row, "INSERT OR REPLACE")

    def recent(self, limit: int = 100) -> list[Whale]:
        return self.select(order_by="updated_at DESC", limit=limit)


class WhaleSignalsRepo(Repo[WhaleSignal]):
    table = "whale_signals"
    record = WhaleSignal

    def for_cycle(self, cycle_id: str) -> list[WhaleSignal]:
        return self.select("cycle_id = ?", [cycle_id], order_by="is_aggregate DESC, confidence DESC")

    def latest_aggregate(self) -> WhaleSignal | None:
        rows = self.select("is_aggregate = 1", order_by="id DESC", limit=1)
        return rows[0] if rows else None

    def recent(self, limit: int = 100) -> list[WhaleSignal]:
        return self.select(order_by="id DESC", limit=limit)


class AnalysesRepo(Repo[Analysis]):
    table = "analyses"
    record = Analysis

    def for_cycle(self, cycle_id: str) -> list[Analysis]:
        return self.select("cycle_id = ?", [cycle_id], order_by="pair")

    def latest_per_pair(self) -> list[Analysis]:
        return self.select("id IN (SELECT max(id) FROM analyses GROUP BY pair)", order_by="pair")

    def by_ids(self, ids: list[int]) -> dict[int, Analysis]:
        """The analyses behind a set of proposals, in one query (the console's rationale pane)."""
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        return {a.id: a for a in self.select(f"id IN ({marks})", list(ids)) if a.id is not None}
