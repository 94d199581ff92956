"""The 32 features of a hand-built history, checked one by one."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.features import FEATURE_SCHEMA, N_FEATURES, as_dict, compute_features
from smt_engine.whales.transfers import Transfer, TransferKind

A = "0x" + "aa" * 20
X = "0x" + "11" * 20
Y = "0x" + "22" * 20
BINANCE = "0x28c6c06298d514db089934071355e5743bf21d60"
ROUTER = "0x7a250d5630b4cf539739df2c5dacb4c659f2488d"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def t(kind: TransferKind, days: float, src: str, dst: str, value: str, gas: int, **kw: object) -> Transfer:
    return Transfer(
        kind=kind,
        tx_hash=f"0x{int(days * 10):064x}",
        block=100 + int(days * 7200),
        at=T0 + timedelta(days=days),
        from_address=src,
        to_address=dst,
        value=Decimal(value),
        gas_used=gas,
        **kw,  # type: ignore[arg-type]
    )


HISTORY = [
    t(TransferKind.NORMAL, 0, BINANCE, A, "150", 21_000),
    t(TransferKind.NORMAL, 1, A, X, "20", 21_000),
    t(TransferKind.ERC20, 2, ROUTER, A, "1234.56789", 65_000, token_symbol="USDC", token_contract=USDC),
    t(TransferKind.INTERNAL, 3, ROUTER, A, "0.5", 0),
    t(TransferKind.NORMAL, 4, A, ROUTER, "5", 30_000, is_error=True),
    t(TransferKind.ERC721, 4.5, Y, A, "1", 90_000, token_symbol="NFT", token_contract="0x" + "33" * 20),
]


def test_schema_is_the_seed_list_in_order() -> None:
    assert N_FEATURES == 32
    assert FEATURE_SCHEMA.names[0] == "total_txs"
    assert FEATURE_SCHEMA.names[-1] == "balance_eth_log"
    assert FEATURE_SCHEMA.names[24:26] == ("defi_interactions", "cex_interactions")


def test_hand_built_history_value_by_value() -> None:
    f = as_dict(compute_features(A, HISTORY, Decimal(99), AddressBook.shipped()))
    mean = (150 + 20 + 0.5) / 3
    expected = {
        "total_txs": 6,
        "incoming_count": 4,
        "outgoing_count": 2,
        "incoming_volume_eth": 150.5,  # the failed 5 ETH and the 1234 USDC are not ETH
        "outgoing_volume_eth": 20,
        "net_flow_eth": 130.5,
        "avg_tx_value_eth": mean,
        "max_tx_value_eth": 150,
        "min_tx_value_eth": 0.5,
        "std_tx_value_eth": math.sqrt(((150 - mean) ** 2 + (20 - mean) ** 2 + (0.5 - mean) ** 2) / 3),
        "median_tx_value_eth": 20,
        "unique_counterparties": 4,
        "unique_incoming": 3,
        "unique_outgoing": 2,
        "activity_span_days": 4.5,
        "avg_time_between_tx_hours": 4.5 * 24 / 5,
        "tx_per_day": 6 / 4.5,
        "erc20_tx_count": 1,
        "erc20_ratio": 1 / 6,
        "unique_tokens": 2,
        "nft_tx_count": 1,
        "nft_ratio": 1 / 6,
        "internal_tx_count": 1,
        "internal_ratio": 1 / 6,
        "defi_interactions": 3,
        "cex_interactions": 1,
        "large_tx_count": 2,
        "large_tx_ratio": 2 / 6,
        "gas_avg": 45_400,
        "gas_max": 90_000,
        "gas_total": 227_000,
        "balance_eth_log": math.log(100),
    }
    assert list(f) == list(expected)
    for name, value in expected.items():
        assert f[name] == pytest.approx(value, rel=1e-12), name


def test_order_of_input_does_not_matter_and_empty_history_is_zero() -> None:
    book = AddressBook.shipped()
    forward = compute_features(A, HISTORY, Decimal(99), book)
    backward = compute_features(A, list(reversed(HISTORY)), Decimal(99), book)
    assert np.allclose(forward, backward)
    empty = compute_features(A, [], None, book)
    assert empty.shape == (32,)
    assert not empty.any()


def test_a_cex_wallet_does_not_count_itself_as_a_cex_interaction() -> None:
    rows = [t(TransferKind.NORMAL, i, X, BINANCE, "1", 21_000) for i in range(12)]
    f = as_dict(compute_features(BINANCE, rows, None, AddressBook.shipped()))
    assert f["cex_interactions"] == 0
    assert f["total_txs"] == 12
