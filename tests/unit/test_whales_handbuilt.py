"""Hand-built histories (a deposit address, a solo staker, a DeFi trader): a labelled address takes its
label's class; an unlabelled one gets the classifier's answer, which the balance alone never flips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.classifier import WhaleClassifier, label_classification
from smt_engine.whales.features import compute_features
from smt_engine.whales.transfers import Transfer, TransferKind

NOW = datetime(2026, 11, 1, tzinfo=UTC)
BINANCE14 = "0x28c6c06298d514db089934071355e5743bf21d60"
BEACON_DEPOSIT = "0x00000000219ab540356cbb839cbe05303d7705fa"
UNISWAP_V2 = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
DEPOSIT, STAKER, TRADER = ("0x" + c * 40 for c in "def")
_n = 0


def t(
    frm: str,
    to: str,
    value: str,
    days_ago: float,
    kind: TransferKind = TransferKind.NORMAL,
    gas: int = 21_000,
) -> Transfer:
    global _n
    _n += 1
    return Transfer(
        kind=kind,
        tx_hash=f"0x{_n:064x}",
        block=20_000_000 + _n,
        at=NOW - timedelta(days=days_ago),
        from_address=frm,
        to_address=to,
        value=Decimal(value),
        token_symbol="USDT" if kind is TransferKind.ERC20 else "ETH",
        token_contract=USDT if kind is TransferKind.ERC20 else "",
        gas_used=gas,
        seq=str(_n),
    )


def user(i: int) -> str:
    return f"0x{i + 1:040x}"


def deposit_address() -> list[Transfer]:
    """Users deposit to it; every few hours everything is swept to the exchange's hot wallet."""
    rows = []
    for i in range(60):
        rows.append(t(user(i), DEPOSIT, f"{0.2 + i % 7}", days_ago=30 - i * 0.5))
        rows.append(t(user(100 + i), DEPOSIT, "2500", days_ago=30 - i * 0.5, kind=TransferKind.ERC20, gas=0))
        if i % 6 == 5:
            rows.append(t(DEPOSIT, BINANCE14, "20", days_ago=30 - i * 0.5 + 0.01))
            rows.append(t(DEPOSIT, BINANCE14, "15000", days_ago=30 - i * 0.5 + 0.01, kind=TransferKind.ERC20))
    return rows


def solo_staker() -> list[Transfer]:
    """Withdraws from an exchange, then deposits 32-ETH validators to the beacon deposit contract."""
    rows = [t(BINANCE14, STAKER, "130", days_ago=80)]
    rows += [t(STAKER, BEACON_DEPOSIT, "32", days_ago=79 - i, gas=55_000) for i in range(4)]
    rows += [t(user(7), STAKER, "0.05", days_ago=20)]
    return rows


def defi_trader() -> list[Transfer]:
    """Swaps through a DEX router: ETH out, tokens back; tokens out, ETH refunded internally."""
    rows = []
    for i in range(40):
        if i % 2:
            rows.append(t(TRADER, UNISWAP_V2, f"{1 + i % 5}", days_ago=40 - i, gas=180_000))
            rows.append(t(UNISWAP_V2, TRADER, "4000", days_ago=40 - i, kind=TransferKind.ERC20, gas=180_000))
        else:
            rows.append(t(TRADER, UNISWAP_V2, "3000", days_ago=40 - i, kind=TransferKind.ERC20, gas=150_000))
            rows.append(
                t(UNISWAP_V2, TRADER, f"{1 + i % 4}", days_ago=40 - i, kind=TransferKind.INTERNAL, gas=0)
            )
    return rows


CASES = {DEPOSIT: deposit_address, STAKER: solo_staker, TRADER: defi_trader}
BOOK = AddressBook.shipped()
CLASSIFIER = WhaleClassifier.load()


def test_a_labelled_address_takes_its_labels_class(tmp_path: Path) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps(
            {
                "addresses": [
                    {"address": DEPOSIT, "category": "exchange", "name": "Binance", "role": "deposit"},
                    {"address": STAKER, "category": "staking", "name": "Solo staker"},
                    {"address": TRADER, "category": "defi", "name": "DeFi trader"},
                ]
            }
        )
    )
    book = AddressBook.load(labels)
    got = {a: label_classification(book.get(a)) for a in CASES}
    assert {a: (c.whale_class, c.classified_by) for a, c in got.items() if c} == {
        DEPOSIT: ("exchange", "label"),
        STAKER: ("staking", "label"),
        TRADER: ("dex_defi_trader", "label"),
    }
    assert all(c is not None and c.trusted and c.model_version == "label:operator" for c in got.values())
    # Unlabelled, the same addresses go to the classifier.
    assert all(label_classification(BOOK.get(a)) is None for a in CASES)


@pytest.mark.parametrize("address", list(CASES))
def test_the_balance_alone_never_flips_the_class(address: str) -> None:
    history = CASES[address]()
    answers = {
        (c.whale_class, round(c.confidence, 9), c.classified_by)
        for balance in ("0", "0.01", "32", "1000", "250000", "5000000")
        for c in [CLASSIFIER.classify(compute_features(address, history, Decimal(balance), BOOK))]
    }
    assert len(answers) == 1, answers
    (answer,) = answers
    assert answer[2] == "bootstrap"  # the shipped model says what it is


def test_unknown_balance_gives_the_same_answer_as_any_balance() -> None:
    history = deposit_address()
    none = CLASSIFIER.classify(compute_features(DEPOSIT, history, None, BOOK))
    some = CLASSIFIER.classify(compute_features(DEPOSIT, history, Decimal(12), BOOK))
    assert (none.whale_class, none.confidence) == (some.whale_class, some.confidence)
