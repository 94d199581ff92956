"""Incremental per-address history: fetch only the blocks the cache has not seen, then read from SQLite."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from smt_engine.store import Store
from smt_engine.store.whale_history import HistorySync, HistoryTransfer
from smt_engine.whales.transfers import Transfer, TransferBatch, TransferKind

log = logging.getLogger(__name__)


class ChainSource(Protocol):
    """What the whale pipeline needs from a chain: Etherscan in real use, the simulator in the demo."""

    async def block_at(self, when: datetime, closest: str = "before") -> int: ...

    async def transfers(
        self, address: str, kind: TransferKind, startblock: int, endblock: int
    ) -> TransferBatch: ...

    async def balances(self, addresses: Iterable[str]) -> dict[str, Decimal]: ...


def to_record(address: str, t: Transfer) -> HistoryTransfer:
    return HistoryTransfer(
        address=address,
        uid=t.uid,
        kind=t.kind.value,
        tx_hash=t.tx_hash,
        block=t.block,
        at=t.at,
        from_address=t.from_address,
        to_address=t.to_address,
        value=t.value,
        token_symbol=t.token_symbol,
        token_contract=t.token_contract,
        gas_used=t.gas_used,
        is_error=t.is_error,
        seq=t.seq,
    )


def _order(t: Transfer) -> tuple[int, str, str]:
    """The store's order of an address's rows (``ORDER BY block, tx_hash, seq``)."""
    return (t.block, t.tx_hash, t.seq)


class HistoryCache:
    """The per-address cache in SQLite, plus the decoded rows of each address ``load`` has read.

    A whale's features read up to ``history_days`` of its transfers every cycle (tens of thousands of rows
    for a busy wallet); decoding them again each cycle was most of the cycle. Rows this cache adds after
    the newest one in memory are appended; anything else (a back-fill, a duplicate) drops the address so
    the next ``load`` reads it again from the store. The engine is the only writer of the cache.
    """

    def __init__(self, store: Store, chain: ChainSource) -> None:
        self.store = store
        self.chain = chain
        self.repo = store.whale_history
        self._loaded: dict[str, list[Transfer]] = {}

    def _add(self, address: str, transfers: list[Transfer]) -> int:
        added = self.repo.add([to_record(address, t) for t in transfers])
        rows = self._loaded.get(address)
        if rows is not None and added:
            new = sorted(transfers, key=_order)
            if added == len(new) and (not rows or _order(new[0]) > _order(rows[-1])):
                rows.extend(new)
            else:
                del self._loaded[address]
        return added

    async def sync(
        self, address: str, kinds: Iterable[TransferKind], from_block: int, to_block: int, now: datetime
    ) -> int:
        """Bring ``address`` up to ``to_block`` (and back to ``from_block``) per kind; returns new rows.

        Only what was actually read is marked synced: a fetch cut short (page budget) moves the
        synced edge to its ``through_block`` and the next sync resumes after it, so no block is skipped.
        """
        added = 0
        for kind in kinds:
            state = self.repo.sync_state(address, kind.value)
            if state is None:
                batch = await self.chain.transfers(address, kind, from_block, to_block)
                added += self._add(address, batch.rows)
                lo, hi = from_block, batch.through_block
            else:
                lo, hi = state.from_block, state.to_block
                if from_block < state.from_block:
                    batch = await self.chain.transfers(address, kind, from_block, state.from_block - 1)
                    added += self._add(address, batch.rows)
                    if batch.through_block >= state.from_block - 1:
                        lo = from_block  # the back-fill reached the synced range: one contiguous range
                    else:
                        # Cut short: keep one gap-free range (cached rows past it are re-read, not lost).
                        lo, hi = from_block, batch.through_block
                if to_block > hi and hi >= state.to_block:
                    batch = await self.chain.transfers(address, kind, hi + 1, to_block)
                    added += self._add(address, batch.rows)
                    hi = max(hi, batch.through_block)
            # Written after the fetches succeed: a failed cycle leaves the window to be fetched again.
            self.repo.set_sync(
                HistorySync(address=address, kind=kind.value, from_block=lo, to_block=hi, synced_at=now)
            )
        return added

    def remember(self, address: str, transfers: Iterable[Transfer]) -> int:
        """Cache transfers already read elsewhere under ``address``; the synced range is unchanged."""
        return self._add(address, list(transfers))

    def load(self, address: str, since: datetime | None = None) -> list[Transfer]:
        rows = self._loaded.get(address)
        if rows is None:
            rows = self._loaded[address] = self.repo.read_as(Transfer, address)
        return list(rows) if since is None else [t for t in rows if t.at >= since]

    def window(self, address: str, start: datetime, end: datetime) -> list[Transfer]:
        return self.repo.read_as(Transfer, address, start, end)

    def prune(self, now: datetime, retention_days: int) -> int:
        before = now - timedelta(days=retention_days)
        removed = self.repo.prune(before)
        if removed:
            for address, rows in self._loaded.items():
                self._loaded[address] = [t for t in rows if t.at >= before]
        if removed:
            log.info("whale history cache: pruned %d rows older than %d days", removed, retention_days)
        return removed
