"""A 240-minute headless demo on the heuristic: a neutral whale and flow signal changes no decision.

The seed halved the ETH/BTC market score whenever any whale signal existed, so a neutral zero flipped
8 of 16 decisions in such a run. Here the same demo runs twice on the simulated clock: once with no
whale source at all, once with the synthetic feed forced neutral; every analysis must come out the same.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from smt_engine.clock import SimulatedClock
from smt_engine.demo import DEMO_START, demo_settings, run_engine
from smt_engine.domain import ApprovalMode, Bias
from smt_engine.store import Store
from smt_engine.whales.source import SyntheticWhaleSource, WhaleCycleResult

MINUTES = 240


class NeutralWhales:
    """The demo's synthetic feed, with every signal it hands the analyst turned neutral."""

    def __init__(self, inner: SyntheticWhaleSource) -> None:
        self.inner = inner
        self.cycles = 0

    async def run_cycle(self, cycle_id: str) -> WhaleCycleResult:
        result = await self.inner.run_cycle(cycle_id)
        self.cycles += 1
        assert result.aggregate is not None
        result.aggregate = dataclasses.replace(result.aggregate, bias=Bias.NEUTRAL, confidence=0.0)
        result.flow_signals = {
            base: dataclasses.replace(s, bias=Bias.NEUTRAL, confidence=0.0)
            for base, s in result.flow_signals.items()
        }
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()


def _decisions(tmp_path: Path, name: str, neutral: bool) -> tuple[list[tuple[str, str, float]], int]:
    db = tmp_path / f"{name}.db"
    settings = demo_settings(db, approval=ApprovalMode.AUTO)
    settings.analyst.provider = "heuristic"
    settings.whales.enabled = neutral
    store = Store.open(db)
    clock = SimulatedClock(DEMO_START)
    whales = NeutralWhales(SyntheticWhaleSource(settings, store, clock)) if neutral else None
    try:
        asyncio.run(run_engine(settings, store, clock, stop_after=MINUTES, whales=whales))
        rows = store.analyses.select(order_by="id")
        return [(a.pair, a.action.value, round(a.confidence, 4)) for a in rows], (
            whales.cycles if whales else 0
        )
    finally:
        store.close()


def test_neutral_whale_and_flow_signals_change_no_decision(tmp_path: Path) -> None:
    without, _ = _decisions(tmp_path, "without", neutral=False)
    neutral, whale_cycles = _decisions(tmp_path, "neutral", neutral=True)
    assert whale_cycles >= 8  # the whale feed really ran every cycle
    tier1 = [d for d in neutral if d[0] in ("ETH", "BTC")]
    assert len(tier1) >= 16
    assert neutral == without
