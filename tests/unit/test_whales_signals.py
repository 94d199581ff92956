"""Flow -> signal: the seed's table and bonus, and the all-whale aggregate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from smt_engine.domain import Bias, Flow
from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.classifier import Classification
from smt_engine.whales.discovery import large_transfers, rank_whales
from smt_engine.whales.signals import aggregate, btc_proxy, recent_flow, whale_signal
from smt_engine.whales.transfers import Transfer, TransferKind

NOW = datetime(2026, 1, 12, 12, tzinfo=UTC)
W = "0x" + "aa" * 20
BINANCE = "0x28c6c06298d514db089934071355e5743bf21d60"
COINBASE = "0x71660c4005ba85c37ccec55d0c4493e66fe775d3"
BOOK = AddressBook.shipped()


def eth(
    src: str, dst: str, value: str, hours_ago: float = 1, kind: TransferKind = TransferKind.NORMAL
) -> Transfer:
    return Transfer(
        kind=kind,
        tx_hash=f"0x{abs(hash((src, dst, value, hours_ago))):064x}",
        block=1000,
        at=NOW - timedelta(hours=hours_ago),
        from_address=src,
        to_address=dst,
        value=Decimal(value),
        token_symbol="ETH" if kind is not TransferKind.ERC20 else "USDT",
    )


def flow(history: list[Transfer]):  # type: ignore[no-untyped-def]
    return recent_flow(W, history, BOOK, NOW, timedelta(hours=6), Decimal(100))


def test_seed_example_cex_outflow_with_exchange_bonus() -> None:
    f = flow([eth(W, BINANCE, "300")])
    assert f.direction is Flow.OUTFLOW
    assert f.cex_outflow == 300
    s = whale_signal(W, Classification("exchange", 0.70, "label", "label:curated"), f, "c1", NOW)
    assert s is not None
    assert s.bias is Bias.BULLISH
    assert s.confidence == pytest.approx(0.665)


def test_mixed_flow_is_skipped_and_old_or_token_rows_do_not_count() -> None:
    history = [
        eth(W, "0x" + "11" * 20, "150"),
        eth("0x" + "22" * 20, W, "100"),
        eth("0x" + "22" * 20, W, "5000", hours_ago=7),  # outside the window
        eth("0x" + "22" * 20, W, "900000", kind=TransferKind.ERC20),  # USDT is not ETH
    ]
    f = flow(history)
    assert (f.inflow, f.outflow, f.direction) == (Decimal(100), Decimal(150), Flow.MIXED)
    assert whale_signal(W, Classification("large_holder", 0.9, "model", "m"), f, "c", NOW) is None


def test_table_and_cap() -> None:
    cls = Classification("large_holder", 1.0, "model", "m")
    s = whale_signal(W, cls, flow([eth(W, BINANCE, "500")]), "c", NOW)
    assert s is not None
    assert s.bias is Bias.BEARISH
    assert s.confidence == pytest.approx(0.80)
    s = whale_signal(
        W, Classification("exchange", 1.0, "label", "l"), flow([eth(W, BINANCE, "500")]), "c", NOW
    )
    assert s is not None
    assert s.confidence == pytest.approx(0.95)
    s = whale_signal(
        W, Classification("unknown", 1.0, "model", "m"), flow([eth("0x" + "11" * 20, W, "500")]), "c", NOW
    )
    assert s is not None
    assert s.bias is Bias.NEUTRAL
    assert s.confidence == pytest.approx(0.30)


@pytest.mark.parametrize("by", ["bootstrap", "none"])
def test_a_bootstrap_or_missing_model_class_never_leans(by: str) -> None:
    """While the model is the bootstrap its class changes no signal (and so no size or tier)."""
    for whale_class in ("exchange", "large_holder", "staking", "fund_market_maker"):
        for history in ([eth(W, BINANCE, "500")], [eth(BINANCE, W, "500")]):
            s = whale_signal(W, Classification(whale_class, 0.99, by, "b"), flow(history), "c", NOW)
            assert s is not None, (whale_class, by)
            assert s.bias is Bias.NEUTRAL, (whale_class, by)


def _sig(bias: Bias, conf: float, net: str):  # type: ignore[no-untyped-def]
    f = flow([eth(W, "0x" + "11" * 20, net)] if Decimal(net) > 0 else [])
    s = whale_signal(W, Classification("large_holder", 1.0, "model", "m"), f, "c", NOW)
    assert s is not None
    s.bias, s.confidence = bias, conf
    return s


def test_aggregate_combines_all_whales() -> None:
    one = aggregate([_sig(Bias.BULLISH, 0.665, "200")], "c", NOW)
    assert (one.bias, one.confidence, one.is_aggregate) == (Bias.BULLISH, 0.665, True)
    cancel = aggregate([_sig(Bias.BULLISH, 0.6, "200"), _sig(Bias.BEARISH, 0.6, "200")], "c", NOW)
    assert cancel.bias is Bias.NEUTRAL
    assert cancel.confidence == 0
    # bull 0.6 + 0.4, bear 0.3, neutral 0.2: lean = 0.7 / 1.5, times the bullish mean 0.5
    mixed = aggregate(
        [
            _sig(Bias.BULLISH, 0.6, "200"),
            _sig(Bias.BULLISH, 0.4, "200"),
            _sig(Bias.BEARISH, 0.3, "200"),
            _sig(Bias.NEUTRAL, 0.2, "200"),
        ],
        "c",
        NOW,
    )
    assert mixed.bias is Bias.BULLISH
    assert mixed.confidence == pytest.approx(round(0.7 / 1.5 * 0.5, 4))
    assert mixed.outflow_eth == 800
    assert "2 bullish, 1 bearish, 1 neutral" in mixed.reasoning
    empty = aggregate([], "c", NOW)
    assert (empty.bias, empty.confidence) == (Bias.NEUTRAL, 0.0)
    proxy = btc_proxy(one, 0.8)
    assert proxy.confidence == pytest.approx(0.532)
    assert proxy.reasoning.startswith("BTC proxy")


def test_discovery_excludes_exchanges_and_ranks_deterministically() -> None:
    a, b, c = "0x" + "0a" * 20, "0x" + "0b" * 20, "0x" + "0c" * 20
    watched = {
        BINANCE: [
            eth(b, BINANCE, "300"),
            eth(BINANCE, a, "300"),
            eth(c, BINANCE, "99.99"),  # below the threshold
            eth(BINANCE, COINBASE, "5000"),  # exchange shuffle: recorded, no whale
            eth(BINANCE, "0x7a250d5630b4cf539739df2c5dacb4c659f2488d", "700"),  # a router is no whale
            eth(c, BINANCE, "400", hours_ago=8),  # outside the window
        ],
        COINBASE: [eth(BINANCE, COINBASE, "5000"), eth(c, COINBASE, "250")],
    }
    big = large_transfers(watched, BOOK, NOW - timedelta(hours=6), NOW, Decimal(100))
    assert len(big) == 5  # the shuffle appears once although both wallets see it
    ranked = rank_whales(big, BOOK, max_whales=10)
    assert [(w.address, w.volume_eth) for w in ranked] == [(a, 300), (b, 300), (c, 250)]
    assert [w.address for w in rank_whales(big, BOOK, max_whales=2)] == [a, b]
    assert all(BOOK.can_be_whale(w.address) for w in ranked)


def test_aggregate_names_the_labelled_whales_behind_it() -> None:
    fund, other = "0x" + "f1" * 20, "0x" + "e2" * 20
    a = whale_signal(
        fund, Classification("fund_market_maker", 0.9, "label", "l"), flow([eth(BINANCE, W, "300")]), "c", NOW
    )
    b = whale_signal(
        other, Classification("unknown", 0.4, "bootstrap", "b"), flow([eth(W, BINANCE, "900")]), "c", NOW
    )
    assert a is not None
    assert b is not None
    a.address, b.address = fund, other
    agg = aggregate([a, b], "c", NOW, {fund: "a16z"})
    assert agg.reasoning.endswith("; labelled: a16z (fund_market_maker) net +300.00 ETH BULLISH")
    assert "0x" not in agg.reasoning.split("labelled:")[1]  # only labelled whales are named
