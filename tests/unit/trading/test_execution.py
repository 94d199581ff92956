"""Execution against a scripted venue: one protected entry, no second order, no unprotected position."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from smt_engine.clock import SimulatedClock
from smt_engine.domain import (
    AiLogState,
    CloseReason,
    EngineState,
    OrderKind,
    OrderState,
    Pair,
    PositionState,
    ProposalState,
    Side,
    Tier,
)
from smt_engine.exchange.base import (
    AmbiguousOutcome,
    ExchangeError,
    ExchangeOrder,
    ExchangeUnavailable,
    InsufficientMargin,
    InvalidOrder,
    OrderRequest,
    OrderStatus,
    PlacedOrder,
)
from smt_engine.exchange.ids import CLIENT_ID_PATTERN as CLIENT_ID_RE
from smt_engine.store import Store
from smt_engine.store.records import Proposal
from smt_engine.trading.ailog import AiLogOutbox, Stage
from smt_engine.trading.execution import Executor
from smt_engine.trading.proposals import Candidate, ProposalBook
from tests.unit.trading.conftest import CONTRACTS, PRICES, account, decision, drive, make_settings
from tests.unit.trading.scripted import OPENED_AT, Script, ScriptedExchange, listed_position

ETH = Pair("ETH", Tier.ONE)


def setup(
    store: Store, clock: SimulatedClock, script: Script | None = None
) -> tuple[Executor, ScriptedExchange, Proposal]:
    # Sized on the stated confidence (no record to calibrate on here): the sizes below follow the table.
    settings = make_settings(
        engine={"approval": "auto"}, ailog={"enabled": True}, risk={"size_on_calibrated": False}
    )
    out = ProposalBook(store, clock, settings).run_cycle(
        [
            Candidate(
                ETH,
                decision(confidence=0.8, reasoning="whales accumulate"),
                CONTRACTS["ETHUSDT"],
                PRICES["ETHUSDT"],
            )
        ],
        account(settings),
        cycle_id="c1",
    )
    assert len(out.approved) == 1
    ex = ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS), script=script or Script())
    return Executor(ex, store, clock, settings, AiLogOutbox(store, clock, settings)), ex, out.approved[0]


async def test_exactly_one_entry_with_tp_and_sl_resting(store: Store, clock: SimulatedClock) -> None:
    seen_rows: list[OrderState] = []
    script = Script(legs_hidden_polls=3)
    executor, ex, proposal = setup(store, clock, script)
    script.on_place = lambda req: seen_rows.extend(
        o.state for o in [store.orders.by_client_id(req.client_order_id)] if o is not None
    )
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))

    assert result.outcome == "open", result.detail
    assert ex.count("place_order") == 1
    req = next(a for c, a in ex.calls if c == "place_order")
    assert isinstance(req, OrderRequest)
    assert (req.tp_price, req.sl_price, req.size) == (Decimal(2100), Decimal(1960), Decimal("1.5"))
    assert CLIENT_ID_RE.match(req.client_order_id)
    assert str(proposal.id) in req.client_order_id
    assert seen_rows == [OrderState.PENDING_SUBMIT]  # the row existed before the request went out
    names = ex.names()
    assert names.index("cancel_all") < names.index("set_leverage") < names.index("place_order")
    assert ex.count("place_tp_sl") == 0  # the attached legs showed up after a delay and were confirmed
    assert len(ex.algos) == 2

    pos = result.position
    assert pos is not None
    assert pos.state is PositionState.OPEN
    assert pos.opened_at == OPENED_AT  # the exchange's time, not ours
    assert {pos.tp_order_id, pos.sl_order_id} == {a.order_id for a in ex.algos}
    kinds = {o.kind: o for o in store.orders.for_position(pos.id or 0)}
    assert set(kinds) == {OrderKind.ENTRY, OrderKind.TP, OrderKind.SL}
    assert kinds[OrderKind.ENTRY].state is OrderState.FILLED
    assert store.proposals.get(proposal.id or 0).state is ProposalState.OPEN  # type: ignore[union-attr]
    logs = [r for r in store.ailogs.recent() if r.stage == Stage.TRADE_EXECUTION]
    assert len(logs) == 1
    assert logs[0].order_id == kinds[OrderKind.ENTRY].exchange_order_id
    assert logs[0].state is AiLogState.PENDING
    opened = [e for e in store.events.of_kind("position.open") if e.position_id == pos.id]
    assert len(opened) == 1
    assert opened[0].proposal_id == proposal.id
    assert opened[0].data["actor"] == "executor"


async def test_dropped_connection_after_acceptance_sends_no_second_order(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, proposal = setup(store, clock, Script(lose_entry_response=True))
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    assert ex.count("place_order") == 1
    assert ex.count("find_order") >= 1
    entry = result.entry_order
    assert entry is not None
    assert entry.exchange_order_id == ex.orders[entry.client_order_id].order_id
    assert entry.state is OrderState.FILLED


async def test_unknown_outcome_never_seen_by_venue_is_left_pending_without_resending(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, proposal = setup(store, clock, Script(never_saw_entry=True))
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "pending"
    assert ex.count("place_order") == 1
    assert result.entry_order is not None
    assert store.orders.by_client_id(result.entry_order.client_order_id).state is OrderState.UNKNOWN  # type: ignore[union-attr]
    # Not failed on a guess: the in-flight tracker finishes it from what the venue says.
    assert store.proposals.get(proposal.id or 0).state is ProposalState.SUBMITTING  # type: ignore[union-attr]


async def test_rejected_entry_is_not_retried(store: Store, clock: SimulatedClock) -> None:
    executor, ex, proposal = setup(store, clock, Script(reject_entry=InsufficientMargin("not enough margin")))
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed"
    assert "InsufficientMargin" in result.detail
    assert ex.count("place_order") == 1
    assert store.orders.recent()[0].state is OrderState.REJECTED


async def test_leverage_retried_while_orders_settle(store: Store, clock: SimulatedClock) -> None:
    executor, ex, proposal = setup(store, clock, Script(leverage_open_orders=2))
    start = clock.now()
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open"
    assert ex.count("set_leverage") == 3
    assert ex.count("cancel_all") == 3  # stale orders cancelled again before each retry
    assert (clock.now() - start).total_seconds() >= 6  # waited with the clock, not a busy loop


async def test_leverage_never_settling_fails_before_any_order(store: Store, clock: SimulatedClock) -> None:
    executor, ex, proposal = setup(store, clock, Script(leverage_open_orders=99))
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed"
    assert "leverage" in result.detail
    assert ex.count("place_order") == 0


async def test_missing_sl_is_placed(store: Store, clock: SimulatedClock) -> None:
    executor, ex, proposal = setup(store, clock, Script(attach_sl=False))
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open"
    placed = [a for c, a in ex.calls if c == "place_tp_sl"]
    assert placed == [("ETHUSDT", proposal.side, "sl", Decimal(1960), Decimal("1.5"))]
    assert result.position is not None
    assert result.position.sl_order_id is not None
    assert store.events.of_kind("protection.sl_missing")


async def test_missing_sl_that_cannot_be_placed_closes_at_market(store: Store, clock: SimulatedClock) -> None:
    script = Script(attach_sl=False, fail_place_tp_sl=InvalidOrder("trigger price invalid"))
    executor, ex, proposal = setup(store, clock, script)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "unprotected"
    assert ex.count("close_position") == 1
    assert ex.positions_ == {}
    pos = result.position
    assert pos is not None
    assert pos.state is PositionState.CLOSED
    assert pos.close_reason is CloseReason.UNPROTECTED
    assert pos.close_order_id
    assert result.proposal.state is ProposalState.CLOSED
    closes = [r for r in store.ailogs.recent() if r.stage == Stage.POSITION_CLOSED]
    assert len(closes) == 1
    assert closes[0].order_id == pos.close_order_id
    assert store.events.of_kind("position.closed")[0].level.value == "critical"


async def test_halted_engine_refuses_entries_but_allows_closes(store: Store, clock: SimulatedClock) -> None:
    executor, ex, proposal = setup(store, clock)
    opened = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert opened.position is not None

    settings = executor.settings
    second = ProposalBook(store, clock, settings).run_cycle(
        [Candidate(Pair("BTC", Tier.ONE), decision(), CONTRACTS["BTCUSDT"], PRICES["BTCUSDT"])],
        account(settings),
    )
    refused = await drive(clock, executor.execute(second.approved[0], EngineState.HALTED))
    assert refused.outcome == "denied"
    assert refused.proposal.reason_codes == ["engine_state"]
    assert ex.count("place_order") == 1

    closed = await drive(
        clock, executor.closer.close_position(opened.position, CloseReason.MANUAL, actor="alice")
    )
    assert closed.state is PositionState.CLOSED
    assert closed.close_reason is CloseReason.MANUAL
    assert closed.size == opened.position.size > 0, "a closed position keeps the size it traded (History)"
    assert ex.count("close_position") == 1
    assert ex.algos == []  # its TP/SL were cancelled before the close


class _EntryRests(ScriptedExchange):
    """Accepts the entry and lists no position for it; ``cancel_refused`` makes its cancel fail."""

    cancel_refused: ExchangeError | None = None

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        placed = await super().place_order(request)
        self.positions_.clear()
        filled = self.orders[request.client_order_id]
        self.orders[request.client_order_id] = replace(
            filled, status=OrderStatus.NEW, filled_size=Decimal(0), avg_price=None
        )
        return placed

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        if self.cancel_refused is not None:
            self.calls.append(("find_order", client_order_id))
            raise ExchangeUnavailable("order history: HTTP 503")
        return await super().find_order(symbol, client_order_id)

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        await super().cancel_order(symbol, order_id=order_id, client_order_id=client_order_id)
        if self.cancel_refused is not None:
            raise self.cancel_refused


def _resting_setup(store: Store, clock: SimulatedClock) -> tuple[Executor, _EntryRests, Proposal]:
    executor, _, proposal = setup(store, clock)
    ex = _EntryRests(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    executor = Executor(ex, store, clock, executor.settings)
    return executor, ex, proposal


async def test_an_entry_never_listed_whose_cancel_the_venue_confirms_fails(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, proposal = _resting_setup(store, clock)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed"
    assert "did not show as a position within" in result.detail
    assert ex.count("place_order") == 1
    assert ex.count("cancel_order") == 1
    assert result.entry_order is not None
    assert result.entry_order.state is OrderState.CANCELLED
    assert store.proposals.get(proposal.id or 0).state is ProposalState.FAILED  # type: ignore[union-attr]


async def test_an_entry_never_listed_whose_cancel_is_not_confirmed_is_left_pending_not_failed(
    store: Store, clock: SimulatedClock
) -> None:
    """It may have filled and closed where no read could see it: the in-flight tracker finishes it from
    what the venue says (a failed proposal is never looked at again, and its trade would be lost)."""
    executor, ex, proposal = _resting_setup(store, clock)
    ex.cancel_refused = ExchangeUnavailable("cancel: HTTP 503")
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "pending", result.detail
    assert "did not confirm its cancel" in result.detail
    assert ex.count("place_order") == 1
    entry = store.orders.by_client_id(executor.desk.entry_cid(proposal.id or 0))
    assert entry is not None
    assert entry.state is OrderState.SUBMITTED
    assert entry.error
    assert store.proposals.get(proposal.id or 0).state is ProposalState.SUBMITTING  # type: ignore[union-attr]


async def test_a_position_of_the_other_side_is_never_taken_for_the_entrys_fill(
    store: Store, clock: SimulatedClock
) -> None:
    """WEEX holds a long and a short of one symbol apart: an ETH short already held is not the ETH long
    this entry opens (its size, price and stops would be booked for the wrong position)."""
    executor, ex, proposal = setup(store, clock)
    short = listed_position(
        side=Side.SHORT, size="7.77", opened_at=OPENED_AT, entry_price=Decimal(1234), margin=Decimal(100),
        position_id="pos-short",
    )  # fmt: skip
    ex.positions_[("ETHUSDT", Side.SHORT)] = short
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    pos = result.position
    assert pos is not None
    assert pos.side is Side.LONG
    assert pos.size == proposal.size
    assert pos.entry_price == PRICES["ETHUSDT"]
    assert ex.positions_[("ETHUSDT", Side.SHORT)] == short  # untouched


class _PartFilledThenClosed(ScriptedExchange):
    """The entry fills in part and the rest is cancelled; the part is closed by a take-profit before any
    look lists the position: a round trip of the part, which the venue reports ``CANCELED`` with a fill."""

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        placed = await super().place_order(request)
        self.positions_.clear()
        entry = self.orders[request.client_order_id]
        part = request.size / 2
        self.orders[request.client_order_id] = replace(entry, status=OrderStatus.CANCELLED, filled_size=part)
        self.orders["tp-of-part"] = replace(
            entry,
            order_id="tp-1",
            client_order_id="tp-of-part",
            reduce_only=True,
            order_type="TAKE_PROFIT_MARKET",
            size=part,
            filled_size=part,
            avg_price=entry.avg_price,
        )
        return placed


async def test_an_entry_filled_in_part_and_closed_between_looks_is_rebuilt_at_the_part(
    store: Store, clock: SimulatedClock
) -> None:
    """A partial fill is a trade: the part's position is rebuilt from the venue (size, outcome), never
    failed because the entry's own status says cancelled."""
    executor, _, proposal = setup(store, clock)
    ex = _PartFilledThenClosed(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "closed", result.detail
    (closed,) = store.positions.recent_closed()
    assert closed.proposal_id == proposal.id
    assert closed.size == proposal.size / 2
    assert store.proposals.get(proposal.id or 0).state is ProposalState.CLOSED  # type: ignore[union-attr]


class _LostThenCancelled(ScriptedExchange):
    """Accepts the entry, cancels it unfilled, and loses the answer: the look-up finds it cancelled."""

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        self.calls.append(("place_order", request))
        entry = self._fill(request)
        self.positions_.clear()
        self.orders[request.client_order_id] = replace(
            entry, status=OrderStatus.CANCELLED, filled_size=Decimal(0), avg_price=None
        )
        raise AmbiguousOutcome("connection dropped after send", client_order_id=request.client_order_id)


async def test_an_entry_the_venue_reports_cancelled_at_the_look_up_fails_at_once(
    store: Store, clock: SimulatedClock
) -> None:
    """The lost answer is looked up and the venue says the entry was cancelled unfilled: the proposal
    fails in that execution (nothing traded), not a tick later."""
    executor, _, proposal = setup(store, clock)
    ex = _LostThenCancelled(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed", result.detail
    assert "cancelled at the venue" in result.detail
    assert ex.count("place_order") == 1
    assert store.proposals.get(proposal.id or 0).state is ProposalState.FAILED  # type: ignore[union-attr]
