"""Stop move, take-profit move, partial close and cooldown clearance, end to end: each a queued command the
engine runs under its trade lock, against the fake WEEX over HTTP with the real client (issue 25)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import pytest

from smt_engine.domain import (
    CloseReason,
    CommandKind,
    CommandState,
    EngineState,
    OrderKind,
    OrderState,
    PositionState,
    Side,
)
from smt_engine.engine import Engine
from smt_engine.exchange.base import ExchangeUnavailable
from smt_engine.store.performance import trade_result
from smt_engine.store.records import Command, Position
from smt_engine.trading.account_reader import snapshot_account
from smt_engine.trading.risk import ReasonCode
from tests.command_support import command_service
from tests.integration.venue_bench import ETH, Bench, bench, open_long

__all__ = ["bench"]  # the fixture, imported


def engine(b: Bench) -> Engine:
    e = Engine(b.settings, b.store, b.clock, b.monitor, cast(Any, None))
    e.commands = command_service(b.settings, b.store, b.clock, b.client, b.book, b.executor, b.monitor, e)
    return e


async def run(b: Bench, kind: CommandKind, args: dict[str, Any]) -> Command:
    """Queue ``kind`` as the CLI and the console do, and let the engine claim and run it."""
    b.store.commands.enqueue(kind, b.clock.now(), "cli:tester", args)
    claimed = b.store.commands.claim_next(b.clock.now())
    assert claimed is not None
    assert claimed.id is not None
    await b.run(engine(b).handle(claimed))
    done = b.store.commands.get(claimed.id)
    assert done is not None
    return done


async def legs(b: Bench, kind: str) -> list[tuple[str, Decimal, Decimal]]:
    """(id, trigger, size) of every open ``kind`` leg of the ETH long on the venue."""
    return [
        (a.order_id, a.trigger_price, a.size)
        for a in await b.client.open_algo_orders(ETH)
        if a.kind == kind and a.position_side is Side.LONG and a.status.is_open
    ]


def position(b: Bench, position_id: int) -> Position:
    found = b.store.positions.get(position_id)
    assert found is not None
    return found


async def test_a_tightened_stop_rests_on_the_venue_and_the_old_one_is_gone(bench: Bench) -> None:
    pid, _, old_sl = await open_long(bench)
    assert [leg[0] for leg in await legs(bench, "sl")] == [old_sl]
    done = await run(bench, CommandKind.MOVE_PROTECTION, {"symbol": ETH, "side": "LONG", "sl_price": "2980"})
    assert done.state is CommandState.DONE, done.error
    stops = await legs(bench, "sl")
    assert [(price, size) for _, price, size in stops] == [(Decimal("2980.00"), position(bench, pid).size)]
    assert stops[0][0] != old_sl, "the old stop is cancelled, a new one rests"
    pos = position(bench, pid)
    assert pos.sl_price == Decimal("2980.00")
    assert pos.sl_order_id == stops[0][0]
    rows = {o.exchange_order_id: o for o in bench.store.orders.for_position(pid) if o.kind is OrderKind.SL}
    assert rows[old_sl].state is OrderState.CANCELLED
    assert rows[stops[0][0]].state is OrderState.SUBMITTED
    moved = bench.store.events.of_kind("position.protection_moved")
    assert moved
    assert moved[0].data["actor"] == "cli:tester"
    assert moved[0].position_id == pid


async def test_a_stop_loosened_past_the_limit_is_refused_with_the_reason_and_nothing_changes(
    bench: Bench,
) -> None:
    pid, _, old_sl = await open_long(bench)
    before = position(bench, pid)
    placed = bench.posts("/capi/v3/algoOrder")
    limit = bench.settings.analyst.max_sl_pct
    too_far = (before.entry_price * (1 - (limit + 1) / 100)).quantize(Decimal("0.01"))
    done = await run(
        bench, CommandKind.MOVE_PROTECTION, {"symbol": ETH, "side": "LONG", "sl_price": str(too_far)}
    )
    assert done.state is CommandState.FAILED
    assert done.error is not None
    assert done.error.startswith("max_stop_distance:")
    assert f"limit {limit}% (analyst.max_sl_pct)" in done.error
    assert [leg[0] for leg in await legs(bench, "sl")] == [old_sl]
    assert bench.posts("/capi/v3/algoOrder") == placed, "nothing was sent to the venue"
    assert position(bench, pid).sl_price == before.sl_price


async def test_a_stop_loosened_within_the_limit_is_accepted(bench: Bench) -> None:
    pid, _, _ = await open_long(bench)
    entry = position(bench, pid).entry_price
    within = (entry * Decimal("0.95")).quantize(Decimal("0.01"))  # 5 %, under the 8 % limit
    done = await run(
        bench, CommandKind.MOVE_PROTECTION, {"symbol": ETH, "side": "LONG", "sl_price": str(within)}
    )
    assert done.state is CommandState.DONE, done.error
    assert [price for _, price, _ in await legs(bench, "sl")] == [within]


async def test_a_stop_above_the_price_and_a_take_profit_below_it_are_refused(bench: Bench) -> None:
    _, old_tp, old_sl = await open_long(bench)
    done = await run(bench, CommandKind.MOVE_PROTECTION, {"symbol": ETH, "side": "LONG", "sl_price": "3050"})
    assert done.state is CommandState.FAILED
    assert (done.error or "").startswith("stop_wrong_side:")
    done = await run(bench, CommandKind.MOVE_PROTECTION, {"symbol": ETH, "side": "LONG", "tp_price": "2990"})
    assert done.state is CommandState.FAILED
    assert (done.error or "").startswith("take_profit_wrong_side:")
    assert [leg[0] for leg in await legs(bench, "sl")] == [old_sl]
    assert [leg[0] for leg in await legs(bench, "tp")] == [old_tp]


async def test_a_moved_take_profit_replaces_the_attached_one(bench: Bench) -> None:
    pid, old_tp, _ = await open_long(bench)
    done = await run(bench, CommandKind.MOVE_PROTECTION, {"symbol": ETH, "side": "LONG", "tp_price": "3150"})
    assert done.state is CommandState.DONE, done.error
    tps = await legs(bench, "tp")
    assert [price for _, price, _ in tps] == [Decimal("3150.00")]
    assert tps[0][0] != old_tp
    assert position(bench, pid).tp_price == Decimal("3150.00")


async def test_half_closed_the_rest_stays_open_with_resized_legs_and_the_pnl_booked(bench: Bench) -> None:
    pid, old_tp, old_sl = await open_long(bench)
    full = position(bench, pid)
    bench.fake.set_price(ETH, Decimal("3030.00"))
    done = await run(bench, CommandKind.CLOSE, {"symbol": ETH, "side": "LONG", "fraction": "0.5"})
    assert done.state is CommandState.DONE, done.error
    half = (full.size / 2).quantize(Decimal("0.001"), rounding="ROUND_DOWN")
    rest = full.size - half
    venue = [p for p in await bench.client.positions() if p.symbol == ETH and p.side is Side.LONG]
    assert [p.size for p in venue] == [rest]
    pos = position(bench, pid)
    assert pos.state is PositionState.OPEN
    assert pos.size == rest
    for kind, old in (("sl", old_sl), ("tp", old_tp)):
        resting = await legs(bench, kind)
        assert [size for _, _, size in resting] == [rest], kind
        assert resting[0][0] != old
    assert pos.sl_order_id == (await legs(bench, "sl"))[0][0]
    part_id = done.result["part_position_id"]
    part = position(bench, part_id)
    assert part.state is PositionState.CLOSED
    assert part.size == half
    assert part.close_reason is CloseReason.MANUAL
    assert part.exit_price is not None
    fills = [f for f in await bench.client.fills(ETH) if f.order_id == part.close_order_id]
    assert part.realized_pnl == sum((f.realized_pnl - abs(f.fee) for f in fills), Decimal(0))
    assert part.realized_pnl is not None
    assert part.realized_pnl > 0
    assert part.margin + pos.margin == full.margin
    trades = [t for t in bench.store.positions.closed_trades() if t.id == part_id]
    result = trade_result(trades[0], bench.settings.exchange.taker_fee_pct)
    assert result is not None, "the part closed counts in the performance figures"
    assert result.net > 0, "the part closed counts in the performance figures"
    event = bench.store.events.of_kind("position.partial_close")[0]
    assert event.data["actor"] == "cli:tester"


async def test_a_partial_close_below_the_venue_minimum_or_of_the_whole_size_is_refused(bench: Bench) -> None:
    pid, _, old_sl = await open_long(bench)
    size = position(bench, pid).size
    done = await run(bench, CommandKind.CLOSE, {"symbol": ETH, "side": "LONG", "size": "0.0004"})
    assert done.state is CommandState.FAILED
    assert (done.error or "").startswith("min_order_size:")
    assert "venue minimum 0.001" in (done.error or "")
    done = await run(bench, CommandKind.CLOSE, {"symbol": ETH, "side": "LONG", "size": str(size)})
    assert done.state is CommandState.FAILED
    assert (done.error or "").startswith("whole_position:")
    assert [p.size for p in await bench.client.positions() if p.symbol == ETH] == [size]
    assert position(bench, pid).size == size
    assert [leg[0] for leg in await legs(bench, "sl")] == [old_sl]


async def test_a_cleared_cooldown_lets_the_gate_allow_the_pair_again(bench: Bench) -> None:
    pid, _, _ = await open_long(bench)
    await bench.run(
        bench.executor.closer.close_position(position(bench, pid), CloseReason.STOP_LOSS, actor="t")
    )
    assert position(bench, pid).close_reason is CloseReason.STOP_LOSS

    def cooling() -> bool:
        account = snapshot_account(
            bench.store, bench.settings, bench.clock.now(), None, [], EngineState.RUNNING
        )
        return ETH in account.last_stop_loss

    assert cooling()
    denied = await bench.proposed()
    assert ReasonCode.COOLDOWN.value in denied.reason_codes
    done = await run(bench, CommandKind.CLEAR_COOLDOWN, {"symbol": "eth"})
    assert done.state is CommandState.DONE, done.error
    assert not cooling()
    allowed = await bench.proposed()
    assert ReasonCode.COOLDOWN.value not in allowed.reason_codes
    event = bench.store.events.of_kind("cooldown.cleared")[0]
    assert event.data["actor"] == "cli:tester"
    assert event.data["symbol"] == ETH
    again = await run(bench, CommandKind.CLEAR_COOLDOWN, {"symbol": ETH})
    assert again.state is CommandState.FAILED
    assert "no active stop-loss cooldown" in (again.error or "")


async def test_a_new_stop_the_venue_refuses_leaves_the_old_one_resting(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid, _, old_sl = await open_long(bench)
    cancels: list[str] = []
    real_cancel = bench.client.cancel_algo_order

    async def refuse(*args: object) -> None:
        raise ExchangeUnavailable("HTTP 503 from WEEX")

    async def cancel(symbol: str, order_id: str) -> None:
        cancels.append(order_id)
        await real_cancel(symbol, order_id)

    monkeypatch.setattr(bench.client, "place_tp_sl", refuse)
    monkeypatch.setattr(bench.client, "cancel_algo_order", cancel)
    done = await run(bench, CommandKind.MOVE_PROTECTION, {"symbol": ETH, "side": "LONG", "sl_price": "2980"})
    assert done.state is CommandState.FAILED
    assert (done.error or "").startswith("venue_refused:")
    assert cancels == [], "the old stop is cancelled only after the new one rests"
    assert [leg[0] for leg in await legs(bench, "sl")] == [old_sl]
    assert position(bench, pid).sl_order_id == old_sl


@pytest.mark.parametrize("history_lags", [False, True], ids=["history", "history-lags"])
async def test_the_rest_stopped_out_after_a_partial_close_books_its_own_fills_only(
    bench: Bench, monkeypatch: pytest.MonkeyPatch, history_lags: bool
) -> None:
    """The part closed is booked once: the remainder's realised PnL is its stop's fills, never the part's
    again, even when the venue's order history does not list the stop's fill yet."""
    pid, _, _ = await open_long(bench)
    bench.fake.set_price(ETH, Decimal("3030.00"))
    done = await run(bench, CommandKind.CLOSE, {"symbol": ETH, "side": "LONG", "fraction": "0.5"})
    assert done.state is CommandState.DONE, done.error
    part = position(bench, done.result["part_position_id"])
    sl = position(bench, pid).sl_price
    assert sl is not None
    if history_lags:
        real_history = bench.client.order_history

        async def part_only(*args: Any, **kwargs: Any) -> list[Any]:
            """The history lists the part's close, not yet the stop's fill."""
            return [o for o in await real_history(*args, **kwargs) if o.order_id == part.close_order_id]

        monkeypatch.setattr(bench.client, "order_history", part_only)
    bench.fake.set_price(ETH, sl - 5)
    for _ in range(4):
        await bench.run(bench.monitor.tick())
        if position(bench, pid).state is PositionState.CLOSED:
            break
    rest = position(bench, pid)
    assert rest.state is PositionState.CLOSED
    assert rest.realized_pnl is not None
    fills = [f for f in await bench.client.fills(ETH) if f.realized_pnl and f.order_id != part.close_order_id]
    assert fills, "the stop filled at the venue"
    assert rest.realized_pnl == sum((f.realized_pnl - abs(f.fee) for f in fills), Decimal(0))
    assert rest.realized_pnl < 0
    assert position(bench, part.id or 0).realized_pnl == part.realized_pnl
