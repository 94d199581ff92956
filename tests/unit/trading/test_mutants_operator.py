"""Operator commands in process, value by value (README "Everything is recorded (who, why)", operator
guide "The console never calls the exchange; it writes commands that the engine validates and
executes"; docs/benchmarks.md, mutation testing): every refusal says why, every result says what was done.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.commands.contract import CONTRACT
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.service import CommandService
from smt_engine.config import Settings
from smt_engine.domain import CommandKind, EngineState, Mode, Pair, PositionState, ProposalState, Side, Tier
from smt_engine.exchange.base import ExchangeUnavailable, InvalidOrder, PlacedOrder
from smt_engine.store import Store
from smt_engine.store.records import Command, EngineStatus, Position
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.execution import Executor
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.proposals import Candidate, ProposalBook
from tests.command_support import RunRow, command_service, row_runner
from tests.unit.trading.conftest import (
    CONTRACTS,
    NOW,
    PRICES,
    account,
    decision,
    drive,
    eth_position,
    make_settings,
)
from tests.unit.trading.scripted import ScriptedExchange
from tests.unit.trading.test_mutants_guard import _venue_position


@dataclass(frozen=True)
class Desk:
    """The engine's command service over a scripted venue; ``run`` takes a command row, returns the stored
    result row."""

    service: CommandService
    run: RunRow
    book: ProposalBook
    settings: Settings


def desk(store: Store, clock: SimulatedClock) -> tuple[Desk, ScriptedExchange]:
    settings = make_settings(engine={"approval": "manual"}, risk={"size_on_calibrated": False})
    ex = ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.now = clock.now
    executor = Executor(ex, store, clock, settings, AiLogOutbox(store, clock, settings))
    monitor = Monitor(settings, store, clock, ex, executor, None)
    book = ProposalBook(store, clock, settings)
    store.engine.put(EngineStatus(mode=Mode.PAPER, state=EngineState.RUNNING))
    service = command_service(settings, store, clock, ex, book, executor, monitor)
    return Desk(service, row_runner(service), book, settings), ex


def command(kind: CommandKind, actor: str = "alice", **args: Any) -> Command:
    return Command(kind=kind, actor=actor, created_at=NOW, args=args)


def waiting(store: Store, clock: SimulatedClock, ops: Desk) -> int:
    out = ops.book.run_cycle(
        [Candidate(Pair("ETH", Tier.ONE), decision(), CONTRACTS["ETHUSDT"], PRICES["ETHUSDT"])],
        account(ops.settings),
        cycle_id="c1",
    )
    assert len(out.waiting) == 1
    pid = out.waiting[0].id
    assert pid is not None
    return pid


@pytest.mark.parametrize("value", [None, "7", True, 7.0])
async def test_a_proposal_number_must_be_a_number(store: Store, clock: SimulatedClock, value: object) -> None:
    ops, _ = desk(store, clock)
    for kind in (CommandKind.APPROVE, CommandKind.REJECT):
        with pytest.raises(CommandRejected) as refused:
            await ops.run(command(kind, proposal_id=value))
        assert str(refused.value) == "args.proposal_id must be a proposal number"


async def test_approving_an_unknown_proposal_names_it(store: Store, clock: SimulatedClock) -> None:
    ops, _ = desk(store, clock)
    with pytest.raises(CommandRejected, match=r"^no proposal #99$"):
        await ops.run(command(CommandKind.APPROVE, proposal_id=99))


async def test_an_approval_opens_the_position_and_says_so(store: Store, clock: SimulatedClock) -> None:
    ops, ex = desk(store, clock)
    pid = waiting(store, clock, ops)
    result = await drive(clock, ops.run(command(CommandKind.APPROVE, proposal_id=pid)))
    pos = store.positions.open_for("ETHUSDT", Side.LONG)
    assert pos is not None
    assert pos.proposal_id == pid
    assert result == {
        "proposal_id": pid,
        "outcome": "open",
        "position_id": pos.id,
        "detail": result["detail"],
    }
    assert isinstance(result["detail"], str)
    assert result["detail"]
    assert ex.count("place_order") == 1
    decided = [e for e in store.events.of_kind("proposal.approved") if e.proposal_id == pid]
    assert decided
    assert decided[0].data["actor"] == "alice"


async def test_an_approval_on_an_unreadable_venue_is_refused_and_sends_nothing(
    store: Store, clock: SimulatedClock
) -> None:
    ops, ex = desk(store, clock)
    pid = waiting(store, clock, ops)
    ex.script.balance_error = ExchangeUnavailable("balance 502")
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.APPROVE, proposal_id=pid))
    assert str(refused.value) == f"cannot approve #{pid} now: the exchange could not be read (balance 502)"
    assert ex.count("place_order") == 0
    current = store.proposals.get(pid)
    assert current is not None
    assert current.state is ProposalState.PROPOSED


async def test_an_approval_on_an_implausible_price_is_refused_naming_it(
    store: Store, clock: SimulatedClock
) -> None:
    ops, ex = desk(store, clock)
    pid = waiting(store, clock, ops)
    real = ex.candles

    async def reference_far(symbol: str, interval: str, limit: int) -> list[Any]:
        bars = await real(symbol, interval, limit)
        return [b.__class__(b.open_time, b.open, b.high, b.low, Decimal(3000), b.volume) for b in bars]

    ex.candles = reference_far  # type: ignore[method-assign]
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.APPROVE, proposal_id=pid))
    assert str(refused.value).startswith(f"cannot approve #{pid} now: ETHUSDT: price 2000 refused (")
    assert ex.count("place_order") == 0


async def test_an_approval_the_gates_deny_says_the_state_and_codes(
    store: Store, clock: SimulatedClock
) -> None:
    ops, ex = desk(store, clock)
    pid = waiting(store, clock, ops)
    ex.available = Decimal("0.5")  # nothing to size an entry on
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.APPROVE, proposal_id=pid))
    current = store.proposals.get(pid)
    assert current is not None
    assert current.state is ProposalState.DENIED
    assert current.reason_codes
    assert (
        str(refused.value) == f"proposal #{pid} was not approved: denied ({', '.join(current.reason_codes)})"
    )
    assert ex.count("place_order") == 0


async def test_an_expired_proposal_says_so_without_codes(store: Store, clock: SimulatedClock) -> None:
    ops, _ = desk(store, clock)
    pid = waiting(store, clock, ops)
    await clock.advance(timedelta(days=2).total_seconds())
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.APPROVE, proposal_id=pid))
    assert str(refused.value) == f"proposal #{pid} was not approved: expired (expired)"


async def test_an_approved_proposal_that_did_not_open_says_why(store: Store, clock: SimulatedClock) -> None:
    ops, ex = desk(store, clock)
    pid = waiting(store, clock, ops)
    ex.script.reject_entry = ExchangeUnavailable("order endpoint 502")
    with pytest.raises(CommandRejected) as refused:
        await drive(clock, ops.run(command(CommandKind.APPROVE, proposal_id=pid)))
    assert str(refused.value).startswith(f"proposal #{pid} approved but not opened: failed: ")


async def test_a_second_approval_is_refused_by_the_state_machine(store: Store, clock: SimulatedClock) -> None:
    ops, _ = desk(store, clock)
    pid = waiting(store, clock, ops)
    await ops.run(command(CommandKind.REJECT, proposal_id=pid))
    with pytest.raises(CommandRejected, match="rejected"):
        await ops.run(command(CommandKind.APPROVE, proposal_id=pid))


async def test_a_rejection_records_who_and_why(store: Store, clock: SimulatedClock) -> None:
    ops, _ = desk(store, clock)
    pid = waiting(store, clock, ops)
    result = await ops.run(command(CommandKind.REJECT, actor="bob", proposal_id=pid, reason="too late"))
    assert result == {"proposal_id": pid, "state": "rejected"}
    (event,) = [e for e in store.events.of_kind("proposal.rejected") if e.proposal_id == pid]
    assert event.data["actor"] == "bob"
    assert event.data["reason"] == "too late"
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.REJECT, proposal_id=pid))
    assert str(refused.value) == f"proposal #{pid}: rejected -> rejected is not allowed"


async def test_a_rejection_without_a_reason_records_an_empty_one(store: Store, clock: SimulatedClock) -> None:
    ops, _ = desk(store, clock)
    pid = waiting(store, clock, ops)
    await ops.run(command(CommandKind.REJECT, proposal_id=pid))
    (event,) = [e for e in store.events.of_kind("proposal.rejected") if e.proposal_id == pid]
    assert event.data["reason"] == "rejected by operator"


async def test_an_approval_on_a_database_no_engine_ran_on_is_denied_as_stopped(
    store: Store, clock: SimulatedClock
) -> None:
    ops, ex = desk(store, clock)
    pid = waiting(store, clock, ops)
    store.db.execute("DELETE FROM engine")
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.APPROVE, proposal_id=pid))
    assert str(refused.value) == f"proposal #{pid} was not approved: denied (engine_state)"
    assert ex.count("place_order") == 0


async def test_a_denial_names_every_failed_gate(store: Store, clock: SimulatedClock) -> None:
    ops, ex = desk(store, clock)
    pid = waiting(store, clock, ops)
    store.db.execute("DELETE FROM engine")
    ex.available = Decimal("0.5")
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.APPROVE, proposal_id=pid))
    assert str(refused.value) == f"proposal #{pid} was not approved: denied (engine_state, min_order_size)"
    assert ex.count("place_order") == 0


def open_long(store: Store, ex: ScriptedExchange, symbol: str = "ETHUSDT") -> Position:
    pos = store.positions.insert(
        eth_position(
            symbol=symbol,
        )
    )
    ex.positions_[(symbol, Side.LONG)] = replace(_venue_position(), symbol=symbol)
    return pos


def refuse_closes(ex: ScriptedExchange, *symbols: str) -> None:
    """The venue refuses a market close on ``symbols`` (an API error, not a lost answer)."""
    real = ex.close_position

    async def close(symbol: str, side: Side, client_order_id: str) -> PlacedOrder:
        if symbol in symbols:
            raise InvalidOrder("no position to close", code="40034")
        return await real(symbol, side, client_order_id)

    ex.close_position = close  # type: ignore[method-assign]


async def test_a_close_takes_symbol_and_side_in_any_case(store: Store, clock: SimulatedClock) -> None:
    ops, ex = desk(store, clock)
    pos = open_long(store, ex)
    result = await ops.run(command(CommandKind.CLOSE, actor="carol", symbol="ethusdt", side="long"))
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.CLOSED
    assert result == {"position_id": pos.id, "state": "closed", "close_order_id": after.close_order_id}
    assert after.close_order_id is not None
    (event,) = [e for e in store.events.of_kind("position.closed") if e.position_id == pos.id]
    assert event.data["actor"] == "carol"


@pytest.mark.parametrize("args", [{"symbol": "ETHUSDT"}, {"symbol": "ETHUSDT", "side": "up"}])
async def test_a_close_needs_a_side(store: Store, clock: SimulatedClock, args: dict[str, str]) -> None:
    ops, _ = desk(store, clock)
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.CLOSE, **args))
    assert str(refused.value) == "args.side must be LONG or SHORT"


async def test_a_close_of_no_position_names_what_was_asked(store: Store, clock: SimulatedClock) -> None:
    ops, _ = desk(store, clock)
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.CLOSE, symbol="btcusdt", side="SHORT"))
    assert str(refused.value) == "no open SHORT position on BTCUSDT"
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.CLOSE, side="SHORT"))
    assert str(refused.value) == "args.symbol is required, e.g. ETHUSDT"


async def test_a_close_the_venue_refuses_fails_and_says_so(store: Store, clock: SimulatedClock) -> None:
    ops, ex = desk(store, clock)
    pos = open_long(store, ex)
    refuse_closes(ex, "ETHUSDT")
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.CLOSE, symbol="ETHUSDT", side="LONG"))
    assert str(refused.value) == "ETHUSDT LONG: the close order was not accepted (see the events)"
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.OPEN


async def test_close_all_closes_every_open_position_and_names_the_failures(
    store: Store, clock: SimulatedClock
) -> None:
    ops, ex = desk(store, clock)
    eth = open_long(store, ex)
    sol = open_long(store, ex, "SOLUSDT")
    btc = open_long(store, ex, "BTCUSDT")
    refuse_closes(ex, "SOLUSDT", "BTCUSDT")
    closing = store.positions.insert(
        eth_position(
            symbol="DOGEUSDT",
            size=Decimal(100),
            entry_price=Decimal("0.1"),
            state=PositionState.CLOSING,
        )
    )
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.CLOSE_ALL))
    assert str(refused.value) == "closed 1, could not close: BTCUSDT LONG, SOLUSDT LONG"
    states = [store.positions.get(p.id or 0).state for p in (eth, sol, btc, closing)]  # type: ignore[union-attr]
    assert states == [PositionState.CLOSED, PositionState.OPEN, PositionState.OPEN, PositionState.CLOSING]
    for p in (sol, btc):
        store.positions.update(p.id or 0, state=PositionState.CLOSED)
    assert await ops.run(command(CommandKind.CLOSE_ALL)) == {"closed": []}


async def test_close_all_returns_the_closed_ids(store: Store, clock: SimulatedClock) -> None:
    ops, ex = desk(store, clock)
    eth = open_long(store, ex)
    btc = open_long(store, ex, "BTCUSDT")
    result = await ops.run(command(CommandKind.CLOSE_ALL, actor="dave"))
    assert sorted(result["closed"]) == sorted([eth.id, btc.id])
    for pos in (eth, btc):
        said = [e.message for e in store.events.recent(limit=500) if e.position_id == pos.id]
        assert any("by dave (manual)" in m for m in said), said


async def test_cleanup_on_an_unreadable_venue_is_refused_with_the_reason(
    store: Store, clock: SimulatedClock
) -> None:
    ops, ex = desk(store, clock)

    async def down() -> list[Any]:
        raise ExchangeUnavailable("positions 502")

    ex.positions = down  # type: ignore[method-assign]
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.CLEANUP))
    assert str(refused.value) == "exchange read failed, nothing cancelled: positions 502"
    ex.positions = ScriptedExchange.positions.__get__(ex)  # type: ignore[method-assign]
    assert await ops.run(command(CommandKind.CLEANUP)) == {"cancelled": []}


def test_every_command_kind_has_its_handler_and_its_contract(store: Store, clock: SimulatedClock) -> None:
    ops, _ = desk(store, clock)
    assert set(ops.service.handlers) == set(CommandKind)
    assert set(CONTRACT) == set(CommandKind)
    assert len({c.args for c in CONTRACT.values()}) == len(CommandKind)  # one arguments type per kind
    assert all(CONTRACT[kind].args.kind is kind for kind in CommandKind)


async def test_an_operators_entry_opens_for_them_and_says_what_it_opened(
    store: Store, clock: SimulatedClock
) -> None:
    ops, ex = desk(store, clock)
    args = {"pair": "ETH", "side": "LONG", "margin": "25", "tp_pct": "3", "sl_pct": "1.5"}
    result = await drive(clock, ops.run(command(CommandKind.ENTER, actor="carol", **args)))
    pos = store.positions.open_for("ETHUSDT", Side.LONG)
    assert pos is not None
    assert result == {
        "proposal_id": pos.proposal_id,
        "outcome": "open",
        "position_id": pos.id,
        "detail": result["detail"],
    }
    assert isinstance(result["detail"], str)
    assert result["detail"]
    proposal = store.proposals.get(pos.proposal_id or 0)
    assert proposal is not None
    assert proposal.decided_by == "carol"
    assert ex.count("place_order") == 1


async def test_an_operators_entry_the_engine_refuses_says_why_and_sends_nothing(
    store: Store, clock: SimulatedClock
) -> None:
    ops, ex = desk(store, clock)
    ex.script.balance_error = ExchangeUnavailable("balance 502")
    with pytest.raises(CommandRejected) as refused:
        await ops.run(command(CommandKind.ENTER, pair="ETH", side="LONG", margin="25", sl_pct="1.5"))
    assert str(refused.value) == "entry refused: the exchange could not be read (balance 502)"
    assert ex.count("place_order") == 0
