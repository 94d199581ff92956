"""Incremental per-address history: fetch only the blocks the cache has not seen, then read from SQLite."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from smt_engine.store import Store
from smt_engine.store.whale_history import HistorySync, HistoryTransfer
from smt_engine.whales.transfers import Transfer, TransferKind

log = logging.getLogger(__name__)


class ChainSource(Protocol):
    """What the whale pipeline needs from a chain: Etherscan in real use, the simulator in the demo."""

    async def block_at(self, when: datetime, closest: str = "before") -> int: ...

    async def transfers(
        self, address: str, kind: TransferKind, startblock: int, endblock: int
    ) -> list[Transfer]: ...

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


def from_record(r: HistoryTransfer) -> Transfer:
    return Transfer(
        kind=TransferKind(r.kind),
        tx_hash=r.tx_hash,
        block=r.block,
        at=r.at,
        from_address=r.from_address,
        to_address=r.to_address,
        value=r.value,
        token_symbol=r.token_symbol,
        token_contract=r.token_contract,
        gas_used=r.gas_used,
        is_error=r.is_error,
        seq=r.seq,
    )


class HistoryCache:
    def __init__(self, store: Store, chain: ChainSource) -> None:
        self.store = store
        self.chain = chain
        self.repo = store.whale_history

    async def sync(
        self, address: str, kinds: Iterable[TransferKind], from_block: int, to_block: int, now: datetime
    ) -> int:
        """Bring ``address`` up to ``to_block`` (and back to ``from_block``) per kind; returns new rows."""
        added = 0
        for kind in kinds:
            state = self.repo.sync_state(address, kind.value)
            if state is None:
                ranges = [(from_block, to_block)]
                lo, hi = from_block, to_block
            else:
                ranges = []
                if from_block < state.from_block:
                    ranges.append((from_block, state.from_block - 1))
                if to_block > state.to_block:
                    ranges.append((state.to_block + 1, to_block))
                lo, hi = min(from_block, state.from_block), max(to_block, state.to_block)
            for start, end in ranges:
                if start > end:
                    continue
                rows = await self.chain.transfers(address, kind, start, end)
                added += self.repo.add([to_record(address, t) for t in rows])
            # Written after the fetches succeed: a failed cycle leaves the window to be fetched again.
            self.repo.set_sync(
                HistorySync(address=address, kind=kind.value, from_block=lo, to_block=hi, synced_at=now)
            )
        return added

    def load(self, address: str, since: datetime | None = None) -> list[Transfer]:
        return [from_record(r) for r in self.repo.for_address(address, since)]

    def window(self, address: str, start: datetime, end: datetime) -> list[Transfer]:
        return [from_record(r) for r in self.repo.between(address, start, end)]

    def prune(self, now: datetime, retention_days: int) -> int:
        removed = self.repo.prune(now - timedelta(days=retention_days))
        if removed:
            log.info("whale history cache: pruned %d rows older than %d days", removed, retention_days)
        return removed
