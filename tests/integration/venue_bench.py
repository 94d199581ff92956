"""A trading bench over HTTP against the fake WEEX with the real client: a store, an executor and a
monitor that can be restarted (a new engine process) over the same database and venue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import Action, Decision, EngineState, Pair, ProposalState, Tier
from smt_engine.exchange.base import OrderRequest, OrderStatus, PlacedOrder
from smt_engine.exchange.weex import WeexClient
from smt_engine.store import Store
from smt_engine.store.records import Proposal
from smt_engine.trading.account_reader import snapshot_account
from smt_engine.trading.execution import Executor
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.proposals import Candidate, ProposalBook
from tests.fakes.weex_server import FakeWeex

T0 = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)
ETH = "ETHUSDT"
SETTINGS = {
    "engine": {"approval": "auto"},
    "pairs": {"tier1": ["ETH"], "tier2": []},
    "trading": {
        "poll_interval": "1s",
        "protection_timeout": "4s",
        "fill_timeout": "6s",
        "order_visibility": "5s",
    },
}


class MovingClient(WeexClient):
    """The real client; ``after_entry`` runs once an entry was accepted (the market moving at once)."""

    after_entry: Any = None

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        placed = await super().place_order(request)
        if self.after_entry is not None and not request.reduce_only:
            hook, self.after_entry = self.after_entry, None
            await hook()
        return placed


class Bench:
    def __init__(self, tmp: Path, fake: FakeWeex, clock: SimulatedClock) -> None:
        self.fake, self.clock = fake, clock
        self.settings = Settings.model_validate(SETTINGS)
        self.store = Store.open(tmp / "smt.db")
        self.book = ProposalBook(self.store, clock, self.settings)
        self.restart()

    def restart(self) -> None:
        """A new engine process over the same database: a fresh client, executor and monitor."""
        self.client = MovingClient(
            api_key=self.fake.api_key,
            api_secret=self.fake.secret,
            passphrase=self.fake.passphrase,
            base_url=self.fake.base_url,
            store=self.store,
            clock=self.clock,
            read_retries=1,
            backoff=0.01,
        )
        self.executor = Executor(self.client, self.store, self.clock, self.settings)
        self.monitor = Monitor(self.settings, self.store, self.clock, self.client, self.executor, None)

    async def approved(self) -> Proposal:
        proposal = await self.proposed()
        assert proposal.state is ProposalState.APPROVED, proposal
        return proposal

    async def proposed(self) -> Proposal:
        """One ETH long through the proposal book (approved or waiting, as ``engine.approval`` says)."""
        contracts = await self.client.contracts([ETH])
        account = snapshot_account(
            self.store,
            self.settings,
            self.clock.now(),
            await self.client.balance(),
            await self.client.positions(),
            EngineState.RUNNING,
            contracts=contracts,
        )
        decision = Decision(Action.LONG, 0.8, Decimal(3), Decimal("1.5"), 12, "test")
        out = self.book.run_cycle(
            [Candidate(Pair("ETH", Tier.ONE), decision, contracts[ETH], Decimal("3000.00"))], account
        )
        assert len(out.proposals) == 1, out.proposals
        return out.proposals[0]

    async def run(self, coro: Any) -> Any:
        task = asyncio.ensure_future(coro)
        while not task.done():
            await self.clock.advance(0.5)
            await asyncio.sleep(0.01)
        return task.result()

    def venue_status(self, order_id: str) -> OrderStatus:
        found = self.fake._find(order_id)
        assert found is not None
        return found.status  # type: ignore[no-any-return]

    def posts(self, path: str) -> int:
        return self.fake.counts[f"POST {path}"]


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    clock = SimulatedClock(T0)
    with FakeWeex(clock=clock, prices={ETH: Decimal("3000.00")}) as fake:
        b = Bench(tmp_path, fake, clock)
        yield b
        await b.client.aclose()
        b.store.close()


async def open_long(bench: Bench) -> tuple[int, str, str]:
    """A protected ETH long; (position id, TP id, SL id)."""
    result = await bench.run(bench.executor.execute(await bench.approved(), EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    pos = result.position
    assert pos is not None
    assert pos.id is not None
    assert pos.tp_order_id
    assert pos.sl_order_id
    return pos.id, pos.tp_order_id, pos.sl_order_id
