"""The one transfer type every whale module shares, with units fixed at the boundary.

``value`` is in whole units of the moved asset (ETH for native transfers, the token for ERC-20,
a token count for NFTs), exact ``Decimal``. Only native transfers carry ETH: ``value_eth`` is zero
for every token row, so token amounts can never leak into ETH sums (the seed system's unit bug).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


class TransferKind(StrEnum):
    NORMAL = "normal"
    INTERNAL = "internal"
    ERC20 = "erc20"
    ERC721 = "erc721"
    ERC1155 = "erc1155"

    @property
    def native(self) -> bool:
        return self in (TransferKind.NORMAL, TransferKind.INTERNAL)

    @property
    def nft(self) -> bool:
        return self in (TransferKind.ERC721, TransferKind.ERC1155)


ALL_KINDS: tuple[TransferKind, ...] = tuple(TransferKind)
NATIVE_KINDS: tuple[TransferKind, ...] = (TransferKind.NORMAL, TransferKind.INTERNAL)


@dataclass(frozen=True, slots=True)
class Transfer:
    """One value movement seen on chain (a tx, an internal call, or a token transfer log)."""

    kind: TransferKind
    tx_hash: str
    block: int
    at: datetime
    from_address: str
    to_address: str
    value: Decimal
    token_symbol: str = "ETH"  # noqa: S105 - a ticker, not a secret
    token_contract: str = ""
    gas_used: int = 0
    is_error: bool = False
    seq: str = ""  # logIndex / traceId: tells apart several transfers inside one transaction

    @property
    def value_eth(self) -> Decimal:
        return self.value if self.kind.native and not self.is_error else ZERO

    @property
    def uid(self) -> str:
        """Stable identity for de-duplication across overlapping fetches."""
        return (
            f"{self.kind.value}:{self.tx_hash}:{self.seq}:{self.from_address}:{self.to_address}:"
            f"{self.token_contract}:{self.value}"
        )

    def touches(self, address: str) -> bool:
        return address in (self.from_address, self.to_address)


@dataclass(frozen=True, slots=True)
class TransferBatch:
    """What one fetch read: ``rows``, complete for every block up to ``through_block``."""

    rows: list[Transfer]
    through_block: int


def utc_from_unix(seconds: int | str) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


def wei_to_units(raw: str | int, decimals: int) -> Decimal:
    """Exact conversion of an integer base-unit amount (``scaleb`` never rounds)."""
    value = Decimal(int(raw))
    return value.scaleb(-decimals) if decimals else value
