"""The shipped public label set (etherscan-labels, scraped 2023-06-18) as address-book entries.

Raw Etherscan labels are many and uneven (422 distinct tags); what the whale code needs is one category
per address and, for exchanges, the wallet's role. The 579 exchange accounts are exactly the ones in
``eth-cex-labels.json`` (its ``labels_used``); every other account gets the first category whose tags
match, in an order that puts the strongest statement first (sanctions before DEX, for example).
Attribution and licence: ``data/LABELS-ATTRIBUTION.md`` and ``data/LICENSE-etherscan-labels.txt``.
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from smt_engine.whales.addresses import Category, LabelledAddress, Source

LABEL_SET_FILE = "eth-account-labels-2023.json"
CEX_FILE = "eth-cex-labels.json"
LABEL_SET_SOURCE = Source(
    key="etherscan-labels",
    description="etherscan-labels (Etherscan label cloud, github.com/brianleect/etherscan-labels, MIT)",
    as_of=date(2023, 6, 18),
)

# First match wins. Tags are Etherscan's label slugs.
CATEGORY_TAGS: tuple[tuple[Category, frozenset[str]], ...] = (
    (Category.SANCTIONED, frozenset({"ofac-sanctions-lists", "tornado-cash", "blocked"})),
    (Category.MEV_BOT, frozenset({"mev-bot", "mev-builder", "proposer-fee-recipient"})),
    (Category.BRIDGE, frozenset({"bridge", "layer-2", "hop-protocol", "across-protocol", "multichain"})),
    (Category.STAKING, frozenset({"staking", "lido", "rocket-pool", "oracle-dao", "stakewise"})),
    (
        Category.FUND,
        frozenset({"fund", "alameda-research", "defiance-capital", "company-funds", "dao-funds", "trading"}),
    ),
    (Category.MINING, frozenset({"mining", "f2pool", "miningpoolhub"})),
    (
        Category.DEX,
        frozenset(
            {
                "dex",
                "dex-ag",
                "sushiswap",
                "balancer",
                "bancor",
                "curve-fi",
                "kyberswap",
                "1inch",
                "0x-protocol",
                "0x-protocol-ecosystem",
                "dydx",
                "paraswap",
                "airswap",
                "idex",
                "tokenlon",
                "pancakeswap",
                "sudoswap",
                "uniswap",
            }
        ),
    ),
    (
        Category.DEFI,
        frozenset(
            {
                "defi",
                "aave",
                "compound",
                "maker",
                "maker-vault-owner",
                "yearn-finance",
                "synthetix",
                "yield-farming",
                "vaults",
                "convex-finance",
                "alchemix-finance",
                "aura-finance",
                "idle-finance",
                "cream-finance",
                "instadapp",
                "derivatives",
            }
        ),
    ),
)

ROLE_TAGS: tuple[tuple[str, str], ...] = (
    ("binance-deposit", "deposit"),
    ("hot-wallet", "hot"),
    ("cold-wallet", "cold"),
    ("fiat-gateway", "fiat gateway"),
)


def category_for(tags: list[str] | tuple[str, ...], exchange: bool) -> Category:
    if exchange:
        return Category.EXCHANGE
    present = set(tags)
    for category, wanted in CATEGORY_TAGS:
        if present & wanted:
            return category
    return Category.OTHER


def role_for(name: str, tags: list[str] | tuple[str, ...]) -> str:
    for tag, role in ROLE_TAGS:
        if tag in tags:
            return role
    lowered = name.lower()
    for word in ("deposit", "hot", "cold"):
        if word in lowered:
            return word
    return ""


def _read(filename: str) -> Any:
    text = resources.files("smt_engine.whales.data").joinpath(filename).read_text("utf-8")
    return json.loads(text)


@cache
def label_set_entries() -> tuple[LabelledAddress, ...]:
    """Every account of the shipped label set, categorised; parsed once per process."""
    accounts: dict[str, dict[str, Any]] = _read(LABEL_SET_FILE)
    cex = set(_read(CEX_FILE)["accounts"])
    out: list[LabelledAddress] = []
    for address, record in accounts.items():
        tags = tuple(str(t) for t in record.get("labels") or ())
        name = str(record.get("name") or "").strip() or (tags[0] if tags else address)
        exchange = address in cex
        out.append(
            LabelledAddress(
                address=address.lower(),
                category=category_for(tags, exchange),
                name=name,
                label=name,
                role=role_for(name, tags) if exchange else "",
                tags=tags,
                source=LABEL_SET_SOURCE.key,
            )
        )
    return tuple(out)
