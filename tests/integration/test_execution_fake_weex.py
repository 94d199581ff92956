"""Execution over HTTP against the fake WEEX: the trading core's guarantees with the real client."""

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
from smt_engine.domain import (
    Action,
    CloseReason,
    Decision,
    EngineState,
    Pair,
    PositionState,
    ProposalState,
    Tier,
)
from smt_engine.exchange.weex import WeexClient
from smt_engine.store import Store
from smt_engine.store.records import EngineStatus
from smt_engine.trading.account_reader import snapshot_account
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.execution import Executor
from smt_engine.trading.proposals import Candidate, ProposalBook
from tests.fakes.weex_server import FakeWeex

T0 = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)
ETH = Pair("ETH", Tier.ONE)


class Bench:
    def __init__(self, tmp: Path, fake: FakeWeex, clock: SimulatedClock) -> None:
        self.fake, self.clock = fake, clock
        self.settings = Settings.model_validate(
            {"trading": {"poll_interval": "1s", "protection_timeout": "10s", "fill_timeout": "10s"}}
        )
        self.store = Store.open(tmp / "smt.db")
        self.client = WeexClient(
            api_key=fake.api_key,
            api_secret=fake.secret,
            passphrase=fake.passphrase,
            base_url=fake.base_url,
            store=self.store,
            clock=clock,
            read_retries=1,
            backoff=0.01,
        )
        self.book = ProposalBook(self.store, clock, self.settings)
        self.executor = Executor(
            self.client, self.store, clock, self.settings, AiLogOutbox(self.store, clock, self.settings)
        )

    async def approved(self) -> Any:
        contracts = await self.client.contracts(["ETHUSDT"])
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
            [Candidate(ETH, decision, contracts["ETHUSDT"], Decimal("3000.00"))], account
        )
        assert out.approved, out.proposals
        return out.approved[0]

    async def run(self, coro: Any) -> Any:
        task = asyncio.ensure_future(coro)
        while not task.done():
            await self.clock.advance(0.5)
            await asyncio.sleep(0.01)
        return task.result()


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    clock = SimulatedClock(T0)
    with FakeWeex(clock=clock, prices={"ETHUSDT": Decimal("3000.00")}) as fake:
        b = Bench(tmp_path, fake, clock)
        yield b
        await b.client.aclose()
        b.store.close()


async def test_an_approved_proposal_leads_to_exactly_one_entry_with_tp_and_sl(bench: Bench) -> None:
    proposal = await bench.approved()
    result = await bench.run(bench.executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    entry = next(o for o in bench.store.orders.select() if o.kind.value == "entry")
    assert bench.fake.orders_with_client_id(entry.client_order_id) == 1
    assert bench.fake.counts["POST /capi/v3/order"] == 1
    kinds = {a.kind for a in bench.fake.call(bench.fake.venue.open_algo_orders("ETHUSDT"))}
    assert kinds == {"tp", "sl"}


async def test_a_dropped_connection_after_acceptance_sends_no_second_order(bench: Bench) -> None:
    proposal = await bench.approved()
    bench.fake.faults.next_drop_after_accept = 1
    result = await bench.run(bench.executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    entry = next(o for o in bench.store.orders.select() if o.kind.value == "entry")
    assert bench.fake.counts["POST /capi/v3/order"] == 1, "order creation is never retried"
    assert bench.fake.orders_with_client_id(entry.client_order_id) == 1
    assert entry.exchange_order_id, "the ambiguous outcome was resolved by client id"
    position = bench.store.positions.open_positions()[0]
    assert position.sl_order_id is not None


async def test_a_halted_engine_refuses_entries_but_allows_closes(bench: Bench) -> None:
    first = await bench.approved()
    refused = await bench.run(bench.executor.execute(first, EngineState.HALTED))
    assert refused.outcome in ("denied", "failed")
    assert bench.fake.counts["POST /capi/v3/order"] == 0, "nothing was sent while halted"
    proposal = await bench.approved()
    opened = await bench.run(bench.executor.execute(proposal, EngineState.RUNNING))
    assert opened.outcome == "open", opened.detail
    bench.store.engine.put(EngineStatus(mode=bench.settings.engine.mode, state=EngineState.HALTED))
    position = bench.store.positions.open_positions()[0]
    closed = await bench.run(bench.executor.closer.close_position(position, CloseReason.MANUAL, actor="test"))
    assert closed.state is PositionState.CLOSED
    assert closed.close_reason is CloseReason.MANUAL
    assert not bench.fake.call(bench.fake.venue.positions())
    assert not bench.fake.call(bench.fake.venue.open_algo_orders("ETHUSDT")), (
        "TP/SL cancelled before the close"
    )
    current = bench.store.proposals.get(proposal.id)
    assert current is not None
    assert current.state is ProposalState.CLOSED
