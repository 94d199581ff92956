"""One test per fault knob of the fake: back-off, typed errors, ambiguous outcomes without duplicates."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from smt_engine.domain import Side
from smt_engine.exchange.base import AmbiguousOutcome, ExchangeUnavailable, OrderRequest, RateLimited
from smt_engine.exchange.weex import WeexClient
from tests.fakes.weex_server import FakeWeex
from tests.integration.exchange.conftest import client_for

D = Decimal
ORDER = "POST /capi/v3/order"


def entry(cid: str) -> OrderRequest:
    return OrderRequest("BTCUSDT", Side.LONG, D("0.01"), cid, tp_price=D("97000"), sl_price=D("90000"))


async def look_up(client: WeexClient, cid: str) -> str | None:
    """What the trading layer does after AmbiguousOutcome: look the order up by its client id. It never
    sends it again (README, "Never an order twice"): one not found stays pending until
    ``trading.order_visibility`` says it was never placed."""
    found = await client.find_order("BTCUSDT", cid)
    return None if found is None else found.order_id


async def test_429_backs_off_for_reads_and_is_typed_for_orders(fake: FakeWeex, client: WeexClient) -> None:
    await client.balance()
    fake.faults.next_429 = 2
    fake.faults.retry_after = 0.2
    t0 = time.monotonic()
    assert (await client.balance()).balance == D(1000)
    assert time.monotonic() - t0 >= 0.4  # honoured Retry-After twice
    assert fake.counts["GET /capi/v3/account/balance"] == 4
    fake.faults.paths = {"/capi/v3/order"}
    fake.faults.next_429 = 1
    fake.faults.empty_429_body = True
    with pytest.raises(RateLimited) as err:
        await client.place_order(entry("rl-1"))
    assert err.value.retry_after == pytest.approx(0.2)
    assert fake.counts[ORDER] == 1  # never retried
    assert fake.orders_with_client_id("rl-1") == 0


async def test_5xx_is_retried_for_reads_and_ambiguous_for_orders(fake: FakeWeex, client: WeexClient) -> None:
    await client.sync_time()
    fake.faults.next_5xx = 2
    assert await client.positions() == []
    assert fake.counts["GET /capi/v3/account/position/allPosition"] == 3
    fake.faults.paths = {"/capi/v3/order"}
    fake.faults.next_5xx = 1
    with pytest.raises(AmbiguousOutcome) as err:
        await client.place_order(entry("x5-1"))
    assert err.value.client_order_id == "x5-1"
    assert fake.counts[ORDER] == 1
    assert await look_up(client, "x5-1") is None  # the 503 came before the venue: nothing placed
    assert fake.orders_with_client_id("x5-1") == 0
    assert fake.counts[ORDER] == 1


async def test_persistent_5xx_becomes_unavailable(fake: FakeWeex, client: WeexClient) -> None:
    await client.sync_time()
    fake.faults.rate_5xx = 1.0
    with pytest.raises(ExchangeUnavailable):
        await client.balance()
    assert fake.counts["GET /capi/v3/account/balance"] == client.read_retries + 1


async def test_accept_then_drop_resolves_without_duplicate(fake: FakeWeex, client: WeexClient) -> None:
    await client.contracts(["BTCUSDT"])
    fake.faults.next_drop_after_accept = 1
    with pytest.raises(AmbiguousOutcome):
        await client.place_order(entry("drop-1"))
    order_id = await look_up(client, "drop-1")
    assert order_id is not None
    assert fake.orders_with_client_id("drop-1") == 1
    assert fake.counts[ORDER] == 1
    assert (await client.positions())[0].size == D("0.01")
    assert (await client.order("BTCUSDT", order_id)).client_order_id == "drop-1"


async def test_hang_times_out_into_ambiguous_outcome(fake: FakeWeex) -> None:
    client = client_for(fake, timeout=0.3)
    await client.contracts(["BTCUSDT"])
    fake.faults.paths = {"/capi/v3/order"}
    fake.faults.next_hang = 1
    with pytest.raises(AmbiguousOutcome):
        await client.place_order(entry("hang-1"))
    assert await look_up(client, "hang-1") is None  # the venue never answered and never placed it
    assert fake.orders_with_client_id("hang-1") == 0
    assert fake.counts[ORDER] == 1
    await client.aclose()


async def test_hang_on_a_read_is_retried(fake: FakeWeex) -> None:
    client = client_for(fake, timeout=0.3)
    await client.sync_time()
    fake.faults.next_hang = 1
    assert (await client.balance()).available == D(1000)
    assert fake.counts["GET /capi/v3/account/balance"] == 2
    await client.aclose()


async def test_latency_is_tolerated_and_too_much_is_unavailable(fake: FakeWeex) -> None:
    client = client_for(fake, timeout=0.5)
    await client.sync_time()
    fake.faults.latency = 0.1
    t0 = time.monotonic()
    assert (await client.balance()).balance == D(1000)
    assert time.monotonic() - t0 >= 0.1
    fake.faults.latency = 0.8
    client.read_retries = 1
    with pytest.raises(ExchangeUnavailable, match="ReadTimeout"):
        await client.balance()
    fake.faults.latency = 0
    await client.aclose()


async def test_malformed_json_is_retried_for_reads_and_ambiguous_for_orders(
    fake: FakeWeex, client: WeexClient
) -> None:
    await client.sync_time()
    fake.faults.next_malformed = 1
    assert await client.open_orders("BTCUSDT") == []
    assert fake.counts["GET /capi/v3/openOrders"] == 2
    await client.contracts(["BTCUSDT"])
    await client.last_price("BTCUSDT")
    fake.faults.paths = {"/capi/v3/order"}
    fake.faults.next_malformed = 1
    with pytest.raises(AmbiguousOutcome):
        await client.place_order(entry("mal-1"))
    assert await look_up(client, "mal-1") is not None  # the venue had accepted it: found
    assert fake.orders_with_client_id("mal-1") == 1
    assert fake.counts[ORDER] == 1


async def test_limiter_spaces_requests_under_the_budget() -> None:
    from smt_engine.exchange.weex import WeightLimiter

    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = WeightLimiter(weight_per_window=100, window=10.0, monotonic=lambda: now[0], sleep=fake_sleep)
    for _ in range(5):
        await limiter.acquire(40)  # ticker/24hr weight
    assert limiter.used() <= 100
    assert sum(slept) >= 20.0  # 200 weight over a 100/10 s budget needs two extra windows
    limiter.block(3.0)
    before = now[0]
    await limiter.acquire(1)
    assert now[0] - before >= 3.0
