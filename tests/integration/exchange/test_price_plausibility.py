"""Bad pushed prices against the fake WEEX over real sockets: a ticker 10x low, 2 % low (band 1 %),
``NaN``, ``Infinity``, ``1e-30`` and one 60 s old by its own timestamp. None sizes a proposal, the other
pairs are proposed in the same cycle, and each bad push is one WARNING ``price.implausible``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from smt_engine.analyst.base import AnalysisOutcome
from smt_engine.clock import SimulatedClock
from smt_engine.commands.errors import CommandRejected
from smt_engine.domain import Action, CommandKind, EventLevel, ProposalState
from smt_engine.exchange.market import to_ms
from smt_engine.logsetup import EventsHandler
from smt_engine.runtime import Runtime
from tests.fakes.gemini_server import FakeGeminiServer
from tests.fakes.weex_server import DEFAULT_PRICES, FakeWeex
from tests.integration.rig import T0, Rig, long_eth

HANG_GUARD = 120.0  # real seconds; a guard against hangs, never a speed requirement
TRUE = DEFAULT_PRICES  # what the fake's REST (ticker and klines) answers throughout


async def until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(HANG_GUARD):
        while not predicate():  # noqa: ASYNC110 - the condition lives in the fake's thread
            await asyncio.sleep(0.01)


def frame(symbol: str, price: str, stamp_ms: int) -> str:
    """A WEEX V3 ticker push (``{"e", "E", "v", "s", "d"}``, as the fake's own pushes); ``price`` is
    spliced in raw, so ``NaN`` and ``Infinity`` arrive as the bare tokens Python's JSON parser accepts."""
    head = json.dumps({"e": "ticker", "E": stamp_ms, "v": 10_000, "s": symbol})[:-1]
    return f'{head}, "d": [{{"c": {price}, "m": {price}}}]}}'


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[tuple[Rig, Runtime]]:
    clock = SimulatedClock(T0)
    with FakeWeex(clock=clock) as fake, FakeGeminiServer() as gemini:
        gemini.fallback = long_eth  # every analysed pair says LONG
        rig = Rig(tmp_path, fake, gemini, clock)
        settings = rig.settings(
            "manual",
            pairs={"tier1": ["ETH", "BTC"], "tier2": ["SOL", "DOGE", "XRP", "ADA", "BNB", "LTC"]},
            trading={"max_entries_per_cycle": 8},
            risk={"price_band_pct": 1, "price_max_age": "10s", "max_open_positions": 8},
        )
        runtime = await rig.start_unrun(settings=settings)
        events = EventsHandler(rig.store, clock)
        logging.getLogger().addHandler(events)
        try:
            yield rig, runtime
        finally:
            logging.getLogger().removeHandler(events)
            await rig.stop()


async def test_bad_pushed_prices_size_nothing_and_the_other_pairs_go_on(engine: tuple[Rig, Runtime]) -> None:
    rig, runtime = engine
    streams = runtime.engine.streams
    assert streams is not None
    (public,) = (s for s in streams.streams if not s.private)
    task = asyncio.create_task(streams.run())
    try:
        await until(lambda: public.state.up)
        now_ms = to_ms(rig.clock.now())
        bad = {
            "ETHUSDT": (str(TRUE["ETHUSDT"] / 10), now_ms),  # 10x low
            "BTCUSDT": (str(TRUE["BTCUSDT"] * Decimal("0.98")), now_ms),  # 2 % low, band 1 %
            "SOLUSDT": ("NaN", now_ms),
            "DOGEUSDT": ("Infinity", now_ms),
            "XRPUSDT": ("1e-30", now_ms),
            "ADAUSDT": (str(TRUE["ADAUSDT"]), now_ms - 60_000),  # the right price, 60 s old by its stamp
        }
        good = {"BNBUSDT": (str(TRUE["BNBUSDT"]), now_ms)}  # a good push; LTCUSDT reads REST
        # A run of bad pushes is one WARNING, not one per frame: SOL's NaN arrives twice.
        assert rig.fake.ws.inject_ticker("SOLUSDT", frame("SOLUSDT", "NaN", now_ms)) == 1
        for symbol, (price, stamp) in {**bad, **good}.items():
            assert rig.fake.ws.inject_ticker(symbol, frame(symbol, price, stamp)) == 1
        stored = ("ETHUSDT", "BTCUSDT", "XRPUSDT", "ADAUSDT", "BNBUSDT")
        await until(
            lambda: (
                all(
                    (p := streams.prices.get(s)) is not None
                    and p[0] == Decimal(bad.get(s, good.get(s, ("", 0)))[0])
                    for s in stored
                )
                and len(rig.store.events.of_kind("price.implausible")) >= 2
            )  # NaN and Infinity, at arrival
        )
        assert len(rig.store.events.of_kind("price.implausible")) == 2  # SOL's second NaN: no new one
        assert public.state.up
        assert public.state.connects == 1

        cycle_id = await runtime.pipeline.run_cycle("manual")  # the clock stands still: pushes stay fresh
    finally:
        await streams.stop()
        task.cancel()

    proposals = [p for p in rig.store.proposals.recent() if p.cycle_id == cycle_id]
    by_symbol = {p.symbol: p for p in proposals}
    # No proposal is sized on a refused price: the four whose price reached the engine wait this cycle;
    # NaN and Infinity were refused at arrival, so those pairs are priced from REST.
    for symbol in ("ETHUSDT", "BTCUSDT", "XRPUSDT", "ADAUSDT"):
        assert symbol not in by_symbol
    assert set(by_symbol) == {"SOLUSDT", "DOGEUSDT", "BNBUSDT", "LTCUSDT"}
    for symbol, proposal in by_symbol.items():
        assert proposal.entry_ref == TRUE[symbol], symbol
        assert proposal.size is not None
        assert proposal.size > 0
    assert not rig.fake.venue._acct.orders  # manual approval: nothing was sent either

    warnings = rig.store.events.of_kind("price.implausible")
    assert all(e.level is EventLevel.WARNING for e in warnings)
    named = sorted(e.data["pair"] for e in warnings)
    assert named == sorted(bad)  # exactly one WARNING per bad pair, SOL's two NaN pushes included
    reasons = {e.data["pair"]: e.data["reason"] for e in warnings}
    assert reasons["ETHUSDT"] == "90.00 % away from the reference (band 1 %)"
    assert reasons["BTCUSDT"] == "2.00 % away from the reference (band 1 %)"
    assert reasons["XRPUSDT"] == "100.00 % away from the reference (band 1 %)"
    assert reasons["ADAUSDT"] == "60s old by its own timestamp (limit 10s)"
    assert reasons["SOLUSDT"] == reasons["DOGEUSDT"] == "not a finite number"
    eth = next(e for e in warnings if e.data["pair"] == "ETHUSDT")
    assert eth.data["price"] == str(TRUE["ETHUSDT"] / 10)
    assert eth.data["reference"] == str(TRUE["ETHUSDT"])
    assert eth.cycle_id is None or eth.cycle_id == cycle_id
    cycle = rig.store.cycles.get(cycle_id)
    assert cycle is not None
    assert cycle.steps["proposals"]["status"] == "ok"
    assert cycle.steps["market"]["status"] == "ok"
    assert timedelta(0) == rig.clock.now() - T0  # the verdicts above were by stamps, not by time passing


async def test_an_approval_on_a_bad_pushed_price_is_refused(engine: tuple[Rig, Runtime]) -> None:
    """The operator's approval re-reads the price: a glitching push then refuses it, nothing is sent,
    and the proposal keeps waiting."""
    rig, runtime = engine
    # REST tickers are rate-limited on the simulated clock: let it run while the cycle reads them.
    cycle_id = await rig.run(runtime.pipeline.run_cycle("manual"))
    waiting = {p.symbol: p for p in rig.store.proposals.pending() if p.cycle_id == cycle_id}
    assert "BNBUSDT" in waiting
    streams = runtime.engine.streams
    assert streams is not None
    task = asyncio.create_task(streams.run())
    try:
        (public,) = (s for s in streams.streams if not s.private)
        await until(lambda: public.state.up)
        low = TRUE["BNBUSDT"] / 10
        rig.fake.ws.inject_ticker("BNBUSDT", frame("BNBUSDT", str(low), to_ms(rig.clock.now())))
        await until(lambda: (p := streams.prices.get("BNBUSDT")) is not None and p[0] == low)
        proposal = waiting["BNBUSDT"]
        command = rig.store.commands.enqueue(
            CommandKind.APPROVE, rig.clock.now(), "test", {"proposal_id": proposal.id}
        )
        with pytest.raises(CommandRejected, match=r"BNBUSDT: price 90\.512 refused \(90\.00 % away"):
            await runtime.commands.execute(command)
    finally:
        await streams.stop()
        task.cancel()
    assert not rig.fake.venue._acct.orders
    after = rig.store.proposals.get(proposal.id)
    assert after is not None
    assert after.state is ProposalState.PROPOSED
    (warning,) = [e for e in rig.store.events.of_kind("price.implausible") if e.data["pair"] == "BNBUSDT"]
    assert warning.level is EventLevel.WARNING


async def test_a_price_gone_bad_between_the_cycles_read_and_the_proposal_sizes_nothing(
    engine: tuple[Rig, Runtime],
) -> None:
    """The price is read again just before proposing: a glitch arriving while the analyst answered drops
    the pair there (its earlier good price is not kept as if nothing happened)."""
    rig, runtime = engine
    streams = runtime.engine.streams
    assert streams is not None
    (public,) = (s for s in streams.streams if not s.private)
    eth = next(p for p in runtime.settings.pairs.all() if p.symbol == "ETHUSDT")
    wants = cast(AnalysisOutcome, SimpleNamespace(decision=SimpleNamespace(action=Action.LONG)))
    task = asyncio.create_task(streams.run())
    try:
        await until(lambda: public.state.up)
        low = TRUE["ETHUSDT"] / 10
        assert rig.fake.ws.inject_ticker("ETHUSDT", frame("ETHUSDT", str(low), to_ms(rig.clock.now()))) == 1
        await until(lambda: (p := streams.prices.get("ETHUSDT")) is not None and p[0] == low)
        fresh = await runtime.pipeline._prices_now([(eth, wants)], {"ETHUSDT": TRUE["ETHUSDT"]})
    finally:
        await streams.stop()
        task.cancel()
    assert "ETHUSDT" not in fresh
    (warning,) = rig.store.events.of_kind("price.implausible")
    assert warning.data["pair"] == "ETHUSDT"
    assert warning.level is EventLevel.WARNING


async def test_a_manual_entry_on_a_bad_pushed_price_is_refused(engine: tuple[Rig, Runtime]) -> None:
    """A manual entry reads its price as an approval does: a glitching push refuses it, nothing is made."""
    rig, runtime = engine
    streams = runtime.engine.streams
    assert streams is not None
    task = asyncio.create_task(streams.run())
    try:
        (public,) = (s for s in streams.streams if not s.private)
        await until(lambda: public.state.up)
        low = TRUE["ETHUSDT"] / 10
        rig.fake.ws.inject_ticker("ETHUSDT", frame("ETHUSDT", str(low), to_ms(rig.clock.now())))
        await until(lambda: (p := streams.prices.get("ETHUSDT")) is not None and p[0] == low)
        args = {"pair": "ETH", "side": "LONG", "margin": "50"}
        command = rig.store.commands.enqueue(CommandKind.ENTER, rig.clock.now(), "test", args)
        with pytest.raises(CommandRejected, match=r"entry refused: ETHUSDT: price 315\.458 refused"):
            await runtime.commands.execute(command)
    finally:
        await streams.stop()
        task.cancel()
    assert not rig.fake.venue._acct.orders
    assert not rig.store.proposals.select()


async def test_a_price_unreadable_before_proposing_sizes_nothing(engine: tuple[Rig, Runtime]) -> None:
    """The re-read before proposing fails (the venue's klines answer 503): the cycle's first read may be
    older than ``risk.price_max_age`` by now, so the pair waits, loudly; nothing is sized on the old price."""
    rig, runtime = engine
    eth = next(p for p in runtime.settings.pairs.all() if p.symbol == "ETHUSDT")
    wants = cast(AnalysisOutcome, SimpleNamespace(decision=SimpleNamespace(action=Action.LONG)))
    rig.fake.faults.paths = {"/capi/v3/market/klines"}
    rig.fake.faults.next_5xx = 50
    fresh = await runtime.pipeline._prices_now([(eth, wants)], {"ETHUSDT": TRUE["ETHUSDT"]})
    assert "ETHUSDT" not in fresh
    (warning,) = rig.store.events.of_kind("price.unreadable")
    assert warning.data["pair"] == "ETHUSDT"
    assert warning.level is EventLevel.WARNING
