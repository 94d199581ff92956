"""The exchange-flow signal never scores a partial read: a failed or page-cut wallet holds it NEUTRAL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import Bias, HealthStatus
from smt_engine.store import Store
from smt_engine.whales.etherscan import EtherscanError
from smt_engine.whales.flows import SIGNAL_WINDOW_HOURS
from smt_engine.whales.source import WhalePipeline, series_history
from smt_engine.whales.transfers import Transfer, TransferBatch, TransferKind

USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
USER = "0x" + "9" * 40
START = datetime(2026, 3, 1, tzinfo=UTC)
BLOCK_SECONDS = 12


class Chain:
    """USDT deposits into every watched wallet each cycle; one wallet can fail or be cut short."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Transfer]] = {}
        self.broken: str | None = None
        self.cut: str | None = None

    def deposit(self, wallet: str, at: datetime, amount: int) -> None:
        block = int(at.timestamp()) // BLOCK_SECONDS
        rows = self.rows.setdefault(wallet, [])
        rows.append(
            Transfer(
                TransferKind.ERC20,
                f"0x{len(rows):064x}{wallet[-4:]}",
                block,
                at,
                USER,
                wallet,
                Decimal(amount),
                "USDT",
                USDT,
            )
        )

    async def block_at(self, when: datetime, closest: str = "before") -> int:
        return int(when.timestamp()) // BLOCK_SECONDS

    async def transfers(
        self, address: str, kind: TransferKind, startblock: int, endblock: int
    ) -> TransferBatch:
        if address == self.broken:
            raise EtherscanError("tokentx", "NOTOK")
        through = endblock
        if address == self.cut:
            through = startblock + (endblock - startblock) // 2  # page budget spent: newest blocks unread
        rows = [t for t in self.rows.get(address, []) if kind is t.kind and startblock <= t.block <= through]
        return TransferBatch(rows, through)

    async def balances(self, addresses: Iterable[str]) -> dict[str, Decimal]:
        return {}


@pytest.mark.parametrize("failure", ["failed", "cut short"])
async def test_a_missing_or_cut_wallet_holds_the_flow_signal_neutral(store: Store, failure: str) -> None:
    chain = Chain()
    clock = SimulatedClock(START)
    pipeline = WhalePipeline(Settings(), store, clock, chain)
    wallets = [e.address for e in pipeline.book.watched()]
    assert len(wallets) == 8
    largest = wallets[0]

    async def cycle(i: int) -> object:
        await clock.advance(SIGNAL_WINDOW_HOURS * 3600)
        for k, wallet in enumerate(wallets):
            amount = (50_000_000 if wallet == largest else 1_000_000 * (k + 1)) + 100_000 * (i % 4)
            chain.deposit(wallet, clock.now() - timedelta(hours=1), amount)
        return await pipeline.run_cycle(f"c{i}")

    for i in range(14):
        await cycle(i)
    ordinary = await cycle(14)
    assert ordinary.flow_signals["ETH"].bias is Bias.NEUTRAL  # type: ignore[attr-defined]
    assert store.health.get("whales.flows").status is HealthStatus.OK  # type: ignore[union-attr]

    if failure == "failed":
        chain.broken = largest
    else:
        chain.cut = largest
    result = await cycle(15)
    signal = result.flow_signals["ETH"]  # type: ignore[attr-defined]
    assert signal.bias is Bias.NEUTRAL
    assert signal.confidence == 0
    assert "incomplete:" in signal.reasoning
    health = store.health.get("whales.flows")
    label = pipeline.book.get(largest).label  # type: ignore[union-attr]
    assert health is not None
    assert health.status is HealthStatus.WARN
    why = "(failed)" if failure == "failed" else "(newest blocks not read)"
    assert f"incomplete: {label} {why}; flow signal held NEUTRAL" in health.detail
    assert health.data["incomplete"] == [f"{label} {why}"]
    # Recorded with the wallets read whole, and left out of the history later cycles compare with.
    rows = store.exchange_flows.for_cycle("c15")
    assert rows
    assert {r.wallets for r in rows} == {7}
    before = clock.now() + timedelta(seconds=1)
    assert len(series_history(store.exchange_flows, ("USDT",), before, 8)) == 15
    assert len(series_history(store.exchange_flows, ("USDT",), before, 7)) == 1
