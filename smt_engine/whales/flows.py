"""Exchange flows: net ETH, WETH, stETH, USDT and USDC into labelled exchange wallets per 1 h, 6 h, 24 h.

What carries information (arXiv 2411.06327, 2017-2023 data, 1-6 h horizons): stablecoin net inflow to
exchanges forecasts higher BTC and ETH returns (buying power arriving), ETH net inflow forecasts lower
ETH returns (coins arriving to be sold); BTC net inflow forecasts little. That is what ``flow_signal``
reads, and only when a flow is unusual against its own recorded history (a z-score over past cycles):
no history or an ordinary flow is NEUTRAL with confidence 0, which changes nothing downstream.

Tokens are recognised by contract address, never by symbol (anyone can deploy a token called USDT).
A transfer between two labelled exchange wallets (hot to cold, one exchange to another) is not a flow
into or out of exchanges and is left out. Only the watched exchange wallets are read, so the numbers are
the flows of those wallets, not of every exchange: the prompt says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from smt_engine.domain import Bias
from smt_engine.store.flows import ExchangeFlow
from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.transfers import ZERO, Transfer, TransferKind

WINDOWS_HOURS: tuple[int, ...] = (1, 6, 24)
SIGNAL_WINDOW_HOURS = 6
# symbol -> ERC-20 contract on Ethereum mainnet ("" = native ETH)
FLOW_ASSETS: dict[str, str] = {
    "ETH": "",
    "WETH": "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
    "stETH": "0xae7ab96520de3a18e5e111b5eaab095312d7fe84",
    "USDT": "0xdac17f958d2ee523a2206206994597c13d831ec7",
    "USDC": "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
}
ETH_LIKE = ("ETH", "WETH", "stETH")
STABLES = ("USDT", "USDC")
SIGNAL_STABLES = ("USDT",)
"""The stablecoin the signal reads: the published effect is USDT's; USDC is measured and scored apart."""
_ASSET_BY_CONTRACT = {c: s for s, c in FLOW_ASSETS.items() if c}


def flow_asset(t: Transfer) -> str | None:
    """The flow asset a transfer moves, or None (other tokens, NFTs, failed transactions)."""
    if t.is_error:
        return None
    if t.kind.native:
        return "ETH"
    if t.kind is TransferKind.ERC20:
        return _ASSET_BY_CONTRACT.get(t.token_contract)
    return None


def eth_equivalent(t: Transfer) -> Decimal:
    """ETH moved, counting WETH and stETH (1:1) as ETH; 0 for every other token and failed transactions."""
    return t.value if flow_asset(t) in ETH_LIKE else ZERO


def measure_flows(
    watched: Mapping[str, Sequence[Transfer]],
    book: AddressBook,
    cycle_id: str,
    now: datetime,
    complete_wallets: int | None = None,
    windows: Sequence[int] = WINDOWS_HOURS,
) -> list[ExchangeFlow]:
    """One row per (window, asset) from the transfers of the watched exchange wallets.

    ``wallets`` on each row is ``complete_wallets`` (default: every wallet given): the wallets whose
    window was read whole, so a later cycle compares only with cycles that read every watched wallet.
    """
    seen: set[str] = set()
    moves: list[tuple[Transfer, str, bool]] = []  # transfer, asset, into an exchange
    for wallet in sorted(watched):
        for t in watched[wallet]:
            asset = flow_asset(t)
            if asset is None or t.uid in seen or not t.value:
                continue
            into = t.to_address == wallet
            if not into and t.from_address != wallet:
                continue
            other = t.from_address if into else t.to_address
            if book.is_exchange(other):
                continue  # exchange-internal, or exchange to exchange: no net flow
            seen.add(t.uid)
            moves.append((t, asset, into))
    out: list[ExchangeFlow] = []
    for hours in windows:
        since = now - timedelta(hours=hours)
        for asset in FLOW_ASSETS:
            inflow = outflow = ZERO
            count = 0
            for t, a, into in moves:
                if a != asset or not (since < t.at <= now):
                    continue
                count += 1
                if into:
                    inflow += t.value
                else:
                    outflow += t.value
            out.append(
                ExchangeFlow(
                    cycle_id=cycle_id,
                    at=now,
                    window_hours=hours,
                    asset=asset,
                    inflow=inflow,
                    outflow=outflow,
                    net=inflow - outflow,
                    transfers=count,
                    wallets=len(watched) if complete_wallets is None else complete_wallets,
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class FlowScore:
    """How unusual one series' latest net flow is against its recorded history."""

    series: str  # "ETH-like" or "USDT"
    net: Decimal
    zscore: float | None  # None: not enough history to judge


@dataclass(frozen=True, slots=True)
class FlowSignal:
    """The exchange-flow reading for one traded asset, with the numbers behind it."""

    base: str
    bias: Bias
    confidence: float
    flows: list[ExchangeFlow] = field(default_factory=list)
    scores: list[FlowScore] = field(default_factory=list)
    reasoning: str = ""
    wallet_labels: tuple[str, ...] = ()  # the exchange wallets the flows were read from

    @property
    def neutral(self) -> bool:
        return self.bias is Bias.NEUTRAL or self.confidence <= 0


MIN_HISTORY = 12  # past cycles before a flow can be called unusual
Z_THRESHOLD = 1.5  # |combined z| at or above this leans the signal
CONFIDENCE_PER_Z = 0.15
CONFIDENCE_CAP = 0.6


def series_net(flows: Iterable[ExchangeFlow], assets: Sequence[str], window_hours: int) -> Decimal:
    return sum((f.net for f in flows if f.window_hours == window_hours and f.asset in assets), ZERO)


def zscore(value: Decimal, history: Sequence[Decimal]) -> float | None:
    if len(history) < MIN_HISTORY:
        return None
    values = [float(v) for v in history]
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    if var <= 0:
        return None
    return (float(value) - mean) / math.sqrt(var)


def flow_signal(
    base: str,
    flows: Sequence[ExchangeFlow],
    eth_history: Sequence[Decimal],
    stable_history: Sequence[Decimal],
    wallet_labels: Sequence[str] = (),
    incomplete: Sequence[str] = (),
    window: int = SIGNAL_WINDOW_HOURS,
) -> FlowSignal | None:
    """ETH: USDT inflow is bullish, ETH-like inflow bearish. BTC: USDT only. Others: None.

    ``*_history`` are earlier cycles' net flows of the same series over ``window`` hours (USDC is not
    mixed into USDT: the published effect is USDT's). ``incomplete`` names watched
    wallets this cycle could not read whole: a partial total is not comparable with the history (one
    missing busy wallet looks like a huge outflow), so the signal is NEUTRAL 0 with the numbers kept.
    """
    base = base.upper()
    if base not in ("ETH", "BTC") or not flows:
        return None
    w = window
    eth = FlowScore("ETH-like", series_net(flows, ETH_LIKE, w), None)
    stable = FlowScore("USDT", series_net(flows, SIGNAL_STABLES, w), None)
    if not incomplete:
        eth = FlowScore(eth.series, eth.net, zscore(eth.net, eth_history))
        stable = FlowScore(stable.series, stable.net, zscore(stable.net, stable_history))
    scores = [eth, stable] if base == "ETH" else [stable]
    combined = 0.0
    if stable.zscore is not None:
        combined += stable.zscore
    if base == "ETH" and eth.zscore is not None:
        combined -= eth.zscore
    bias, confidence = Bias.NEUTRAL, 0.0
    if abs(combined) >= Z_THRESHOLD:
        bias = Bias.BULLISH if combined > 0 else Bias.BEARISH
        confidence = round(min(CONFIDENCE_CAP, CONFIDENCE_PER_Z * abs(combined)), 4)
    parts = [
        f"{s.series} net {s.net:+,.2f} over {w} h "
        + (
            f"(z {s.zscore:+.2f})"
            if s.zscore is not None
            else "(not scored)"
            if incomplete
            else f"(fewer than {MIN_HISTORY} past cycles)"
        )
        for s in scores
    ]
    if incomplete:
        parts.append("incomplete: " + ", ".join(incomplete))
    reasoning = "; ".join(parts) + f" -> {bias.value} {confidence:.0%}"
    return FlowSignal(base, bias, confidence, list(flows), scores, reasoning, tuple(wallet_labels))
