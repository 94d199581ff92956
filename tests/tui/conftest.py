"""Fixtures for the console tests: a populated database, a fake engine, and an app with a frozen clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from smt_engine.commands.args import (
    ApproveArgs,
    CleanupArgs,
    ClearCooldownArgs,
    CloseAllArgs,
    CloseArgs,
    CommandArgs,
    EnterArgs,
    MoveProtectionArgs,
    PauseArgs,
    RejectArgs,
    ResumeArgs,
    RunCycleArgs,
)
from smt_engine.commands.contract import CONTRACT, parse_args
from smt_engine.commands.results import (
    ApproveResult,
    CleanupResult,
    ClearCooldownResult,
    CloseAllResult,
    CloseResult,
    CommandResult,
    EnterResult,
    MoveProtectionResult,
    PauseResult,
    RejectResult,
    ResumeResult,
    RunCycleResult,
)
from smt_engine.domain import CommandKind, EngineState, OrderState, PositionState, ProposalState
from smt_engine.store import EngineLock, Store
from smt_engine.store.records import Command
from smt_tui.app import ConsoleApp, open_console
from smt_tui.state import ConsoleConfig
from tests.tui.fixtures import NOW, Fixture, build_database

TEST_CONFIG = ConsoleConfig(
    stale_after=timedelta(seconds=15),
    competition_end=NOW + timedelta(days=13, hours=12),
    refresh_interval=0.2,
)


@dataclass
class FakeEngine:
    """Consumes operator commands the way the real engine does: claim, read the arguments through the
    command contract, act on the store, complete with the kind's typed result (``smt_engine.commands``), so
    what the console shows is what the real engine's answer would make it show. The real handlers, over
    the real queue, are driven in tests/integration/test_command_contract.py."""

    store: Store
    lock: EngineLock
    handled: list[Command] = field(default_factory=list)
    fail_kinds: set[CommandKind] = field(default_factory=set)

    def step(self) -> int:
        count = 0
        while (command := self.store.commands.claim_next(NOW)) is not None:
            assert command.id is not None
            self.handled.append(command)
            count += 1
            if command.kind in self.fail_kinds:
                self.store.commands.fail(command.id, NOW, f"{command.kind.value} refused by the exchange")
                continue
            result = self._handle(parse_args(command.kind, command.args), command.actor)
            assert isinstance(result, CONTRACT[command.kind].result)
            self.store.commands.complete(command.id, NOW, result.to_row())
        return count

    def _handle(self, args: CommandArgs, actor: str) -> CommandResult:
        s = self.store
        if isinstance(args, ApproveArgs | RejectArgs):
            approve = isinstance(args, ApproveArgs)
            state = ProposalState.APPROVED if approve else ProposalState.REJECTED
            s.proposals.update(args.proposal_id, state=state, decided_at=NOW, decided_by=actor)
            if approve:
                return ApproveResult(
                    proposal_id=args.proposal_id,
                    outcome="open",
                    position_id=7,
                    detail="open with TP/SL resting",
                )
            return RejectResult(proposal_id=args.proposal_id, state=state)
        if isinstance(args, CloseArgs):
            pos = s.positions.open_for(args.symbol, args.side)
            assert pos is not None
            assert pos.id is not None
            s.positions.update(pos.id, state=PositionState.CLOSED, closed_at=NOW, updated_at=NOW)
            return CloseResult(position_id=pos.id, state=PositionState.CLOSED, close_order_id="close-1")
        if isinstance(args, CloseAllArgs):
            closed = [p.id for p in s.positions.open_positions() if p.id is not None]
            for pid in closed:
                s.positions.update(pid, state=PositionState.CLOSED, closed_at=NOW, updated_at=NOW)
            return CloseAllResult(closed=closed)
        if isinstance(args, CleanupArgs):
            orphans = s.orders.orphans()
            for order in orphans:
                s.orders.update(order.id, state=OrderState.CANCELLED, updated_at=NOW)
            return CleanupResult(cancelled=[o.exchange_order_id for o in orphans if o.exchange_order_id])
        if isinstance(args, PauseArgs):
            s.engine.set(state=EngineState.PAUSED)
            return PauseResult(state=EngineState.PAUSED)
        if isinstance(args, ResumeArgs):
            s.engine.set(state=EngineState.RUNNING)
            return ResumeResult(state=EngineState.RUNNING, was=EngineState.PAUSED, cleared="paused: paused")
        if isinstance(args, RunCycleArgs):
            return RunCycleResult(queued=True)
        if isinstance(args, MoveProtectionArgs):
            name = "stop-loss" if args.leg == "sl" else "take-profit"
            message = f"{args.symbol} {args.side.value} {name} now {args.price}"
            return MoveProtectionResult(message=message, position_id=1, leg=args.leg, price=args.price)
        if isinstance(args, ClearCooldownArgs):
            return ClearCooldownResult(message=f"{args.symbol} cooldown cleared", symbol=args.symbol)
        assert isinstance(args, EnterArgs), args
        return EnterResult(proposal_id=99, outcome="open", position_id=8, detail="open with TP/SL resting")


@pytest.fixture
def fixture_db(tmp_path: Path) -> Fixture:
    return build_database(tmp_path / "smt.db")


@pytest.fixture
def engine(fixture_db: Fixture) -> Iterator[FakeEngine]:
    lock = EngineLock(fixture_db.path)
    lock.acquire()
    store = Store.open(fixture_db.path)
    try:
        yield FakeEngine(store, lock)
    finally:
        store.close()
        lock.release()


@pytest.fixture
def make_app(fixture_db: Fixture) -> Iterator[Callable[..., ConsoleApp]]:
    apps: list[ConsoleApp] = []

    def factory(readonly: bool | None = None, config: ConsoleConfig = TEST_CONFIG, **kw: Any) -> ConsoleApp:
        app = open_console(fixture_db.path, config=config, now=lambda: NOW, readonly=readonly)
        for name, value in kw.items():
            setattr(app, name, value)
        app.animation_level = "none"
        app.notes = []  # type: ignore[attr-defined]
        original = app.notify

        def notify(message: str, **kwargs: Any) -> None:
            app.notes.append((message, kwargs.get("severity", "information")))  # type: ignore[attr-defined]
            original(message, **kwargs)

        app.notify = notify  # type: ignore[method-assign]
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.model.store.close()


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], object], within: float = 120.0) -> None:
    """Let the app run until ``predicate`` holds (no fixed sleeps; ``within`` only guards against a hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


async def ready(pilot: Pilot[Any]) -> ConsoleApp:
    app = pilot.app
    assert isinstance(app, ConsoleApp)
    await wait_for(pilot, lambda: app.snapshot is not None)
    await pilot.pause()
    return app


class UnexpandedDetail:
    """The host of a detail screen that is only looked at: opening a section would be a test's mistake."""

    def refresh_detail(self) -> None:
        raise AssertionError("no section of this detail screen is opened")
