"""What a labelled address is: its category, the source the label came from, the address's spelling.

The label set (``labels``) and the address book (``addressbook``) both speak in these types, so they sit
below both: the book loads the label set, and the label set never needs the book.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

_ADDRESS_RE = re.compile(r"^0x[0-9a-f]{40}$")


class Category(StrEnum):
    EXCHANGE = "exchange"
    DEX = "dex"
    DEFI = "defi"
    BRIDGE = "bridge"
    MEV_BOT = "mev_bot"
    STAKING = "staking"
    FUND = "fund"
    SANCTIONED = "sanctioned"
    MINING = "mining"  # historical: no mining on Ethereum since the Merge (2022-09-15)
    OTHER = "other"


DEFI_CATEGORIES = frozenset({Category.DEX, Category.DEFI})
# Exchanges are the lens; DEX and DeFi contracts only pass their users' money through.
NEVER_WHALES = frozenset({Category.EXCHANGE, *DEFI_CATEGORIES})


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    description: str
    as_of: date | None  # when the labels were collected (scraped, curated, last edited)

    def age_days(self, today: date) -> int | None:
        return (today - self.as_of).days if self.as_of is not None else None


@dataclass(frozen=True, slots=True)
class LabelledAddress:
    address: str
    category: Category
    name: str
    label: str
    watch: bool = False
    role: str = ""  # exchange wallets: hot, cold, deposit, fiat gateway (when known)
    tags: tuple[str, ...] = ()
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "category": self.category.value,
            "name": self.name,
            "label": self.label,
            "role": self.role,
            "tags": list(self.tags),
            "watch": self.watch,
            "source": self.source,
        }


def normalize_address(value: str) -> str:
    """Lower-case hex address, or ValueError: every comparison in this package uses this form."""
    text = value.strip().lower()
    if not _ADDRESS_RE.match(text):
        raise ValueError(f"not an Ethereum address: {value!r}")
    return text
