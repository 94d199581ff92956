"""Labelled addresses: the shipped book plus an operator's extension file.

Exchange wallets are context (where money goes and comes from), never discovered whales; DeFi
routers and staking contracts are counterparties, not whales either. Mining addresses may be
discovered (a pool moving ETH to an exchange is exactly the flow we want) and keep their label.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

_ADDRESS_RE = re.compile(r"^0x[0-9a-f]{40}$")


class Category(StrEnum):
    EXCHANGE = "exchange"
    DEFI = "defi"
    STAKING = "staking"
    MINING = "mining"
    OTHER = "other"


NEVER_WHALES = frozenset({Category.EXCHANGE, Category.DEFI, Category.STAKING})


class AddressBookError(ValueError):
    """An address book file is malformed; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class LabelledAddress:
    address: str
    category: Category
    name: str
    label: str
    watch: bool = False


def normalize_address(value: str) -> str:
    """Lower-case hex address, or ValueError: every comparison in this package uses this form."""
    text = value.strip().lower()
    if not _ADDRESS_RE.match(text):
        raise ValueError(f"not an Ethereum address: {value!r}")
    return text


class AddressBook:
    def __init__(self, entries: list[LabelledAddress]) -> None:
        self._by_address: dict[str, LabelledAddress] = {}
        for entry in entries:
            self._by_address[entry.address] = entry  # later entries (operator's file) win

    @classmethod
    def shipped(cls) -> AddressBook:
        text = resources.files("smt_engine.whales.data").joinpath("address_book.json").read_text("utf-8")
        return cls(_parse(json.loads(text), "shipped address_book.json"))

    @classmethod
    def load(cls, extra: Path | None = None) -> AddressBook:
        """The shipped book, extended (and overridden per address) by ``extra``."""
        entries = list(cls.shipped()._by_address.values())
        if extra is not None:
            try:
                data = json.loads(Path(extra).read_text("utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise AddressBookError(f"{extra}: cannot read address book: {exc}") from None
            entries.extend(_parse(data, str(extra)))
        return cls(entries)

    def get(self, address: str) -> LabelledAddress | None:
        return self._by_address.get(address)

    def category(self, address: str) -> Category | None:
        entry = self._by_address.get(address)
        return entry.category if entry else None

    def is_exchange(self, address: str) -> bool:
        return self.category(address) is Category.EXCHANGE

    def is_defi(self, address: str) -> bool:
        return self.category(address) is Category.DEFI

    def can_be_whale(self, address: str) -> bool:
        return self.category(address) not in NEVER_WHALES

    def addresses(self, category: Category) -> frozenset[str]:
        return frozenset(a for a, e in self._by_address.items() if e.category is category)

    def watched(self) -> list[LabelledAddress]:
        """Exchange wallets polled for large transfers, in a fixed order."""
        return sorted(
            (e for e in self._by_address.values() if e.watch and e.category is Category.EXCHANGE),
            key=lambda e: e.address,
        )

    def __len__(self) -> int:
        return len(self._by_address)


def _parse(data: Any, origin: str) -> list[LabelledAddress]:
    items = data.get("addresses") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise AddressBookError(f"{origin}: expected a list of entries under 'addresses'")
    out: list[LabelledAddress] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise AddressBookError(f"{origin}: entry {i} is not an object")
        try:
            address = normalize_address(str(item["address"]))
            category = Category(str(item.get("category", "other")).lower())
        except KeyError:
            raise AddressBookError(f"{origin}: entry {i} has no 'address'") from None
        except ValueError as exc:
            raise AddressBookError(f"{origin}: entry {i}: {exc}") from None
        name = str(item.get("name") or item.get("label") or category.value)
        out.append(
            LabelledAddress(
                address=address,
                category=category,
                name=name,
                label=str(item.get("label") or name),
                watch=bool(item.get("watch", False)),
            )
        )
    return out
