"""The paper account's state (positions, orders, fills) and its persistence.

Saved as two files so a change costs what changed, not the account's whole history: a small JSON
snapshot of what can still change (balance, positions, open orders), rewritten atomically, and an
append-only journal (JSON lines) of what cannot: orders that reached a final status (every mutation in
the venue is guarded by ``status.is_open``) and fills. The snapshot records how many journal bytes it
counts, so a torn append (a crash between the two writes) is cut off at the next load.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from smt_engine.domain import Side
from smt_engine.exchange.base import (
    AlgoOrder,
    ExchangeOrder,
    Fill,
    OrderStatus,
)


@dataclass
class PaperPosition:
    symbol: str
    side: Side
    size: Decimal
    entry: Decimal
    leverage: int
    margin_mode: Literal["cross", "isolated"]
    margin: Decimal
    opened_at: datetime
    updated_at: datetime
    position_id: str


@dataclass
class PaperOrder:
    order_id: str
    client_order_id: str | None
    symbol: str
    position_side: Side
    reduce_only: bool
    order_type: str
    kind: Literal["entry", "close", "tp", "sl"]
    status: OrderStatus
    size: Decimal
    created_at: datetime
    updated_at: datetime
    filled_size: Decimal = Decimal(0)
    price: Decimal | None = None
    avg_price: Decimal | None = None
    trigger_price: Decimal | None = None
    tp_price: Decimal | None = None
    sl_price: Decimal | None = None
    parent_order_id: str | None = None
    fee: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)

    @property
    def is_leg(self) -> bool:
        return self.kind in ("tp", "sl") and self.order_type != "MARKET"

    def public(self) -> ExchangeOrder:
        return ExchangeOrder(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            position_side=self.position_side,
            reduce_only=self.reduce_only,
            order_type=self.order_type,
            status=self.status,
            size=self.size,
            filled_size=self.filled_size,
            price=self.price,
            avg_price=self.avg_price,
            created_at=self.created_at,
            updated_at=self.updated_at,
            kind=self.kind,
            trigger_price=self.trigger_price,
        )

    def algo(self) -> AlgoOrder:
        assert self.trigger_price is not None
        assert self.kind in ("tp", "sl")
        return AlgoOrder(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            position_side=self.position_side,
            kind=self.kind,
            trigger_price=self.trigger_price,
            size=self.size,
            status=self.status,
            created_at=self.created_at,
            parent_order_id=self.parent_order_id,
        )


@dataclass
class PaperAccount:
    wallet: Decimal
    cursor: datetime | None = None
    next_id: int = 1
    leverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: list[PaperPosition] = field(default_factory=list)
    orders: list[PaperOrder] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    ai_logs: list[dict[str, Any]] = field(default_factory=list)
    _live: list[PaperOrder] = field(default_factory=list, init=False, repr=False, compare=False)
    _live_of: list[PaperOrder] | None = field(default=None, init=False, repr=False, compare=False)
    _live_seen: int = field(default=0, init=False, repr=False, compare=False)

    def live(self) -> list[PaperOrder]:
        """The open orders, in creation order, at the cost of the open and newly added orders only.

        ``orders`` keeps every order of the account's life, so scanning it on every tick grows with
        history. An order never reopens (every mutation is guarded by ``status.is_open``), so the open
        ones are the open ones of the last call plus the open ones appended since. A replaced ``orders``
        list (the backtest drops finished orders) is scanned once.
        """
        if self._live_of is not self.orders or self._live_seen > len(self.orders):
            self._live, self._live_of, self._live_seen = [], self.orders, 0
        self._live = [o for o in self._live if o.status.is_open]
        self._live += [o for o in self.orders[self._live_seen :] if o.status.is_open]
        self._live_seen = len(self.orders)
        return list(self._live)


def encode_state(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: encode_state(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [encode_state(v) for v in value]
    if isinstance(value, dict):
        return {k: encode_state(v) for k, v in value.items()}
    return value


def decode_state(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$d"}:
            return Decimal(value["$d"])
        if set(value) == {"$t"}:
            return datetime.fromisoformat(value["$t"])
        return {k: decode_state(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_state(v) for v in value]
    return value


def _order(raw: dict[str, Any]) -> PaperOrder:
    return PaperOrder(
        **{**raw, "position_side": Side(raw["position_side"]), "status": OrderStatus(raw["status"])}
    )


def _fill(raw: dict[str, Any]) -> Fill:
    return Fill(**{**raw, "position_side": Side(raw["position_side"])})


def _order_key(order: PaperOrder) -> tuple[int, str]:
    """Creation order: the venue numbers its orders (``_new_id``)."""
    return (int(order.order_id), "") if order.order_id.isdigit() else (0, order.order_id)


class AccountFile:
    """The account on disk: ``path`` (the snapshot) and ``path`` + ``.journal`` (final orders, fills)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = path.with_name(path.name + ".journal")
        self._committed = 0
        """Journal bytes the snapshot on disk counts."""
        self._archived: set[str] = set()
        self._fills = 0
        self._watched: list[PaperOrder] = []
        """The orders open at the last save: with those added since, the only ones a save examines."""
        self._watched_of: list[PaperOrder] | None = None
        self._seen = 0

    def load(self) -> PaperAccount:
        raw = decode_state(json.loads(self.path.read_text()))
        orders: dict[str, PaperOrder] = {}
        fills: list[Fill] = []
        self._committed = int(raw.get("journal_bytes", 0))
        if self._committed:
            with self.journal.open("rb") as fh:
                text = fh.read(self._committed).decode()
            for line in text.splitlines():
                entry = decode_state(json.loads(line))
                if "order" in entry:
                    order = _order(entry["order"])
                    orders[order.order_id] = order
                else:
                    fills.append(_fill(entry["fill"]))
        self._archived = set(orders)
        for item in raw.get("orders", []):  # the snapshot's (open) orders; older files hold every order
            order = _order(item)
            orders[order.order_id] = order
        old_fills = [_fill(f) for f in raw.get("fills", [])]  # files written before the journal
        self._fills = len(fills)
        account = PaperAccount(
            wallet=raw["wallet"],
            cursor=raw.get("cursor"),
            next_id=raw["next_id"],
            leverage=raw.get("leverage", {}),
            positions=[PaperPosition(**{**p, "side": Side(p["side"])}) for p in raw.get("positions", [])],
            orders=sorted(orders.values(), key=_order_key),
            fills=fills + old_fills,
            ai_logs=raw.get("ai_logs", []),
        )
        # The snapshot's orders: open ones, and every order of a file written before the journal.
        self._watched = [o for o in account.orders if o.order_id not in self._archived]
        self._watched_of, self._seen = account.orders, len(account.orders)
        return account

    def _candidates(self, account: PaperAccount) -> list[PaperOrder]:
        """Orders that were open at the last save or were added since (a replaced list: all of them)."""
        if self._watched_of is not account.orders or self._seen > len(account.orders):
            return list(account.orders)
        return self._watched + account.orders[self._seen :]

    def save(self, account: PaperAccount) -> None:
        """Append what became final since the last save, then rewrite the small snapshot atomically."""
        candidates = self._candidates(account)
        final = [o for o in candidates if not o.status.is_open and o.order_id not in self._archived]
        still_open = [o for o in candidates if o.status.is_open]
        lines = [json.dumps({"order": encode_state(o)}) for o in final]
        lines += [json.dumps({"fill": encode_state(f)}) for f in account.fills[self._fills :]]
        size = self._committed
        if lines:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # 0600 like the snapshot (mkstemp): the account's history is the operator's business only.
            with os.fdopen(os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as fh:
                fh.truncate(self._committed)  # drop an append no snapshot counts (an earlier failed save)
                fh.write(("\n".join(lines) + "\n").encode())
                fh.flush()
                os.fsync(fh.fileno())
                size = fh.tell()
        snapshot = {
            "wallet": account.wallet,
            "cursor": account.cursor,
            "next_id": account.next_id,
            "leverage": account.leverage,
            "positions": account.positions,
            "orders": still_open,
            "ai_logs": account.ai_logs,
            "journal_bytes": size,
        }
        write_atomic(self.path, json.dumps(encode_state(snapshot)))
        self._committed = size
        self._archived.update(o.order_id for o in final)
        self._fills = len(account.fills)
        self._watched, self._watched_of, self._seen = still_open, account.orders, len(account.orders)


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
