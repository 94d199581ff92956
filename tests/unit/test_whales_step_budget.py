"""The whale step is time-bounded (``whales.step_budget``): past it no new read starts, what finished is
used, and what was skipped is said (wallets as incomplete, whales as not scored this cycle)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import HealthStatus
from smt_engine.store import Store
from smt_engine.whales.source import WhalePipeline
from smt_engine.whales.transfers import Transfer, TransferBatch, TransferKind
from tests.unit.test_whales_flow_completeness import BLOCK_SECONDS, START, Chain


class SlowChain(Chain):
    """Each read of a history takes simulated time: ``watched_s`` for exchange wallets, ``whale_s`` else."""

    def __init__(self, clock: SimulatedClock, watched: set[str], watched_s: float, whale_s: float) -> None:
        super().__init__()
        self.clock, self.watched, self.watched_s, self.whale_s = clock, watched, watched_s, whale_s
        self.read: list[str] = []

    async def transfers(
        self, address: str, kind: TransferKind, startblock: int, endblock: int
    ) -> TransferBatch:
        self.read.append(address)
        await self.clock.advance(self.watched_s if address in self.watched else self.whale_s)
        return await super().transfers(address, kind, startblock, endblock)


def whale_deposit(chain: Chain, whale: str, wallet: str, n: int) -> None:
    at = START + timedelta(hours=2, minutes=n)
    chain.rows.setdefault(wallet, []).append(
        Transfer(
            TransferKind.NORMAL,
            f"0x{n:064x}",
            int(at.timestamp()) // BLOCK_SECONDS,
            at,
            whale,
            wallet,
            Decimal(500),
        )
    )


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START + timedelta(hours=4))


async def test_whales_past_the_budget_wait_for_the_next_cycle(store: Store, clock: SimulatedClock) -> None:
    settings = Settings.model_validate({"whales": {"step_budget": "2m"}})
    probe = WhalePipeline(settings, store, clock, Chain())
    wallets = [e.address for e in probe.book.watched()]
    chain = SlowChain(clock, set(wallets), watched_s=0, whale_s=20)
    whales = [f"0x{'a' * 39}{i}" for i in range(4)]
    for n, whale in enumerate(whales):
        whale_deposit(chain, whale, wallets[0], n)
    pipeline = WhalePipeline(settings, store, clock, chain)
    result = await pipeline.run_cycle("c1")
    # Each whale's history is 5 reads of 20 s: the first ends at 100 s, the second starts before 120 s
    # and ends at 200 s; no third starts.
    assert len({a for a in chain.read if a in whales}) == 2
    assert len(result.whales) == 2
    assert any("whales.step_budget (2m) spent: 2 of 4 whale(s) scored" in e for e in result.errors)
    assert result.aggregate is not None  # analysis gets what finished in time


async def test_wallets_past_the_budget_are_marked_incomplete(store: Store, clock: SimulatedClock) -> None:
    settings = Settings.model_validate({"whales": {"step_budget": "2m"}})
    probe = WhalePipeline(settings, store, clock, Chain())
    wallets = [e.address for e in probe.book.watched()]
    chain = SlowChain(clock, set(wallets), watched_s=10, whale_s=0)
    pipeline = WhalePipeline(settings, store, clock, chain)
    await pipeline.run_cycle("c1")
    # 3 reads of 10 s per wallet: four wallets by 120 s, the other four are not read at all.
    assert len(set(chain.read)) == 4
    health = store.health.get("whales.flows")
    assert health is not None
    assert health.status is HealthStatus.WARN
    assert len([w for w in health.data["incomplete"] if "whales.step_budget spent" in w]) == 4


def test_the_budget_is_bounded() -> None:
    with pytest.raises(ValueError, match=r"whales.step_budget 1s: set it between 5s and 30m"):
        Settings.model_validate({"whales": {"step_budget": "1s"}})
