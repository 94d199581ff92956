"""Labelled addresses: the public label set, the curated book, then the operator's file on top.

Three sources, later ones winning per address: the shipped etherscan-labels set (23,288 accounts, 579 of
them exchange wallets, scraped 2023-06-18), the curated book (``data/address_book.json``: the exchange hot
wallets polled each cycle, cross-checked entries), and the operator's own labels file. Every entry says
which source it came from and every source says how old it is, because exchange wallets rotate.

Exchange wallets are the lens, never discovered whales, and DEX/DeFi contracts (routers, pools) only pass
their users' money through; every other labelled address (fund, bridge, staking, MEV bot, sanctioned...)
can be a whale and keeps its label's category.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from smt_engine.whales.addresses import NEVER_WHALES, Category, LabelledAddress, Source, normalize_address
from smt_engine.whales.labels import LABEL_SET_SOURCE, label_set_entries

BOOK_FORMAT = "smt-address-book/1"


class AddressBookError(ValueError):
    """An address book file is malformed; the message names the file and the entry."""


CURATED_SOURCE = Source("curated", "SMT curated book (watched exchange wallets, routers, staking)", None)


class AddressBook:
    def __init__(self, entries: list[LabelledAddress], sources: list[Source] | None = None) -> None:
        self._by_address: dict[str, LabelledAddress] = {}
        for entry in entries:
            self._by_address[entry.address] = entry  # later entries win
        self.sources = list(sources or [])
        self._by_categories: dict[frozenset[Category], frozenset[str]] = {}

    @classmethod
    def curated(cls) -> AddressBook:
        """Only the curated book (the demo's simulator draws its exchanges and routers from it)."""
        text = resources.files("smt_engine.whales.data").joinpath("address_book.json").read_text("utf-8")
        data = json.loads(text)
        source = Source(CURATED_SOURCE.key, CURATED_SOURCE.description, _as_of(data))
        return cls(_parse(data, "shipped address_book.json", source.key), [source])

    @classmethod
    def shipped(cls) -> AddressBook:
        """The public label set with the curated book on top."""
        base = {e.address: e for e in label_set_entries()}
        curated = cls.curated()
        merged = [
            replace(c, tags=b.tags, role=c.role or b.role) if (b := base.get(c.address)) else c
            for c in curated._by_address.values()
        ]
        return cls([*base.values(), *merged], [LABEL_SET_SOURCE, *curated.sources])

    @classmethod
    def load(cls, extra: Path | None = None) -> AddressBook:
        """The shipped book, extended (and overridden per address) by the operator's file ``extra``."""
        book = cls.shipped()
        if extra is None or not Path(extra).exists():
            return book
        data = read_book_file(Path(extra))
        mtime = datetime.fromtimestamp(os.stat(extra).st_mtime, UTC).date()
        source = Source("operator", f"operator labels {extra}", mtime)
        entries = [*book._by_address.values(), *_parse(data, str(extra), source.key)]
        return cls(entries, [*book.sources, source])

    def get(self, address: str) -> LabelledAddress | None:
        return self._by_address.get(address)

    def category(self, address: str) -> Category | None:
        entry = self._by_address.get(address)
        return entry.category if entry else None

    def is_exchange(self, address: str) -> bool:
        return self.category(address) is Category.EXCHANGE

    def can_be_whale(self, address: str) -> bool:
        return self.category(address) not in NEVER_WHALES

    def addresses(self, *categories: Category) -> frozenset[str]:
        """Addresses in any of ``categories`` (computed once per combination: features ask every whale)."""
        key = frozenset(categories)
        found = self._by_categories.get(key)
        if found is None:
            found = frozenset(a for a, e in self._by_address.items() if e.category in key)
            self._by_categories[key] = found
        return found

    def entries(self) -> list[LabelledAddress]:
        return sorted(self._by_address.values(), key=lambda e: (e.category.value, e.name.lower(), e.address))

    def watched(self) -> list[LabelledAddress]:
        """Exchange wallets polled for large transfers, in a fixed order."""
        return sorted(
            (e for e in self._by_address.values() if e.watch and e.category is Category.EXCHANGE),
            key=lambda e: e.address,
        )

    def search(self, text: str) -> list[LabelledAddress]:
        """Entries whose address, name, label, category, role or tags contain ``text`` (any case)."""
        needle = text.strip().lower()
        return [
            e
            for e in self.entries()
            if needle in e.address
            or needle in e.name.lower()
            or needle in e.label.lower()
            or needle == e.category.value
            or (e.role and needle in e.role)
            or any(needle in t for t in e.tags)
        ]

    def __len__(self) -> int:
        return len(self._by_address)


def read_book_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AddressBookError(f"{path}: cannot read address book: {exc}") from None


def add_operator_label(path: Path, entry: LabelledAddress) -> None:
    """Add (or replace) one entry in the operator's labels file, written whole then renamed."""
    data: Any = read_book_file(path) if path.exists() else {"format": BOOK_FORMAT, "addresses": []}
    _parse(data, str(path), "operator")  # refuse to rewrite a file we could not read back
    items = data["addresses"] if isinstance(data, dict) else data
    items[:] = [i for i in items if str(i.get("address", "")).strip().lower() != entry.address]
    record: dict[str, Any] = {"address": entry.address, "category": entry.category.value, "name": entry.name}
    if entry.label != entry.name:
        record["label"] = entry.label
    if entry.role:
        record["role"] = entry.role
    if entry.watch:
        record["watch"] = True
    items.append(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _as_of(data: Any) -> date | None:
    raw = data.get("as_of") if isinstance(data, dict) else None
    try:
        return date.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def _parse(data: Any, origin: str, source: str) -> list[LabelledAddress]:
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
            allowed = ", ".join(c.value for c in Category)
            raise AddressBookError(f"{origin}: entry {i}: {exc} (categories: {allowed})") from None
        name = str(item.get("name") or item.get("label") or category.value)
        out.append(
            LabelledAddress(
                address=address,
                category=category,
                name=name,
                label=str(item.get("label") or name),
                watch=bool(item.get("watch", False)),
                role=str(item.get("role") or ""),
                source=source,
            )
        )
    return out
