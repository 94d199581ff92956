"""Exchange flows: what counts as a flow, per window and asset, and when a flow leans the signal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from smt_engine.domain import Bias
from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.flows import FLOW_ASSETS, MIN_HISTORY, flow_signal, measure_flows
from smt_engine.whales.transfers import Transfer, TransferKind

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
BINANCE14 = "0x28c6c06298d514db089934071355e5743bf21d60"
BINANCE15 = "0x21a31ee1afc51d94c2efccaa2092ad1028285549"
USER, FUND = "0x" + "1" * 40, "0x" + "2" * 40
BOOK = AddressBook.shipped()
_n = 0


def move(
    frm: str, to: str, value: str, hours_ago: float, asset: str = "ETH", contract: str | None = None
) -> Transfer:
    global _n
    _n += 1
    native = asset == "ETH"
    return Transfer(
        kind=TransferKind.NORMAL if native else TransferKind.ERC20,
        tx_hash=f"0x{_n:064x}",
        block=_n,
        at=NOW - timedelta(hours=hours_ago),
        from_address=frm,
        to_address=to,
        value=Decimal(value),
        token_symbol=asset,
        token_contract="" if native else (contract if contract is not None else FLOW_ASSETS[asset]),
    )


def by_key(flows: list) -> dict[tuple[int, str], tuple[Decimal, Decimal, int]]:  # type: ignore[type-arg]
    return {(f.window_hours, f.asset): (f.inflow, f.outflow, f.transfers) for f in flows}


def test_flows_per_window_and_asset_exclude_internal_moves_and_fake_tokens() -> None:
    deposit = move(USER, BINANCE14, "500", 0.5)
    shuffle = move(BINANCE14, BINANCE15, "9000", 0.5)  # exchange-internal: not a flow
    withdrawal = move(BINANCE15, FUND, "200", 3)
    usdt_in = move(USER, BINANCE14, "2000000", 5, "USDT")
    fake_usdt = move(USER, BINANCE14, "99000000", 5, "USDT", contract="0x" + "e" * 40)
    steth_out = move(BINANCE14, FUND, "1000", 20, "stETH")
    old = move(USER, BINANCE14, "7777", 30)
    watched = {
        BINANCE14: [deposit, shuffle, usdt_in, fake_usdt, steth_out, old],
        BINANCE15: [shuffle, withdrawal],
    }
    flows = by_key(measure_flows(watched, BOOK, "c1", NOW))
    assert len(flows) == 3 * 5
    assert flows[(1, "ETH")] == (Decimal(500), Decimal(0), 1)
    assert flows[(6, "ETH")] == (Decimal(500), Decimal(200), 2)
    assert flows[(6, "USDT")] == (Decimal(2_000_000), Decimal(0), 1)
    assert flows[(6, "stETH")] == (Decimal(0), Decimal(0), 0)
    assert flows[(24, "stETH")] == (Decimal(0), Decimal(1000), 1)
    assert flows[(24, "ETH")] == (Decimal(500), Decimal(200), 2)  # 30 h old deposit is outside
    assert flows[(24, "USDC")] == (Decimal(0), Decimal(0), 0)


def _flows(eth_net: str, usdt_net: str) -> list:  # type: ignore[type-arg]
    watched = {BINANCE14: [move(USER, BINANCE14, eth_net, 1), move(USER, BINANCE14, usdt_net, 1, "USDT")]}
    return measure_flows(watched, BOOK, "c", NOW)


HISTORY = [Decimal(v) for v in (-100, 50, 0, 80, -60, 20, -40, 10, 30, -20, 60, -50)]
STABLE_HISTORY = [v * 10_000 for v in HISTORY]


def test_no_history_or_an_ordinary_flow_is_neutral_with_zero_confidence() -> None:
    flows = _flows("5000", "90000000")
    early = flow_signal("ETH", flows, HISTORY[: MIN_HISTORY - 1], STABLE_HISTORY[: MIN_HISTORY - 1])
    assert early is not None
    assert early.neutral
    assert early.confidence == 0
    assert "fewer than 12 past cycles" in early.reasoning
    ordinary = flow_signal("ETH", _flows("20", "100000"), HISTORY, STABLE_HISTORY)
    assert ordinary is not None
    assert ordinary.bias is Bias.NEUTRAL
    assert ordinary.confidence == 0
    assert flow_signal("SOL", flows, HISTORY, STABLE_HISTORY) is None


def test_stablecoin_inflow_is_bullish_for_eth_and_btc_eth_inflow_bearish_for_eth_only() -> None:
    stables_in = flow_signal("ETH", _flows("0.5", "5000000"), HISTORY, STABLE_HISTORY)
    assert stables_in is not None
    assert stables_in.bias is Bias.BULLISH
    assert stables_in.confidence > 0
    btc = flow_signal("BTC", _flows("0.5", "5000000"), HISTORY, STABLE_HISTORY)
    assert btc is not None
    assert btc.bias is Bias.BULLISH
    eth_in = flow_signal("ETH", _flows("800", "1"), HISTORY, STABLE_HISTORY)
    assert eth_in is not None
    assert eth_in.bias is Bias.BEARISH
    assert "ETH-like net +800.00 over 6 h" in eth_in.reasoning
    btc_eth_in = flow_signal("BTC", _flows("800", "1"), HISTORY, STABLE_HISTORY)
    assert btc_eth_in is not None
    assert btc_eth_in.bias is Bias.NEUTRAL
