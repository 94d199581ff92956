"""One TP/SL order on the account that nothing classifies (a trailing stop set by hand in the WEEX UI)
must not blind the engine: the engine's own legs are still found, closes still detected, and the odd
order is reported loudly, never counted as a stop."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from smt_engine.domain import CloseReason, EventLevel, HealthStatus, PositionState
from smt_engine.exchange.market import to_ms
from tests.integration.rig import MONITOR_S, T0, Rig
from tests.integration.test_engine import protected_position

TRAILING_ID = "990001"


def trailing_stop() -> dict[str, Any]:
    """Fields both openAlgoOrders and order detail would show; none says take-profit or stop-loss."""
    return {
        "algoId": TRAILING_ID,
        "orderId": TRAILING_ID,
        "clientAlgoId": "",
        "symbol": "ETHUSDT",
        "positionSide": "LONG",
        "side": "SELL",
        "orderType": "TRAILING_MARKET",
        "type": "TRAILING_MARKET",
        "quantity": "0.01",
        "origQty": "0.01",
        "algoStatus": "UNTRIGGERED",
        "status": "UNTRIGGERED",
        "triggerPrice": "2000",
        "reduceOnly": True,
        "createTime": to_ms(T0),
        "time": to_ms(T0),
        "updateTime": to_ms(T0),
    }


async def test_ticks_keep_working_with_an_unclassifiable_order_on_the_account(rig: Rig) -> None:
    rig.fake.faults.foreign_algo_rows.append(trailing_stop())
    pos = await protected_position(rig)
    assert pos.sl_order_id is not None
    assert pos.sl_order_id != TRAILING_ID
    assert pos.tp_order_id is not None
    assert pos.tp_order_id != TRAILING_ID
    assert rig.fake.counts["POST /capi/v3/placeTpSlOrder"] == 0, "the attached legs were found, not re-placed"

    rig.fake.set_price("ETHUSDT", pos.tp_price + Decimal(5), high=pos.tp_price + Decimal(10))

    def closed() -> bool:
        p = rig.store.positions.get(pos.id)
        return p is not None and p.state is PositionState.CLOSED

    await rig.until(closed, 4 * MONITOR_S)
    done = rig.store.positions.get(pos.id)
    assert done is not None
    assert done.close_reason is CloseReason.TAKE_PROFIT

    warned = rig.store.events.of_kind("exchange.leg_unclassified")
    assert len(warned) == 1, "one WARNING per order id, not one per tick"
    assert warned[0].level is EventLevel.WARNING
    assert TRAILING_ID in warned[0].message
    health = rig.store.health.get("exchange.legs")
    assert health is not None
    assert health.status is HealthStatus.WARN
    assert TRAILING_ID in health.detail
