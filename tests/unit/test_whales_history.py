"""History cache: ranges asked for, back-fill of a longer window, retention."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from smt_engine.store import Store
from smt_engine.whales.history import HistoryCache
from smt_engine.whales.transfers import Transfer, TransferBatch, TransferKind

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
    ) -> TransferBatch:
        self.asked.append((kind, startblock, endblock))
        rows = [
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
        return TransferBatch(rows, endblock)


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


class CutChain(Chain):
    """Reads at most 250 blocks per fetch, like a client whose page budget ran out."""

    async def transfers(
        self, address: str, kind: TransferKind, startblock: int, endblock: int
    ) -> TransferBatch:
        through = min(endblock, startblock + 249)
        batch = await super().transfers(address, kind, startblock, through)
        return TransferBatch(batch.rows, through)


async def test_a_fetch_cut_short_leaves_no_gap(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    chain = CutChain()
    cache = HistoryCache(store, chain)
    await cache.sync(A, [TransferKind.NORMAL], 500, 1000, NOW)
    state = store.whale_history.sync_state(A, "normal")
    assert state is not None
    assert (state.from_block, state.to_block) == (500, 749)
    await cache.sync(A, [TransferKind.NORMAL], 500, 1000, NOW)
    await cache.sync(A, [TransferKind.NORMAL], 300, 1000, NOW)  # back-fill, also cut short
    await cache.sync(A, [TransferKind.NORMAL], 300, 1000, NOW)
    assert chain.asked == [
        (TransferKind.NORMAL, 500, 749),
        (TransferKind.NORMAL, 750, 999),
        (TransferKind.NORMAL, 300, 499),
        (TransferKind.NORMAL, 1000, 1000),
    ]
    assert [t.block for t in cache.load(A)] == [300, 400, 500, 600, 700, 750, 850, 950, 1000]


async def test_loaded_rows_stay_in_step_with_the_store(tmp_path: Path) -> None:
    """The decoded rows kept in memory read exactly what a fresh read of the store gives, through
    forward syncs (appended), a back-fill (read again), a repeated row and retention."""
    store = Store.open(tmp_path / "s.db")
    cache = HistoryCache(store, Chain())

    def fresh() -> list[Transfer]:
        return HistoryCache(store, Chain()).load(A)

    await cache.sync(A, [TransferKind.NORMAL], 500, 800, NOW)
    assert cache.load(A) == fresh()
    await cache.sync(A, [TransferKind.NORMAL], 500, 1000, NOW)  # newer blocks: appended in memory
    assert [t.block for t in cache.load(A)] == [500, 600, 700, 800, 801, 901] == [t.block for t in fresh()]
    await cache.sync(A, [TransferKind.NORMAL], 200, 1000, NOW)  # a back-fill lands before: read again
    assert cache.load(A) == fresh()
    assert cache.load(A)[0].block == 200
    assert cache.remember(A, [cache.load(A)[-1]]) == 0  # already cached: nothing changes
    assert cache.load(A) == fresh()
    since = NOW - timedelta(days=150)
    assert cache.load(A, since) == [t for t in fresh() if t.at >= since]
    cache.prune(NOW, 250)
    assert cache.load(A) == fresh()
    assert min(t.block for t in cache.load(A)) >= 750
    store.close()
