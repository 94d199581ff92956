"""Which addresses are whales this cycle: large transfers touching the watched exchange wallets.

Exchange wallets are the lens, not the subject: a transfer between two labelled exchange wallets is
recorded but names no whale, and no exchange, router or staking contract is ever returned as one
(the seed added all its CEX wallets to the whale set). Ranking is by volume, ties by address, so the
same chain state always yields the same whales.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.flows import eth_equivalent
from smt_engine.whales.transfers import Transfer


@dataclass(frozen=True, slots=True)
class LargeTransfer:
    transfer: Transfer
    exchange: str  # the watched wallet it touched
    exchange_label: str
    direction: str  # "to_exchange" | "from_exchange"
    counterparty: str


@dataclass(frozen=True, slots=True)
class WhaleCandidate:
    address: str
    volume_eth: Decimal
    transfers: int
    label: str | None


def large_transfers(
    watched: dict[str, list[Transfer]],
    book: AddressBook,
    start: datetime,
    end: datetime,
    min_eth: Decimal,
) -> list[LargeTransfer]:
    """ETH, WETH or stETH transfers >= ``min_eth`` in ``[start, end]`` touching a watched wallet."""
    seen: set[str] = set()
    out: list[LargeTransfer] = []
    for exchange in sorted(watched):
        entry = book.get(exchange)
        label = entry.label if entry else exchange
        for t in watched[exchange]:
            if not (start <= t.at <= end) or eth_equivalent(t) < min_eth or t.uid in seen:
                continue
            if t.to_address == exchange:
                direction, other = "to_exchange", t.from_address
            elif t.from_address == exchange:
                direction, other = "from_exchange", t.to_address
            else:
                continue
            seen.add(t.uid)
            out.append(LargeTransfer(t, exchange, label, direction, other))
    out.sort(key=lambda lt: (lt.transfer.block, lt.transfer.tx_hash, lt.transfer.seq))
    return out


def rank_whales(
    transfers: Iterable[LargeTransfer], book: AddressBook, max_whales: int
) -> list[WhaleCandidate]:
    volume: dict[str, Decimal] = defaultdict(Decimal)
    count: dict[str, int] = defaultdict(int)
    for lt in transfers:
        other = lt.counterparty
        if not other or not book.can_be_whale(other):
            continue
        volume[other] += eth_equivalent(lt.transfer)
        count[other] += 1
    ranked = sorted(volume, key=lambda a: (-volume[a], a))[:max_whales]
    return [
        WhaleCandidate(a, volume[a], count[a], (book.get(a).label if book.get(a) else None))  # type: ignore[union-attr]
        for a in ranked
    ]
