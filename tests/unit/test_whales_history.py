"""History cache: ranges asked for, back-fill of a longer window, retention."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from smt_engine.store import Store
from smt_engine.whales.history import HistoryCache
from smt_engine.whales.transfers import Transfer, TransferKind

A = "0x" + "aa" * 20
NOW = datetime(2026, 3, 1, tzinfo=UTC)


class Chain:
    def __init__(self) -> None:
        self.asked: list[tuple[TransferKind, int, int]] = []

    async def block_at(self, when: datetime, closest: str = "before") -> int:
        return 0

    async def balances(self, addresses: Iterable[str]) -> dict[str, Decimal]:
        return {}

    async def transfers(
        self, address: str, kind: TransferKind, startblock: int, endblock: int
    ) -> list[Transfer]:
        self.asked.append((kind, startblock, endblock))
        return [
            Transfer(
                kind=kind,
                tx_hash=f"0x{b:064x}",
                block=b,
                at=NOW - timedelta(days=(1000 - b)),
                from_address=A,
                to_address="0x" + "bb" * 20,
                value=Decimal(1),
            )
            for b in range(startblock, endblock + 1, 100)
        ]


async def test_sync_asks_only_for_missing_ranges_and_prunes(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    chain = Chain()
    cache = HistoryCache(store, chain)
    assert await cache.sync(A, [TransferKind.NORMAL], 500, 800, NOW) == 4
    await cache.sync(A, [TransferKind.NORMAL], 500, 900, NOW)
    await cache.sync(A, [TransferKind.NORMAL], 300, 900, NOW)  # a longer window back-fills the gap only
    await cache.sync(A, [TransferKind.NORMAL], 600, 900, NOW)  # nothing new: no call
    assert chain.asked == [
        (TransferKind.NORMAL, 500, 800),
        (TransferKind.NORMAL, 801, 900),
        (TransferKind.NORMAL, 300, 499),
    ]
    assert [t.block for t in cache.load(A)] == [300, 400, 500, 600, 700, 800, 801]
    # Blocks 300 and 400 are 700 and 600 days old; keep 650 days.
    assert cache.prune(NOW, 650) == 1
    assert [t.block for t in cache.load(A)] == [400, 500, 600, 700, 800, 801]
