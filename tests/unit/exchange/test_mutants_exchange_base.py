"""The venue protocol's own values (docs/benchmarks.md, mutation testing): which order states still
rest, what equity counts, which order row is an open TP/SL leg, and the venue's words every error keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from smt_engine.domain import Side
from smt_engine.exchange.base import (
    AlgoOrder,
    AmbiguousOutcome,
    Balance,
    ExchangeError,
    ExchangeOrder,
    InvalidOrder,
    OrderStatus,
    RateLimited,
    open_leg,
)

AT = datetime(2026, 4, 9, 12, 0, tzinfo=UTC)
OPEN = {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNTRIGGERED}


@pytest.mark.parametrize("status", list(OrderStatus))
def test_only_new_partly_filled_and_untriggered_orders_are_open(status: OrderStatus) -> None:
    assert status.is_open is (status in OPEN)


def test_equity_is_the_balance_plus_the_unrealised_pnl() -> None:
    losing = Balance("USDT", D("1000"), D("700"), D("300"), D("-42.5"))
    assert losing.equity == D("957.5")
    assert Balance("USDT", D("1000"), D("700"), D("300"), D("12")).equity == D("1012")


def row(**kw: Any) -> ExchangeOrder:
    """A stop-loss leg as order history reports it, still waiting for its trigger."""
    fields: dict[str, Any] = {
        "order_id": "801",
        "client_order_id": "smt-a-1-sl",
        "symbol": "BTCUSDT",
        "position_side": Side.SHORT,
        "reduce_only": True,
        "order_type": "STOP_MARKET",
        "status": OrderStatus.UNTRIGGERED,
        "size": D("0.01"),
        "filled_size": D(0),
        "price": None,
        "avg_price": None,
        "created_at": AT,
        "updated_at": AT + timedelta(minutes=1),
        "kind": "sl",
        "trigger_price": D("92000"),
    }
    return ExchangeOrder(**(fields | kw))


@pytest.mark.parametrize("kind", ["tp", "sl"])
@pytest.mark.parametrize("status", sorted(OPEN))
def test_an_open_leg_row_is_that_leg_with_every_field_kept(kind: str, status: OrderStatus) -> None:
    assert open_leg(row(kind=kind, status=status)) == AlgoOrder(
        order_id="801",
        client_order_id="smt-a-1-sl",
        symbol="BTCUSDT",
        position_side=Side.SHORT,
        kind=kind,  # type: ignore[arg-type]
        trigger_price=D("92000"),
        size=D("0.01"),
        status=status,
        created_at=AT,
        parent_order_id=None,
    )


@pytest.mark.parametrize(
    "changed",
    [
        {"kind": "entry"},
        {"kind": "close"},
        {"status": OrderStatus.FILLED},
        {"status": OrderStatus.CANCELLED},
        {"status": OrderStatus.TRIGGERED},
        {"trigger_price": None},
    ],
)
def test_an_entry_a_close_a_finished_leg_or_one_without_a_trigger_is_no_open_leg(
    changed: dict[str, Any],
) -> None:
    assert open_leg(row(**changed)) is None


def test_a_venue_error_keeps_the_venues_message_code_and_answer() -> None:
    error = InvalidOrder("leverage locked", code="-4161", raw={"code": -4161})
    assert (str(error), error.code, error.raw) == ("leverage locked", "-4161", {"code": -4161})
    bare = ExchangeError("down")
    assert (str(bare), bare.code, bare.raw) == ("down", None, None)


def test_a_rate_limit_keeps_its_wait_and_the_venues_words_and_waits_ten_seconds_unless_told() -> None:
    told = RateLimited("slow down", retry_after=2.5, code="429", raw="Too many requests")
    assert (str(told), told.retry_after, told.code, told.raw) == (
        "slow down",
        2.5,
        "429",
        "Too many requests",
    )
    plain = RateLimited("slow down")
    assert (plain.retry_after, plain.code, plain.raw) == (10.0, None, None)


def test_an_ambiguous_outcome_names_the_client_id_to_look_up_and_keeps_the_venues_words() -> None:
    lost = AmbiguousOutcome("no answer", client_order_id="smt-a-1", code="504", raw="Gateway Timeout")
    assert (str(lost), lost.client_order_id, lost.code, lost.raw) == (
        "no answer",
        "smt-a-1",
        "504",
        "Gateway Timeout",
    )
