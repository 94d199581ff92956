"""The price WeexClient's own pre-flight checks read: an entry is checked on a plausible price or not
sent; a close and a trigger are never held back by our feed (a price that is implausible or cannot be
read leaves the judgement to WEEX). Against a scripted WEEX (``test_weex_as_documented.Venue``)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import Side
from smt_engine.exchange.base import OrderRequest
from smt_engine.exchange.factory import make_exchange
from smt_engine.exchange.market.plausibility import ImplausiblePrice, PriceRule
from smt_engine.exchange.market.streamed import StreamPrices
from smt_engine.exchange.precision import PrecisionError
from smt_engine.exchange.weex import WeexClient
from smt_engine.secrets import SecretStore
from smt_engine.store import Store
from tests.unit.exchange.test_weex_as_documented import CONTRACT, NOW, Venue, minute_bar, placed

REAL = "90000"


def algo_placed(request: httpx.Request) -> list[dict[str, Any]]:
    return [{"success": True, "orderId": 801, "errorCode": "", "errorMessage": ""}]


def scripted(*, ticker: Any = None, klines: Any = None) -> Venue:
    return Venue(
        {
            "GET /capi/v3/market/exchangeInfo": {"symbols": [CONTRACT]},
            "GET /capi/v3/market/ticker/24hr": ticker
            if ticker is not None
            else [{"symbol": "BTCUSDT", "lastPrice": REAL, "markPrice": REAL}],
            "GET /capi/v3/market/klines": klines if klines is not None else [minute_bar(REAL)],
            "POST /capi/v3/order": placed,
            "POST /capi/v3/placeTpSlOrder": algo_placed,
        }
    )


def pushed(client: WeexClient, price: str) -> None:
    prices = StreamPrices()
    prices.update("BTCUSDT", D(price), D(price), NOW)
    client.use_stream_prices(prices)


def sent(venue: Venue, path: str) -> list[httpx.Request]:
    return [r for r in venue.seen if r.method == "POST" and r.url.path == path]


async def test_an_entry_on_a_push_3_percent_high_is_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    """On the raw push (92700) this long's TP (94500) and SL (88650) look right-sided and it would go
    out; the band (1 %) refuses the push, so nothing is sent and the glitch is named."""
    venue = scripted()
    client = venue.client()
    pushed(client, "92700")
    entry = OrderRequest("BTCUSDT", Side.LONG, D("0.01"), "entry-1", tp_price=D(94500), sl_price=D(88650))
    with caplog.at_level(logging.WARNING), pytest.raises(ImplausiblePrice):
        await client.place_order(entry)
    assert sent(venue, "/capi/v3/order") == []
    (warning,) = [r for r in caplog.records if getattr(r, "event", None) == "price.implausible"]
    assert warning.levelno == logging.WARNING
    pushed(client, "90050")  # a plausible push: the same entry goes out
    await client.place_order(entry)
    assert len(sent(venue, "/capi/v3/order")) == 1


async def test_a_close_is_sent_when_no_price_can_be_read() -> None:
    """The stream is quiet and the REST ticker answers garbage: the close still goes out."""
    venue = scripted(ticker={"unexpected": True})
    client = venue.client()
    await client.place_order(OrderRequest("BTCUSDT", Side.LONG, D("0.01"), "close-1", reduce_only=True))
    (order,) = sent(venue, "/capi/v3/order")
    assert json.loads(order.content)["newClientOrderId"] == "close-1"


async def test_a_close_reads_no_price_when_the_contract_has_no_notional_floor() -> None:
    """WEEX's contracts carry no minimum notional, so a close has nothing to check a price against:
    it goes out without a market-data round trip, even with the stream quiet (ticker weight 40)."""
    venue = scripted()
    client = venue.client()
    await client.place_order(OrderRequest("BTCUSDT", Side.LONG, D("0.01"), "close-3", reduce_only=True))
    prices = {"/capi/v3/market/ticker/24hr", "/capi/v3/market/klines"}
    assert [r.url.path for r in venue.seen if r.url.path in prices] == []
    assert len(sent(venue, "/capi/v3/order")) == 1


async def test_a_close_against_a_notional_floor_is_checked_on_a_plausible_price_only() -> None:
    """With a floor the close is checked on a plausible price; a 10x-low push (which would put a
    healthy close under the floor) leaves the judgement to WEEX instead of holding the close back."""
    venue = scripted()
    client = venue.client()
    floor = replace(await client.contract("BTCUSDT"), min_notional=D(100))
    client._remember(floor, NOW)
    pushed(client, "9000")  # 0.01 BTC is 90 USDT at the push, 900 USDT in truth
    await client.place_order(OrderRequest("BTCUSDT", Side.LONG, D("0.01"), "close-4", reduce_only=True))
    assert len(sent(venue, "/capi/v3/order")) == 1
    pushed(client, REAL)  # on a plausible price the floor is enforced before sending
    with pytest.raises(PrecisionError) as refused:
        await client.place_order(OrderRequest("BTCUSDT", Side.LONG, D("0.001"), "close-5", reduce_only=True))
    assert refused.value.code == "below_min_notional"
    assert len(sent(venue, "/capi/v3/order")) == 1


async def test_a_stop_is_sent_when_the_reference_klines_cannot_be_read() -> None:
    """The klines endpoint fails under a 10x-low push: no plausible price, so WEEX judges the stop."""
    venue = scripted(klines={"unexpected": True})
    client = venue.client()
    pushed(client, "9000")
    await client.place_tp_sl("BTCUSDT", Side.LONG, "sl", D(88000), D("0.01"), "sl-1")
    (stop,) = sent(venue, "/capi/v3/placeTpSlOrder")
    assert json.loads(stop.content)["triggerPrice"] == "88000"


async def test_a_stop_on_the_wrong_side_of_a_plausible_price_is_refused_before_sending() -> None:
    """The pre-flight side check still works on a good price (no needless order-count slot spent)."""
    venue = scripted()
    client = venue.client()
    pushed(client, REAL)
    with pytest.raises(PrecisionError) as refused:
        await client.place_tp_sl("BTCUSDT", Side.LONG, "sl", D(91000), D("0.01"), "sl-2")
    assert refused.value.code == "sl_wrong_side"
    assert sent(venue, "/capi/v3/placeTpSlOrder") == []


async def test_a_close_with_no_price_still_refuses_a_size_off_the_step() -> None:
    """Without a price only the notional is left to WEEX: a size off the contract is still caught."""
    venue = scripted(ticker={"unexpected": True})
    client = venue.client()
    with pytest.raises(PrecisionError) as refused:
        await client.place_order(
            OrderRequest("BTCUSDT", Side.LONG, D("0.00001"), "close-2", reduce_only=True)
        )
    assert refused.value.code == "size_step"
    assert sent(venue, "/capi/v3/order") == []


def test_live_mode_checks_prices_with_the_configured_band(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {"engine": {"mode": "live"}, "risk": {"price_band_pct": 3, "price_max_age": "30s"}}
    )
    env = {"WEEX_API_KEY": "k", "WEEX_API_SECRET": "s", "WEEX_API_PASSPHRASE": "p"}
    store = Store.open(tmp_path / "smt.db")
    try:
        client = make_exchange(settings, store, SimulatedClock(NOW), SecretStore(env=env, use_keyring=False))
        assert isinstance(client, WeexClient)
        assert client.price_rule == PriceRule(D(3), timedelta(seconds=30))
    finally:
        store.close()
