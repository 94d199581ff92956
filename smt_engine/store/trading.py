"""Proposals, orders and positions: what we asked for and what we saw."""

from __future__ import annotations

from datetime import datetime

from smt_engine.domain import CloseReason, OrderState, PositionState, ProposalState, Side
from smt_engine.store.base import Repo
from smt_engine.store.codec import decode_rows, parse_ts, ts
from smt_engine.store.records import ClosedTrade, Order, Position, Proposal

_OPEN_ORDER_STATES = [s.value for s in OrderState if not s.is_terminal]
_OPEN_POSITION = f"state != '{PositionState.CLOSED.value}'"
"""Word for word the condition of the ``positions_one_open`` partial index, so queries may use it."""


class ProposalsRepo(Repo[Proposal]):
    table = "proposals"
    record = Proposal

    def in_state(self, *states: ProposalState) -> list[Proposal]:
        marks = ", ".join("?" * len(states))
        return self.select(f"state IN ({marks})", [s.value for s in states], order_by="id")

    def pending(self) -> list[Proposal]:
        return self.in_state(ProposalState.PROPOSED)

    def pending_count(self) -> int:
        """How many proposals wait for the operator (the demo's pacing asks every few seconds)."""
        return self.count("state = ?", [ProposalState.PROPOSED.value])

    def due_to_expire(self, now: datetime) -> list[Proposal]:
        return self.select(
            "state = ? AND expires_at IS NOT NULL AND expires_at <= ?",
            [ProposalState.PROPOSED.value, ts(now)],
        )

    def recent(self, limit: int = 100) -> list[Proposal]:
        return self.select(order_by="id DESC", limit=limit)

    def for_cycle(self, cycle_id: str) -> list[Proposal]:
        return self.select("cycle_id = ?", [cycle_id], order_by="id")


class OrdersRepo(Repo[Order]):
    table = "orders"
    record = Order

    def by_client_id(self, client_order_id: str) -> Order | None:
        rows = self.select("client_order_id = ?", [client_order_id])
        return rows[0] if rows else None

    def by_exchange_id(self, exchange_order_id: str) -> Order | None:
        rows = self.select("exchange_order_id = ?", [exchange_order_id])
        return rows[0] if rows else None

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders not yet in a terminal state: the in-flight tracker resolves each against the venue."""
        marks = ", ".join("?" * len(_OPEN_ORDER_STATES))
        where, params = f"state IN ({marks})", list(_OPEN_ORDER_STATES)
        if symbol:
            where += " AND symbol = ?"
            params.append(symbol)
        return self.select(where, params, order_by="id")

    def orphans(self) -> list[Order]:
        marks = ", ".join("?" * len(_OPEN_ORDER_STATES))
        return self.select(f"orphan = 1 AND state IN ({marks})", _OPEN_ORDER_STATES, order_by="id")

    def for_position(self, position_id: int) -> list[Order]:
        return self.select("position_id = ?", [position_id], order_by="id")

    def recent(self, limit: int = 200) -> list[Order]:
        return self.select(order_by="id DESC", limit=limit)


class PositionsRepo(Repo[Position]):
    table = "positions"
    record = Position

    def open_positions(self) -> list[Position]:
        # The literal (not a parameter) lets SQLite answer from the partial index of open positions.
        return self.select(_OPEN_POSITION, order_by="opened_at")

    def open_for(self, symbol: str, side: Side) -> Position | None:
        rows = self.select(f"{_OPEN_POSITION} AND symbol = ? AND side = ?", [symbol, side.value])
        return rows[0] if rows else None

    def last_stop_losses(self) -> dict[str, datetime]:
        """When each symbol last closed at its stop loss (the cool-down gate's input).

        A skip-scan over the ``positions_stop`` index: one probe per symbol, however long the history.
        """
        sql = """
            WITH RECURSIVE s(symbol) AS (
                SELECT min(symbol) FROM positions WHERE close_reason = :reason
                UNION ALL
                SELECT (SELECT min(symbol) FROM positions WHERE close_reason = :reason AND symbol > s.symbol)
                FROM s WHERE s.symbol IS NOT NULL
            )
            SELECT symbol, (
                SELECT max(closed_at) FROM positions WHERE close_reason = :reason AND symbol = s.symbol
            ) FROM s WHERE symbol IS NOT NULL
        """
        with self.lock:
            rows = self.db.execute(sql, {"reason": CloseReason.STOP_LOSS.value}).fetchall()
        return {symbol: parse_ts(at) for symbol, at in rows if at is not None}

    def closed_count(self) -> int:
        return self.count("state = ?", [PositionState.CLOSED.value])

    def recent_closed(self, limit: int = 100) -> list[Position]:
        return self.select("state = ?", [PositionState.CLOSED.value], order_by="closed_at DESC", limit=limit)

    def closed_trades(self) -> list[ClosedTrade]:
        """Every closed position, oldest close first, as the narrow rows the performance figures need.

        Walks the ``positions_closed_at`` index and decodes eleven columns a row; the performance screen
        and ``smt performance`` call it on demand (on opening, and when a position closed), never on a timer.
        """
        columns = [f for f in ClosedTrade.__dataclass_fields__]
        sql = (
            f"SELECT {', '.join(columns)} FROM positions "
            "WHERE closed_at IS NOT NULL AND state = ? ORDER BY closed_at, id"
        )
        with self.lock:
            rows = self.db.execute(sql, [PositionState.CLOSED.value]).fetchall()
        return decode_rows(ClosedTrade, columns, rows)
