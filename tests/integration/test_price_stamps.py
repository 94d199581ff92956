"""Prices are stamped when they were read, not with the cycle's start: a slow whale step before the
market step does not make a later price pass for an earlier one (docs/scorecard.md)."""

from __future__ import annotations

from datetime import timedelta

from smt_engine.clock import SimulatedClock
from smt_engine.whales.source import WhaleCycleResult
from tests.integration.rig import Rig, long_eth

WHALE_STEP_S = 90


class SlowWhales:
    """A whale step that takes 90 simulated seconds and finds nothing."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock

    async def run_cycle(self, cycle_id: str) -> WhaleCycleResult:
        start = self.clock.now()
        await self.clock.sleep(WHALE_STEP_S)
        return WhaleCycleResult(cycle_id, start)

    async def aclose(self) -> None:
        return None


async def test_each_price_is_stamped_when_it_was_read(rig: Rig) -> None:
    rig.gemini.push(long_eth())
    runtime = await rig.start_unrun()
    runtime.settings.whales.enabled = True
    runtime.pipeline.whales = SlowWhales(rig.clock)
    cycle_id = await rig.run(runtime.pipeline.run_cycle("manual"))
    cycle = rig.store.cycles.get(cycle_id)
    assert cycle is not None
    (point,) = [p for p in rig.store.prices.select() if p.cycle_id == cycle_id]
    # Read after the whale step: never stamped with the cycle's start.
    assert point.at >= cycle.started_at + timedelta(seconds=WHALE_STEP_S)
    assert point.at <= (cycle.finished_at or rig.clock.now())
    bars = [b for b in rig.store.candles.select() if b.interval == "1h"]
    assert bars
    assert all(b.seen_at == point.at for b in bars)
    await runtime.aclose()
