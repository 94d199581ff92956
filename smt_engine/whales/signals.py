"""Whale flow -> trading bias: the seed's per-whale table, plus an aggregate over every whale of the cycle.

Flows count ETH, WETH and stETH as ETH (1:1, by token contract); no other token is ever summed as ETH.
Per whale (seed section 3.4): net = inflow -
outflow over the recent window; |net| below the threshold is "mixed" and gives no signal; otherwise
the category x direction table gives a bias and weight, +0.10 when the flow touched an exchange
(capped at 0.95), and confidence = class confidence x weight.

The seed attached only the single most confident whale to the prompts. Here all whales vote: bullish
and bearish confidences are summed, neutral ones dilute, and the aggregate confidence is the winning
side's share of the vote times its mean confidence. One whale alone therefore gives exactly its own
signal; two equal whales in opposite directions cancel to NEUTRAL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from smt_engine.domain import Bias, Flow
from smt_engine.store.records import WhaleSignal
from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.classifier import Classification
from smt_engine.whales.flows import eth_equivalent
from smt_engine.whales.transfers import ZERO, Transfer

# The seed's table, on the classes that exist today. Only a trusted class (a label, or a model trained
# on real labels) uses its row; a bootstrap or unknown class uses UNKNOWN_ENTRY, which never leans.
SIGNAL_MAP: dict[str, dict[Flow, tuple[Bias, float]]] = {
    "exchange": {Flow.INFLOW: (Bias.BEARISH, 0.75), Flow.OUTFLOW: (Bias.BULLISH, 0.85)},
    "large_holder": {Flow.INFLOW: (Bias.BULLISH, 0.65), Flow.OUTFLOW: (Bias.BEARISH, 0.70)},
    "staking": {Flow.INFLOW: (Bias.BULLISH, 0.60), Flow.OUTFLOW: (Bias.BEARISH, 0.70)},
    "fund_market_maker": {Flow.INFLOW: (Bias.BULLISH, 0.55), Flow.OUTFLOW: (Bias.BEARISH, 0.60)},
    "dex_defi_trader": {Flow.INFLOW: (Bias.NEUTRAL, 0.40), Flow.OUTFLOW: (Bias.NEUTRAL, 0.40)},
    "mev_bot": {Flow.INFLOW: (Bias.NEUTRAL, 0.30), Flow.OUTFLOW: (Bias.NEUTRAL, 0.30)},
    "bridge": {Flow.INFLOW: (Bias.NEUTRAL, 0.30), Flow.OUTFLOW: (Bias.NEUTRAL, 0.30)},
}
UNKNOWN_ENTRY = {Flow.INFLOW: (Bias.NEUTRAL, 0.30), Flow.OUTFLOW: (Bias.NEUTRAL, 0.30)}
EXCHANGE_BONUS = 0.10
WEIGHT_CAP = 0.95
AGGREGATE_MIN_LEAN = 0.15  # below this net share of the vote the aggregate stays NEUTRAL


@dataclass(frozen=True, slots=True)
class WhaleFlow:
    inflow: Decimal
    outflow: Decimal
    cex_inflow: Decimal
    cex_outflow: Decimal
    direction: Flow

    @property
    def net(self) -> Decimal:
        return self.inflow - self.outflow

    @property
    def has_cex_interaction(self) -> bool:
        return self.cex_inflow > 0 or self.cex_outflow > 0


def recent_flow(
    address: str,
    history: Sequence[Transfer],
    book: AddressBook,
    now: datetime,
    window: timedelta,
    threshold_eth: Decimal,
) -> WhaleFlow:
    since = now - window
    inflow = outflow = cex_in = cex_out = ZERO
    for t in history:
        if t.at < since or t.at > now:
            continue
        eth = eth_equivalent(t)
        if not eth:
            continue
        if t.to_address == address:
            inflow += eth
            if book.is_exchange(t.from_address):
                cex_in += eth
        if t.from_address == address:
            outflow += eth
            if book.is_exchange(t.to_address):
                cex_out += eth
    net = inflow - outflow
    direction = Flow.MIXED if abs(net) < threshold_eth else (Flow.INFLOW if net > 0 else Flow.OUTFLOW)
    return WhaleFlow(inflow, outflow, cex_in, cex_out, direction)


def whale_signal(
    address: str, classification: Classification, flow: WhaleFlow, cycle_id: str, at: datetime
) -> WhaleSignal | None:
    """The seed's table; None for a mixed flow (that whale is skipped)."""
    if flow.direction is Flow.MIXED:
        return None
    trusted = classification.trusted
    table = SIGNAL_MAP.get(classification.whale_class, UNKNOWN_ENTRY) if trusted else UNKNOWN_ENTRY
    bias, weight = table[flow.direction]
    if flow.has_cex_interaction:
        weight = min(WEIGHT_CAP, weight + EXCHANGE_BONUS)
    confidence = round(classification.confidence * weight, 4)
    reasoning = (
        f"{classification.whale_class} ({classification.classified_by}, {classification.confidence:.2f}) "
        f"{flow.direction.value} net {abs(flow.net):.2f} ETH"
        f"; exchange in {flow.cex_inflow:.2f} / out {flow.cex_outflow:.2f} ETH"
    )
    return WhaleSignal(
        cycle_id=cycle_id,
        at=at,
        bias=bias,
        confidence=confidence,
        address=address,
        whale_class=classification.whale_class,
        flow=flow.direction,
        net_eth=flow.net,
        inflow_eth=flow.inflow,
        outflow_eth=flow.outflow,
        reasoning=reasoning,
    )


MAX_NAMED = 5


def aggregate(
    signals: Sequence[WhaleSignal], cycle_id: str, at: datetime, labels: Mapping[str, str] | None = None
) -> WhaleSignal:
    """One ETH bias and confidence from every whale signal of the cycle.

    ``labels`` (address -> label) names the labelled whales behind it in the reasoning, largest first.
    """
    votes = {b: 0.0 for b in Bias}
    counts = {b: 0 for b in Bias}
    for s in signals:
        votes[s.bias] += s.confidence
        counts[s.bias] += 1
    inflow = sum((s.inflow_eth for s in signals), ZERO)
    outflow = sum((s.outflow_eth for s in signals), ZERO)
    total = sum(votes.values())
    tally = ", ".join(f"{counts[b]} {b.value.lower()}" for b in Bias if counts[b])
    bias, confidence = Bias.NEUTRAL, 0.0
    if total > 0:
        if votes[Bias.AVOID] > max(votes[Bias.BULLISH], votes[Bias.BEARISH]):
            bias = Bias.AVOID
            confidence = votes[Bias.AVOID] / total * (votes[Bias.AVOID] / counts[Bias.AVOID])
        else:
            lean = (votes[Bias.BULLISH] - votes[Bias.BEARISH]) / total
            if abs(lean) >= AGGREGATE_MIN_LEAN:
                side = Bias.BULLISH if lean > 0 else Bias.BEARISH
                bias = side
                confidence = abs(lean) * (votes[side] / counts[side])
    confidence = round(min(WEIGHT_CAP, confidence), 4)
    net = inflow - outflow
    reasoning = (
        f"{len(signals)} whale signal(s): {tally or 'none'}; "
        f"whale net flow {net:+.2f} ETH (in {inflow:.2f}, out {outflow:.2f}) -> {bias.value} {confidence:.0%}"
    )
    named = sorted(
        (s for s in signals if labels and s.address in labels),
        key=lambda s: (-abs(s.net_eth), s.address or ""),
    )
    if named and labels:
        reasoning += "; labelled: " + ", ".join(
            f"{labels[s.address or '']} ({s.whale_class}) net {s.net_eth:+,.2f} ETH {s.bias.value}"
            for s in named[:MAX_NAMED]
        )
    return WhaleSignal(
        cycle_id=cycle_id,
        at=at,
        bias=bias,
        confidence=confidence,
        flow=None if not signals else (Flow.INFLOW if net > 0 else Flow.OUTFLOW if net < 0 else Flow.MIXED),
        net_eth=net,
        inflow_eth=inflow,
        outflow_eth=outflow,
        reasoning=reasoning,
        is_aggregate=True,
    )


def btc_proxy(eth: WhaleSignal, weight: float) -> WhaleSignal:
    """BTC has no on-chain whale feed here: the ETH aggregate, scaled, as a correlated proxy."""
    return replace(
        eth,
        id=None,
        confidence=round(eth.confidence * weight, 4),
        reasoning=f"BTC proxy of the ETH whale signal (x{weight:g}): {eth.reasoning}",
    )
