"""The 32 whale features (seed-system-v3.md section 3.1), one code path for training and serving.

Units are fixed where the seed system broke them: ETH sums and value statistics use native ETH only
(normal and internal transfers, exact ``Decimal`` converted once to float); ERC-20 amounts are counted
but never summed as ETH; ``balance_eth_log`` is ``log1p`` of the real ETH balance. The schema is named
and versioned: a model bundle trained on any other list or definition is refused at load time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from smt_engine.whales.addressbook import AddressBook
from smt_engine.whales.addresses import Category
from smt_engine.whales.transfers import Transfer, TransferKind

LARGE_TX_ETH = 10.0
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class FeatureSchema:
    name: str
    version: int
    names: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "version": self.version, "features": list(self.names)}

    def index(self, feature: str) -> int:
        return self.names.index(feature)


FEATURE_SCHEMA = FeatureSchema(
    name="smt-whale-features",
    version=1,
    names=(
        "total_txs",
        "incoming_count",
        "outgoing_count",
        "incoming_volume_eth",
        "outgoing_volume_eth",
        "net_flow_eth",
        "avg_tx_value_eth",
        "max_tx_value_eth",
        "min_tx_value_eth",
        "std_tx_value_eth",
        "median_tx_value_eth",
        "unique_counterparties",
        "unique_incoming",
        "unique_outgoing",
        "activity_span_days",
        "avg_time_between_tx_hours",
        "tx_per_day",
        "erc20_tx_count",
        "erc20_ratio",
        "unique_tokens",
        "nft_tx_count",
        "nft_ratio",
        "internal_tx_count",
        "internal_ratio",
        "defi_interactions",
        "cex_interactions",
        "large_tx_count",
        "large_tx_ratio",
        "gas_avg",
        "gas_max",
        "gas_total",
        "balance_eth_log",
    ),
)
N_FEATURES = len(FEATURE_SCHEMA.names)
assert N_FEATURES == 32

FloatArray = npt.NDArray[np.float64]


def compute_features(
    address: str, transfers: Sequence[Transfer], balance_eth: Decimal | None, book: AddressBook
) -> FloatArray:
    """The feature vector of ``address`` in ``FEATURE_SCHEMA`` order.

    ``balance_eth`` None (unknown) gives ``balance_eth_log`` 0. An empty history gives zeros except
    the balance feature.
    """
    out = np.zeros(N_FEATURES, dtype=np.float64)
    out[31] = math.log1p(max(0.0, float(balance_eth))) if balance_eth is not None else 0.0
    n = len(transfers)
    if n == 0:
        return out
    exchanges = book.addresses(Category.EXCHANGE)
    defi = book.addresses(Category.DEX, Category.DEFI)

    values = np.empty(n, dtype=np.float64)
    times = np.empty(n, dtype=np.float64)
    gas = np.empty(n, dtype=np.float64)
    incoming = np.zeros(n, dtype=bool)
    outgoing = np.zeros(n, dtype=bool)
    senders: set[str] = set()
    receivers: set[str] = set()
    tokens: set[str] = set()
    erc20 = nft = internal = defi_hits = cex_hits = 0
    for i, t in enumerate(transfers):
        kind = t.kind
        values[i] = float(t.value_eth)
        times[i] = t.at.timestamp()
        gas[i] = t.gas_used
        src, dst = t.from_address, t.to_address
        if dst == address:
            incoming[i] = True
            senders.add(src)
        if src == address:
            outgoing[i] = True
            receivers.add(dst)
        if kind is TransferKind.ERC20:
            erc20 += 1
            tokens.add(t.token_contract or t.token_symbol)
        elif kind is TransferKind.INTERNAL:
            internal += 1
            tokens.add("ETH")
        elif kind is TransferKind.NORMAL:
            tokens.add("ETH")
        else:
            nft += 1
        other = dst if src == address else src
        if other in defi:
            defi_hits += 1
        if other in exchanges:
            cex_hits += 1
    tokens.discard("")

    positive = values[values > 0]
    in_vol = float(values[incoming].sum())
    out_vol = float(values[outgoing].sum())
    times.sort()
    span = (times[-1] - times[0]) / SECONDS_PER_DAY if n >= 2 else 0.0
    gas_pos = gas[gas > 0]
    large = int(np.count_nonzero(values > LARGE_TX_ETH))

    out[0] = n
    out[1] = int(incoming.sum())
    out[2] = int(outgoing.sum())
    out[3] = in_vol
    out[4] = out_vol
    out[5] = in_vol - out_vol
    if positive.size:
        out[6] = float(positive.mean())
        out[7] = float(positive.max())
        out[8] = float(positive.min())
        out[9] = float(positive.std()) if positive.size >= 2 else 0.0
        out[10] = float(np.median(positive))
    out[11] = len(senders | receivers)
    out[12] = len(senders)
    out[13] = len(receivers)
    out[14] = span
    out[15] = float(np.diff(times).mean()) / 3600.0 if n >= 2 else 0.0
    out[16] = n / max(span, 1.0)
    out[17] = erc20
    out[18] = erc20 / n
    out[19] = len(tokens)
    out[20] = nft
    out[21] = nft / n
    out[22] = internal
    out[23] = internal / n
    out[24] = defi_hits
    out[25] = cex_hits
    out[26] = large
    out[27] = large / n
    if gas_pos.size:
        out[28] = float(gas_pos.mean())
        out[29] = float(gas_pos.max())
        out[30] = float(gas_pos.sum())
    return out


def as_dict(vector: FloatArray) -> dict[str, float]:
    """Named view for storage (``whales.features``) and display."""
    return {name: float(v) for name, v in zip(FEATURE_SCHEMA.names, vector, strict=True)}
