"""While the private stream is down the monitor ticks every ``engine.monitor_interval_stream_down``
(2 s by default) instead of every 15 s; that faster poll must stay inside the request budget.

Counted, not timed: the requests one monitor tick issues against the fake WEEX (its request log), each
weighed as the engine's limiter weighs it, scaled to the ticks the stream-down interval allows in WEEX's
10 s window and in a minute. WEEX's documented budget is 500 weight per 10 s per IP (FAQ; the API
reference §5); the engine keeps itself to ``exchange.rate_limit_weight`` (400 by default).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import Side
from smt_engine.exchange.base import OrderRequest
from smt_engine.exchange.weex.limiter import DEFAULT_WEIGHT_BUDGET, WEEX_WEIGHT_LIMIT, WEIGHTS, WeightLimiter
from tests.fakes.weex_server import DEFAULT_PRICES, FakeWeex
from tests.integration.venue_bench import SETTINGS, T0, Bench, bench, open_long

__all__ = ["bench"]  # the fixture, imported

WINDOW_S = 10.0
HISTORY = "/capi/v3/order/history"
"""WEEX's weight window (and the limiter's)."""


async def tick_requests(bench: Bench, *, still: bool = False) -> list[tuple[str, str]]:
    """(method, path) of every request one monitor tick sends; ``still``: on a clock the tick does not
    move (a quiet tick sleeps on no clock), so a test's ticks fall exactly where it puts them."""
    before = len(bench.fake.requests)
    tick = bench.monitor.tick()
    report = await (asyncio.wait_for(tick, 60) if still else bench.run(tick))
    assert report.ok, report.error
    return [(method, urlsplit(target).path) for method, target, _ in bench.fake.requests[before:]]


async def test_the_stream_down_poll_stays_inside_the_weight_budget(bench: Bench) -> None:
    await open_long(bench)
    await bench.run(bench.monitor.tick())  # the first tick after the entry settles what it placed
    sent = await tick_requests(bench)  # a steady tick: one protected position to watch
    paths = {path for _, path in sent}
    assert "/capi/v3/account/position/allPosition" in paths, sent
    assert "/capi/v3/openAlgoOrders" in paths, sent
    weight = sum(WEIGHTS.get(path, 5) for _, path in sent)  # what the limiter charges (transport.py)

    interval = Settings.model_validate(SETTINGS).engine.monitor_interval_stream_down.total_seconds()
    assert interval == 2.0  # the documented default the budget is checked for
    per_window = weight * WINDOW_S / interval
    per_minute = len(sent) * 60 / interval
    limiter = WeightLimiter()
    assert limiter.capacity == DEFAULT_WEIGHT_BUDGET == 400
    detail = f"{len(sent)} requests ({weight} weight) a tick: {per_minute:g}/min, {per_window:g} weight/10 s"
    assert per_window <= DEFAULT_WEIGHT_BUDGET < WEEX_WEIGHT_LIMIT, detail
    # Room is left inside the engine's own budget for a close and its sibling's cancel meanwhile.
    close = WEIGHTS["/capi/v3/closePositions"] + WEIGHTS["/capi/v3/algoOrder"]
    assert per_window + close <= DEFAULT_WEIGHT_BUDGET, detail
    # No order is placed by a quiet tick, so the order-rate caps are untouched by the poll.
    assert not [p for m, p in sent if m == "POST"], sent


OTHERS = {  # symbol: (size, take-profit, stop-loss), each on the venue's step and tick
    "BTCUSDT": (Decimal("0.001"), Decimal("97000"), Decimal("88000")),
    "SOLUSDT": (Decimal("1"), Decimal("145"), Decimal("130")),
    "XRPUSDT": (Decimal("10"), Decimal("2.3"), Decimal("2.0")),
    "LTCUSDT": (Decimal("1"), Decimal("86"), Decimal("77")),
}


async def test_at_the_most_open_positions_the_stream_down_poll_stays_inside_the_engines_budget(
    tmp_path: Path,
) -> None:
    """Five positions in five symbols (``risk.max_open_positions``), each with an attached take-profit that
    only the order history shows. Read every tick, the histories alone would weigh 50 a tick (440 per
    10 s at a 2 s poll: over the engine's 400). The every-symbol read takes them at most every 10 s and
    confirms the legs it knows by id between: five ticks of the poll (10 s at 2 s) stay inside 400 with
    room for a market close and its sibling's cancel."""
    clock = SimulatedClock(T0)
    with FakeWeex(clock=clock, prices=DEFAULT_PRICES | {"ETHUSDT": Decimal("3000.00")}) as fake:
        bench = Bench(tmp_path, fake, clock)
        await open_long(bench)
        for n, (symbol, (size, tp, sl)) in enumerate(OTHERS.items()):
            order = OrderRequest(symbol, Side.LONG, size, f"manual-{n}", tp_price=tp, sl_price=sl)
            fake.call(fake.venue.place_order(order))  # opened by hand on the venue: the monitor adopts them
        for _ in range(2):
            await bench.run(bench.monitor.tick())
        held = await bench.run(bench.client.positions())
        assert len({p.symbol for p in held}) == bench.settings.risk.max_open_positions == 5
        interval = bench.settings.engine.monitor_interval_stream_down.total_seconds()
        sent: list[tuple[str, str]] = []
        # A window on its own (the set-up's requests have left the limiter's 10 s), then the poll's five
        # ticks in it, each exactly where the 2 s period puts it.
        await bench.clock.advance(WINDOW_S)
        for n in range(int(WINDOW_S / interval)):
            if n:
                await bench.clock.advance(interval)
            sent += await tick_requests(bench, still=True)
        weight = sum(WEIGHTS.get(path, 5) for _, path in sent)
        histories = [p for _, p in sent if p == "/capi/v3/order/history"]
        detail = f"{len(sent)} requests ({weight} weight) in five ticks, {len(histories)} history reads"
        assert len(histories) == 5, detail  # each symbol's history once in the 10 s
        close = WEIGHTS["/capi/v3/closePositions"] + WEIGHTS["/capi/v3/algoOrder"]
        assert weight + close <= DEFAULT_WEIGHT_BUDGET < WEEX_WEIGHT_LIMIT, detail
        # Every attached take-profit is still seen each tick (confirmed by id between history reads).
        legs = await bench.run(bench.client.open_algo_orders())
        assert len([a for a in legs if a.kind == "tp"]) == 5
        await bench.client.aclose()
        bench.store.close()


async def test_the_history_spacing_never_delays_an_entrys_protection_or_a_restart(bench: Bench) -> None:
    """Within the 10 s spacing the every-symbol read confirms the known legs by id; a read for one symbol
    (an entry's protection looking for its attached take-profit) and a fresh client (a restart) always
    read the history."""
    _, tp_id, _ = await open_long(bench)

    def histories() -> int:
        return sum(1 for _, target, _ in bench.fake.requests if urlsplit(target).path == HISTORY)

    # Past the spacing of the entry's own read and the limiter's window; the reads below move no clock,
    # so they fall inside one 10 s however slow the machine.
    await bench.clock.advance(10)
    before = histories()
    first = await asyncio.wait_for(bench.client.open_algo_orders(), 60)
    second = await asyncio.wait_for(bench.client.open_algo_orders(), 60)
    assert histories() - before == 1  # the second read, inside 10 s, asked no history
    assert tp_id in {a.order_id for a in first}
    assert tp_id in {a.order_id for a in second}
    await asyncio.wait_for(bench.client.open_algo_orders("ETHUSDT"), 60)
    assert histories() - before == 2  # one symbol's read: always
    await bench.client.aclose()
    bench.restart()
    legs = await asyncio.wait_for(bench.client.open_algo_orders(), 60)
    assert histories() - before == 3
    assert tp_id in {a.order_id for a in legs}


async def test_a_tick_reads_the_position_list_once_however_long_ago_the_last_read_was(bench: Bench) -> None:
    """The legs' read needs the positions the tick is reading beside it: it waits for that read rather
    than sending a second one when the last list is over a second old (live, at a 2 s poll, always)."""
    await open_long(bench)
    await bench.run(bench.monitor.tick())
    bench.client._positions_seen = (float("-inf"), [])  # the last list read long ago, by any clock
    # The list answers after the legs' listing does (live, either may come first).
    bench.fake.faults.path_latency = {"/capi/v3/account/position/allPosition": 0.3}
    sent = await tick_requests(bench)
    assert [p for _, p in sent].count("/capi/v3/account/position/allPosition") == 1, sent
