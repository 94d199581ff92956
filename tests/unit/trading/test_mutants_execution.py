"""The executor, value by value (README "Never an order twice", "Nothing is left half-done", "A kill
switch that watches"; docs/benchmarks.md, mutation testing): a halted engine refuses the entry in the
executor's name; the entry goes out once at market, its row holding the request, the venue's answer or
refusal; a row already written is looked up, never sent again; a lost answer is resolved by the look-up
at once; an entry no look saw is cancelled by its own client id and its refusal kept; and an entry that
opened and closed between two looks is rebuilt from its fills, even while the venue's record of it lags
them, its row and result naming the rebuilt position.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import (
    EngineState,
    Mode,
    OrderKind,
    OrderState,
    PositionState,
    ProposalState,
)
from smt_engine.exchange.base import (
    AmbiguousOutcome,
    ExchangeOrder,
    ExchangePosition,
    ExchangeUnavailable,
    Fill,
    InsufficientMargin,
    InvalidOrder,
    OrderRequest,
    OrderStatus,
    PlacedOrder,
)
from smt_engine.store import Store
from smt_engine.store.records import EngineStatus
from smt_engine.trading.execution import Executor
from smt_engine.trading.order_desk import error_text
from tests.unit.trading.conftest import CONTRACTS, PRICES, drive
from tests.unit.trading.scripted import Script, ScriptedExchange
from tests.unit.trading.test_execution import _EntryRests, _PartFilledThenClosed, setup


class _EntryStateAtFirstLook(ScriptedExchange):
    """Records the entry row's state when the executor first looks for the position."""

    seen: list[OrderState | None]
    looked_up: list[str]

    async def positions(self) -> list[ExchangePosition]:
        if self.store_ is not None and self.cid_ is not None:
            row = self.store_.orders.by_client_id(self.cid_)
            if row is not None:
                self.seen.append(row.state)
        return await super().positions()

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        self.looked_up.append(symbol)
        return await super().find_order(symbol, client_order_id)

    store_: Store | None = None
    cid_: str | None = None


async def test_a_lost_answer_is_booked_filled_by_the_look_up_before_the_position_is_awaited(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal = setup(store, clock)
    ex = _EntryStateAtFirstLook(
        prices=dict(PRICES), contract_map=dict(CONTRACTS), script=Script(lose_entry_response=True)
    )
    ex.seen, ex.looked_up = [], []
    ex.store_, ex.cid_ = store, executor.desk.entry_cid(proposal.id or 0)
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    venue = ex.orders[ex.cid_]
    assert ex.seen[0] is OrderState.FILLED  # resolved at the look-up, not only once the position showed
    entry = store.orders.by_client_id(ex.cid_)
    assert entry is not None
    assert entry.exchange_order_id == venue.order_id
    assert entry.response == {"order_id": venue.order_id, "status": "filled", "resolved_by": "lookup"}
    filled = [e for e in store.events.of_kind("order.filled") if e.order_id == entry.id]
    assert len(filled) == 1
    assert filled[0].data["from"] == "unknown"
    assert filled[0].position_id is None  # booked by the look-up, before any position existed
    assert ex.looked_up
    assert set(ex.looked_up) == {"ETHUSDT"}


class _CancelRecorded(_EntryRests):
    cancels: list[tuple[str, str | None, str | None]]

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        self.cancels.append((symbol, order_id, client_order_id))
        await super().cancel_order(symbol, order_id=order_id, client_order_id=client_order_id)


def _resting(store: Store, clock: SimulatedClock) -> tuple[Executor, _CancelRecorded, int]:
    executor, _, proposal = setup(store, clock)
    ex = _CancelRecorded(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.cancels = []
    return Executor(ex, store, clock, executor.settings), ex, proposal.id or 0


async def test_an_entry_no_look_saw_is_cancelled_by_its_own_symbol_and_client_id(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, pid = _resting(store, clock)
    proposal = store.proposals.get(pid)
    assert proposal is not None
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed", result.detail
    assert ex.cancels == [("ETHUSDT", None, executor.desk.entry_cid(pid))]


async def test_a_refused_cancel_of_an_entry_no_look_saw_keeps_the_venues_words(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, pid = _resting(store, clock)
    refusal = ExchangeUnavailable("cancel: HTTP 503")
    ex.cancel_refused = refusal
    proposal = store.proposals.get(pid)
    assert proposal is not None
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    cid = executor.desk.entry_cid(pid)
    assert (result.outcome, result.detail) == (
        "pending",
        f"entry {cid} did not show as a position within 0:00:15 and the venue did not confirm its cancel: "
        "left for reconciliation",
    )
    entry = store.orders.by_client_id(cid)
    assert entry is not None
    assert entry.error == error_text(refusal)
    assert result.entry_order == entry


class _NotKnownYet(_CancelRecorded):
    """The venue answers the entry but no look-up by client id finds it."""

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        self.calls.append(("find_order", client_order_id))
        return None


async def test_the_round_trip_look_after_the_fill_timeout_asks_the_venue_once(
    store: Store, clock: SimulatedClock
) -> None:
    """The fill timeout has already been waited: one look-up decides, then the entry is cancelled."""
    executor, _, proposal = setup(store, clock)
    ex = _NotKnownYet(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.cancels = []
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed", result.detail
    assert ex.count("find_order") == 1
    assert len(ex.cancels) == 1


class _PartClosedSymbolSeen(_PartFilledThenClosed):
    looked_up: list[str]

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        self.looked_up.append(symbol)
        return await super().find_order(symbol, client_order_id)


async def test_a_round_trip_result_names_the_rebuilt_position_the_filled_entry_and_the_closed_proposal(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal = setup(store, clock)
    ex = _PartClosedSymbolSeen(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.looked_up = []
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "closed", result.detail
    assert result.detail == "filled and closed (manual) before the position was listed"
    (closed,) = store.positions.recent_closed()
    assert result.position is not None
    assert result.position.id == closed.id
    assert result.position.state is PositionState.CLOSED
    assert result.proposal.id == proposal.id
    assert result.proposal.state is ProposalState.CLOSED
    venue = ex.orders[executor.desk.entry_cid(proposal.id or 0)]
    entry = result.entry_order
    assert entry is not None
    assert entry == store.orders.by_client_id(venue.client_order_id)
    assert entry.state is OrderState.FILLED
    assert (entry.exchange_order_id, entry.position_id) == (venue.order_id, closed.id)
    filled = [e for e in store.events.of_kind("order.filled") if e.order_id == entry.id]
    assert [e.data["reason"] for e in filled] == ["filled; its position closed before it was listed"]
    opened = [e for e in store.events.of_kind("position.open") if e.position_id == closed.id]
    assert [e.data["actor"] for e in opened] == ["executor"]
    assert ex.looked_up
    assert set(ex.looked_up) == {"ETHUSDT"}


class _FilledWithoutSize(_PartFilledThenClosed):
    """The venue reports the entry filled but leaves its filled size out (0): the fills tell the size."""

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        placed = await super().place_order(request)
        entry = self.orders[request.client_order_id]
        self.orders[request.client_order_id] = replace(
            entry, status=OrderStatus.FILLED, filled_size=Decimal(0)
        )
        return placed

    async def fills(self, symbol, since=None, limit=100):  # type: ignore[no-untyped-def]
        entry = next(o for o in self.orders.values() if o.client_order_id.endswith("-entry"))
        return [
            Fill(
                order_id=entry.order_id,
                symbol=symbol,
                position_side=entry.position_side,
                price=PRICES[symbol],
                size=entry.size / 2,
                fee=Decimal(0),
                realized_pnl=Decimal(0),
                at=entry.created_at,
            )
        ]


async def test_an_entry_reported_filled_without_a_size_is_still_rebuilt_from_its_fills(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal = setup(store, clock)
    ex = _FilledWithoutSize(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "closed", result.detail
    (closed,) = store.positions.recent_closed()
    assert closed.size == proposal.size / 2


class _RecordLagsItsFills(_FilledWithoutSize):
    """The venue's record of the entry still says ``NEW`` with nothing filled while its fills (half the
    size) and the take-profit that closed them are already listed: a record lagging its fills."""

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        placed = await super().place_order(request)
        entry = self.orders[request.client_order_id]
        self.orders[request.client_order_id] = replace(entry, status=OrderStatus.NEW, avg_price=None)
        return placed


async def test_an_entry_whose_record_lags_its_fills_is_rebuilt_from_the_fills_not_cancelled(
    store: Store, clock: SimulatedClock
) -> None:
    """README "Nothing is left half-done": fills are the trade; an order record not yet caught up is not
    a reason to cancel and fail it (a failed proposal is never looked at again)."""
    executor, _, proposal = setup(store, clock)
    ex = _RecordLagsItsFills(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "closed", result.detail
    (closed,) = store.positions.recent_closed()
    assert (closed.size, closed.entry_price) == (proposal.size / 2, PRICES["ETHUSDT"])
    assert result.proposal.state is ProposalState.CLOSED
    assert ex.count("cancel_order") == 0
    assert result.entry_order is not None
    assert result.entry_order.state is OrderState.FILLED


class _CloseNotReadableYet(_PartFilledThenClosed):
    """The round trip's first reads answer; the second history read (how it closed) fails."""

    history_reads = 0

    async def order_history(
        self, symbol: str, since: datetime | None = None, limit: int = 100
    ) -> list[ExchangeOrder]:
        self.history_reads += 1
        if self.history_reads > 1:
            raise ExchangeUnavailable("order history: HTTP 503")
        return await super().order_history(symbol, since, limit)


async def test_a_round_trip_whose_close_is_not_readable_yet_says_its_reason_is_unknown(
    store: Store, clock: SimulatedClock
) -> None:
    """The position is rebuilt and left for the monitor to book its close: its reason is not known yet."""
    executor, _, proposal = setup(store, clock)
    ex = _CloseNotReadableYet(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert (result.outcome, result.detail) == (
        "closed",
        "filled and closed (unknown) before the position was listed",
    )
    assert result.position is not None
    assert result.position.state is PositionState.OPEN
    assert result.position.close_reason is None
    assert result.position.size == proposal.size / 2


# ---------------------------------------------------------------- the entry, value by value


async def test_a_halted_engine_refuses_the_entry_in_the_executors_name_and_says_why(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, proposal = setup(store, clock)
    result = await drive(clock, executor.execute(proposal, EngineState.HALTED))
    assert (result.outcome, result.detail) == ("denied", "engine is halted")
    assert result.proposal.state is ProposalState.DENIED
    assert result.proposal.decided_by == "executor"
    (denied,) = store.events.of_kind("proposal.denied")
    assert (denied.data["actor"], denied.data["reason"]) == ("executor", "engine is halted: no new entries")
    assert ex.calls == []  # not one venue call


async def test_an_entry_goes_out_once_at_market_its_row_holding_the_request_and_the_venues_answer(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, proposal = setup(store, clock)
    pid = proposal.id or 0
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert (result.outcome, result.detail) == ("open", "open with TP/SL resting")
    assert result.proposal == store.proposals.get(pid)
    assert result.proposal.state is ProposalState.OPEN
    (request,) = [a for c, a in ex.calls if c == "place_order"]
    assert isinstance(request, OrderRequest)
    assert request.order_type == "MARKET"
    assert ("cancel_all", "ETHUSDT") in ex.calls
    entry = store.orders.by_client_id(executor.desk.entry_cid(pid))
    venue = ex.orders[executor.desk.entry_cid(pid)]
    assert entry is not None
    assert entry.proposal_id == pid
    assert entry.request == {
        "type": "MARKET", "size": "1.5", "tp": "2100", "sl": "1960", "leverage": proposal.leverage,
    }  # fmt: skip
    assert entry.response == {"order_id": venue.order_id, "client_order_id": venue.client_order_id}
    steps = {e.kind: e.data for e in store.events.recent(100) if e.kind.startswith("proposal.")}
    assert (steps["proposal.submitting"]["actor"], steps["proposal.submitting"]["reason"]) == (
        "executor",
        "sending entry",
    )
    assert (steps["proposal.open"]["actor"], steps["proposal.open"]["reason"]) == (
        "executor",
        "filled 1.5 @ 2000",
    )


async def test_a_lost_answer_is_recorded_unknown_with_the_venues_words_before_the_look_up(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal = setup(store, clock, Script(lose_entry_response=True))
    cid = executor.desk.entry_cid(proposal.id or 0)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    lost = error_text(AmbiguousOutcome("connection dropped after send", client_order_id=cid))
    entry = store.orders.by_client_id(cid)
    assert entry is not None
    assert entry.error == lost
    (unknown,) = [e for e in store.events.of_kind("order.unknown") if e.order_id == entry.id]
    assert unknown.data["reason"] == f"outcome unknown ({lost}); looking it up, not resending"


async def test_an_entry_the_venue_never_saw_is_left_submitting_in_words_that_say_so(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    executor, _, proposal = setup(store, clock, Script(never_saw_entry=True))
    pid = proposal.id or 0
    cid = executor.desk.entry_cid(pid)
    with caplog.at_level(logging.WARNING, logger="smt_engine.trading.execution"):
        result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    detail = f"entry {cid}: outcome unknown and not found at the venue yet; left for reconciliation"
    assert (result.outcome, result.detail) == ("pending", detail)
    assert result.proposal.id == pid
    assert result.proposal.state is ProposalState.SUBMITTING
    assert f"proposal #{pid} left submitting: {detail}" in caplog.messages


async def test_a_rejected_entry_keeps_the_venues_refusal_on_its_row_and_in_the_result(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    refusal = InsufficientMargin("not enough margin")
    executor, _, proposal = setup(store, clock, Script(reject_entry=refusal))
    cid = executor.desk.entry_cid(proposal.id or 0)
    with caplog.at_level(logging.WARNING, logger="smt_engine.trading.execution"):
        result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert (result.outcome, result.detail) == ("failed", f"entry {cid} rejected: {error_text(refusal)}")
    assert f"proposal #{proposal.id} failed: {result.detail}" in caplog.messages
    entry = store.orders.by_client_id(cid)
    assert entry is not None
    assert entry.state is OrderState.REJECTED
    assert entry.error == error_text(refusal)
    assert result.entry_order == entry


class _PositionsUnreadableOnce(ScriptedExchange):
    """The first positions read (the stale-order check before anything is sent) fails."""

    failures = 1

    async def positions(self) -> list[ExchangePosition]:
        if self.failures:
            self.failures -= 1
            raise ExchangeUnavailable("positions: HTTP 503")
        return await super().positions()


async def test_a_venue_error_before_the_entry_fails_it_with_the_venues_words_and_no_order(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal = setup(store, clock)
    ex = _PositionsUnreadableOnce(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    words = error_text(ExchangeUnavailable("positions: HTTP 503"))
    assert (result.outcome, result.detail, result.entry_order) == ("failed", words, None)
    assert result.proposal.state is ProposalState.FAILED
    assert ex.count("place_order") == 0
    (failed,) = store.events.of_kind("proposal.failed")
    assert (failed.data["actor"], failed.data["reason"]) == ("executor", words)


async def test_a_leverage_refusal_fails_the_entry_with_no_entry_row(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal = setup(store, clock, Script(leverage_open_orders=99))
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed"
    assert result.entry_order is None
    assert store.orders.by_client_id(executor.desk.entry_cid(proposal.id or 0)) is None


async def test_an_unprotected_entry_is_closed_by_the_executor_saying_why(
    store: Store, clock: SimulatedClock
) -> None:
    script = Script(attach_sl=False, fail_place_tp_sl=InvalidOrder("trigger price invalid"))
    executor, _, proposal = setup(store, clock, script)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    why = "stop-loss could not be confirmed or placed"
    assert (result.outcome, result.detail) == ("unprotected", why)
    entry = store.orders.by_client_id(executor.desk.entry_cid(proposal.id or 0))
    assert entry is not None
    assert result.entry_order == entry
    assert entry.state is OrderState.FILLED
    assert result.position is not None
    (closed,) = [e for e in store.events.of_kind("position.closed") if e.position_id == result.position.id]
    assert closed.data["actor"] == "executor"
    assert closed.message.endswith(f"(unprotected): {why}")


# ---------------------------------------------------------------- an entry row written before


async def test_an_entry_row_already_written_is_looked_up_and_never_sent_again(
    store: Store, clock: SimulatedClock
) -> None:
    """The row is the proof a request may have gone out: the venue is asked, nothing is sent again."""
    executor, _, proposal = setup(store, clock)
    ex = _EntryStateAtFirstLook(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.seen, ex.looked_up = [], []
    executor = Executor(ex, store, clock, executor.settings)
    cid = executor.desk.entry_cid(proposal.id or 0)
    executor.desk.new_order(
        cid, "ETHUSDT", proposal.side, OrderKind.ENTRY, proposal.size, proposal_id=proposal.id
    )
    request = OrderRequest("ETHUSDT", proposal.side, proposal.size, cid, tp_price=proposal.tp_price)
    venue = ex._fill(replace(request, sl_price=proposal.sl_price))
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    assert ex.count("place_order") == 0
    assert set(ex.looked_up) == {"ETHUSDT"}
    entry = store.orders.by_client_id(cid)
    assert entry is not None
    assert entry.state is OrderState.FILLED
    assert entry.exchange_order_id == venue.order_id
    assert entry.response == {"order_id": venue.order_id, "status": "filled", "resolved_by": "lookup"}


async def test_an_entry_row_already_written_that_the_venue_does_not_show_is_left_pending(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, proposal = setup(store, clock)
    cid = executor.desk.entry_cid(proposal.id or 0)
    executor.desk.new_order(
        cid, "ETHUSDT", proposal.side, OrderKind.ENTRY, proposal.size, proposal_id=proposal.id
    )
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    detail = f"entry {cid} was already attempted and the venue does not show it yet"
    assert (result.outcome, result.detail) == ("pending", detail)
    assert ex.count("place_order") == 0
    assert ex.count("find_order") == 3


# ---------------------------------------------------------------- the door: which proposals may enter


async def test_an_engine_state_never_recorded_counts_as_stopped_and_refuses_the_entry(
    store: Store, clock: SimulatedClock
) -> None:
    """No engine row (no engine ever ran on this database): the executor refuses rather than trade."""
    executor, ex, proposal = setup(store, clock)
    assert store.engine.current() is None
    result = await drive(clock, executor.execute(proposal))
    assert (result.outcome, result.detail) == ("denied", "engine is stopped")
    assert ex.calls == []


async def test_the_recorded_engine_state_decides_when_the_caller_names_none(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, proposal = setup(store, clock)
    store.engine.put(EngineStatus(mode=Mode.PAPER, state=EngineState.HALTED))
    result = await drive(clock, executor.execute(proposal))
    assert (result.outcome, result.detail) == ("denied", "engine is halted")
    assert ex.calls == []


@pytest.mark.parametrize("state", [ProposalState.DENIED, ProposalState.PROPOSED])
async def test_only_an_approved_proposal_is_executed(
    store: Store, clock: SimulatedClock, state: ProposalState
) -> None:
    executor, ex, proposal = setup(store, clock)
    pid = proposal.id or 0
    store.proposals.update(pid, state=state)
    with pytest.raises(ValueError, match=rf"^proposal #{pid} is {state.value}, not approved$"):
        await executor.execute(proposal, EngineState.RUNNING)
    assert ex.calls == []
    assert executor.claimed == set()
    assert store.orders.by_client_id(executor.desk.entry_cid(pid)) is None


async def test_a_proposal_not_in_the_database_is_refused_as_missing(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, proposal = setup(store, clock)
    ghost = replace(proposal, id=(proposal.id or 0) + 100)
    with pytest.raises(ValueError, match=rf"^proposal #{ghost.id} is missing, not approved$"):
        await executor.execute(ghost, EngineState.RUNNING)
    assert ex.calls == []


async def test_a_proposal_is_claimed_while_it_executes_and_released_after_even_on_failure(
    store: Store, clock: SimulatedClock
) -> None:
    """The in-flight tracker leaves a claimed proposal alone: claimed for the whole execution, never after."""
    claimed_at_send: list[set[int]] = []
    script = Script(reject_entry=InvalidOrder("WEEX -1102: param error"))
    executor, _, proposal = setup(store, clock, script)
    script.on_place = lambda _req: claimed_at_send.append(set(executor.claimed))
    pid = proposal.id or 0
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed", result.detail
    assert claimed_at_send == [{pid}]
    assert executor.claimed == set()
