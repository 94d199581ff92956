"""Paper venue: fills, fees, TP/SL on the price path, orphan legs, liquidation, persistence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Side
from smt_engine.exchange.base import (
    InsufficientMargin,
    InvalidOrder,
    OrderRequest,
    OrderStatus,
    VenuePrecisionError,
)
from smt_engine.exchange.market import ManualMarket, SyntheticMarket
from smt_engine.exchange.paper import PaperExchange
from smt_engine.exchange.precision import quoted_step

D = Decimal
T0 = datetime(2026, 1, 12, 12, 0, tzinfo=UTC)


def venue(tmp_path: Path | None = None, **kw: object) -> tuple[PaperExchange, ManualMarket, SimulatedClock]:
    clock = SimulatedClock(T0)
    market = ManualMarket(clock, {"BTCUSDT": D("100000"), "SOLUSDT": D("137.73")})
    ex = PaperExchange(
        market,
        clock,
        state_path=(tmp_path / "paper.json") if tmp_path else None,
        slippage_pct=D(0),
        **kw,  # type: ignore[arg-type]
    )
    return ex, market, clock


def entry(
    cid: str, size: str = "0.01", tp: str | None = "105000", sl: str | None = "98000", **kw: object
) -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT",
        position_side=Side.LONG,
        size=D(size),
        client_order_id=cid,
        tp_price=D(tp) if tp else None,
        sl_price=D(sl) if sl else None,
        **kw,  # type: ignore[arg-type]
    )


async def test_market_entry_fills_with_fee_and_creates_legs() -> None:
    ex, _, _ = venue()
    placed = await ex.place_order(entry("e1"))
    order = await ex.order("BTCUSDT", placed.order_id)
    assert order.status is OrderStatus.FILLED
    assert order.avg_price == D("100000")
    bal = await ex.balance()
    assert bal.balance == D(1000) - D("100000") * D("0.01") * D("0.0008")  # 0.8 USDT taker fee
    legs = await ex.open_algo_orders("BTCUSDT")
    assert sorted((leg.kind, leg.trigger_price) for leg in legs) == [("sl", D("98000")), ("tp", D("105000"))]
    assert all(leg.parent_order_id == placed.order_id for leg in legs)


async def test_spike_between_polls_triggers_tp_and_sibling_stays() -> None:
    ex, market, clock = venue()
    await ex.place_order(entry("e1"))
    await clock.advance(30)
    market.set_price("BTCUSDT", D("101000"), high=D("105500"))  # a wick through TP, back down
    await clock.advance(30)
    market.set_price("BTCUSDT", D("100500"))
    assert await ex.positions() == []
    hist = await ex.order_history("BTCUSDT")
    tp = next(o for o in hist if o.kind == "tp")
    assert tp.status is OrderStatus.FILLED
    assert tp.avg_price == D("105000")
    fills = await ex.fills("BTCUSDT")
    assert fills[0].realized_pnl == D("50.00")  # (105000-100000) * 0.01
    # Like WEEX, the SL leg is left behind until someone cancels it.
    left = await ex.open_algo_orders("BTCUSDT")
    assert [leg.kind for leg in left] == ["sl"]
    assert await ex.cancel_all("BTCUSDT") == 1


async def test_bar_touching_tp_and_sl_resolves_to_sl() -> None:
    ex, market, clock = venue()
    await ex.place_order(entry("e1"))
    await clock.advance(60)
    market.set_price("BTCUSDT", D("100000"), high=D("106000"), low=D("97000"))
    hist = await ex.order_history("BTCUSDT")
    assert next(o.kind for o in hist if o.status is OrderStatus.FILLED) == "sl"
    assert (await ex.fills("BTCUSDT"))[0].realized_pnl == D("-20.00")


async def test_orphan_leg_fires_on_a_later_position() -> None:
    ex, market, clock = venue()
    await ex.place_order(entry("e1", tp=None))
    await ex.close_position("BTCUSDT", Side.LONG, "c1")
    assert next(o.kind for o in await ex.order_history("BTCUSDT")) == "close"
    await ex.place_order(entry("e2", tp=None, sl=None))
    await clock.advance(60)
    market.set_price("BTCUSDT", D("97900"))
    assert await ex.positions() == []  # the orphaned stop from e1 closed e2


async def test_liquidation_is_reported() -> None:
    ex, market, clock = venue()
    await ex.set_leverage("BTCUSDT", 50, "isolated")
    await ex.place_order(entry("e1", tp=None, sl=None))
    pos = (await ex.positions())[0]
    assert pos.liquidation_price == D("98500.0")  # entry * (1 - 1/50 + 0.005)
    await clock.advance(60)
    market.set_price("BTCUSDT", D("98000"))
    assert await ex.positions() == []
    liq = (await ex.order_history("BTCUSDT"))[0]
    assert liq.order_type == "LIQUIDATION"
    assert liq.kind == "close"
    assert (await ex.fills("BTCUSDT"))[0].realized_pnl == D("-15.000")


async def test_limit_fills_when_crossed() -> None:
    ex, market, clock = venue()
    placed = await ex.place_order(entry("l1", order_type="LIMIT", price=D("99000"), tp=None, sl="97000"))
    assert [o.order_id for o in await ex.open_orders()] == [placed.order_id]
    await clock.advance(60)
    market.set_price("BTCUSDT", D("99500"), low=D("98900"))
    order = await ex.order("BTCUSDT", placed.order_id)
    assert order.status is OrderStatus.FILLED
    assert order.avg_price == D("99000")
    assert [leg.kind for leg in await ex.open_algo_orders()] == ["sl"]


async def test_precision_and_side_rejections_quote_the_step() -> None:
    ex, _, _ = venue()
    with pytest.raises(VenuePrecisionError) as err:
        await ex.place_order(OrderRequest("SOLUSDT", Side.LONG, D("0.7261"), "s1"))
    assert quoted_step(str(err.value)) == D("0.1")
    with pytest.raises(VenuePrecisionError) as err:
        await ex.place_order(entry("b1", tp="97494.39"))
    assert quoted_step(str(err.value)) == D("0.1")
    with pytest.raises(InvalidOrder, match="take profit param triggerPrice must be greater"):
        await ex.place_order(entry("b2", tp="99000"))
    with pytest.raises(InsufficientMargin):
        await ex.place_order(entry("b3", size="1", tp=None, sl=None))
    assert await ex.positions() == []


async def test_account_survives_restart(tmp_path: Path) -> None:
    ex, market, clock = venue(tmp_path)
    await ex.place_order(entry("e1"))
    before = await ex.balance()
    again = PaperExchange(market, clock, state_path=tmp_path / "paper.json", slippage_pct=D(0))
    assert (await again.balance()).balance == before.balance
    assert len(await again.open_algo_orders()) == 2
    assert (await again.find_order("BTCUSDT", "e1")) is not None
    with pytest.raises(InvalidOrder, match="Duplicate"):
        await again.place_order(entry("e1"))


async def test_paper_over_synthetic_market_walks_minute_bars() -> None:
    clock = SimulatedClock(T0)
    market = SyntheticMarket(clock, seed=7)
    ex = PaperExchange(market, clock, slippage_pct=D(0))
    price = await market.last_price("BTCUSDT")
    tp = (price * D("1.002")).quantize(D("0.1"))
    sl = (price * D("0.998")).quantize(D("0.1"))
    await ex.place_order(entry("e1", size="0.001", tp=str(tp), sl=str(sl)))
    for _ in range(48):
        await clock.advance(3600)
        if not await ex.positions():
            break
    hist = await ex.order_history("BTCUSDT")
    assert hist
    assert hist[0].kind in ("tp", "sl")
    assert clock.now() - T0 < timedelta(days=2)
