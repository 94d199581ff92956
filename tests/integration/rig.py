"""A real engine (real WEEX client, real Gemini SDK) against the fakes on 127.0.0.1, on a simulated clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.exchange.weex import WeexClient
from smt_engine.runtime import Runtime, build_runtime
from smt_engine.secrets import SecretStore
from smt_engine.store import Store
from tests.fakes.gemini_server import FakeGeminiServer, Reply, text_reply
from tests.fakes.weex_server import FakeWeex

T0 = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)
ETH_PRICE = Decimal("3000.00")
MONITOR_S = 15.0


def long_eth(confidence: float = 0.8, tp: float = 3.0, sl: float = 1.5) -> Reply:
    answer = {
        "decision": "LONG",
        "confidence": confidence,
        "take_profit_percent": tp,
        "stop_loss_percent": sl,
        "hold_time_hours": 12,
        "reasoning": "Exchange outflows and a breakout above resistance [1].",
        "key_catalyst": "ETF inflows",
        "risk_factors": ["macro data"],
        "market_sentiment": "BULLISH",
    }
    return text_reply(f"Here is my analysis.\n```json\n{json.dumps(answer)}\n```")


class Rig:
    def __init__(self, tmp: Path, fake: FakeWeex, gemini: FakeGeminiServer, clock: SimulatedClock) -> None:
        self.tmp, self.fake, self.gemini, self.clock = tmp, fake, gemini, clock
        self.store = Store.open(tmp / "smt.db")
        self.runtime: Runtime | None = None
        self.task: asyncio.Task[None] | None = None

    def settings(self, approval: str = "auto", **sections: dict[str, Any]) -> Settings:
        return Settings.model_validate(self.settings_dict(approval, **sections))

    def settings_dict(self, approval: str = "auto", **sections: dict[str, Any]) -> dict[str, Any]:
        """The rig's settings as data; ``sections`` are merged in key by key (``risk={...}``)."""
        base: dict[str, Any] = {
            "engine": {
                "mode": "paper",
                "approval": approval,
                "database": str(self.tmp / "smt.db"),
                "monitor_interval": f"{int(MONITOR_S)}s",
                "command_poll_interval": "1s",
            },
            "pairs": {"tier1": ["ETH"], "tier2": []},
            "exchange": {"ws_url": self.fake.ws_url},
            "whales": {"enabled": False},
            "analyst": {
                "base_url": self.gemini.url,
                "timeout": 3,
                "min_spacing": 0,
                "requests_per_minute": 600,
                "backoff_initial": 0.01,
                "backoff_max": 0.5,
                "cache_ttl": "1s",
            },
            "trading": {"poll_interval": "1s", "protection_timeout": "10s", "fill_timeout": "10s"},
        }
        for name, values in sections.items():
            base[name] = {**base.get(name, {}), **values}
        return base

    async def start(
        self, approval: str = "auto", *, settings: Settings | None = None, config_path: Path | None = None
    ) -> Runtime:
        runtime = await self.start_unrun(approval, settings=settings, config_path=config_path)
        self.task = asyncio.create_task(runtime.engine.run())
        return runtime

    async def start_unrun(
        self, approval: str = "auto", *, settings: Settings | None = None, config_path: Path | None = None
    ) -> Runtime:
        """The engine's components, without running the engine (a test drives them directly)."""
        settings = settings or self.settings(approval)
        exchange = WeexClient(
            api_key=self.fake.api_key,
            api_secret=self.fake.secret,
            passphrase=self.fake.passphrase,
            base_url=self.fake.base_url,
            store=self.store,
            clock=self.clock,
            read_retries=1,
            backoff=0.01,
        )
        secrets = SecretStore(env={"GEMINI_API_KEY": "gemini-test-key-123"}, use_keyring=False)
        self.runtime = build_runtime(
            settings, self.store, self.clock, secrets, exchange=exchange, config_path=config_path
        )
        return self.runtime

    async def until(self, predicate: Callable[[], bool], sim_seconds: float, step: float = 1.0) -> float:
        """Advance simulated time (letting real HTTP round-trips finish) until ``predicate`` holds."""
        elapsed = 0.0
        while not predicate():
            if elapsed > sim_seconds:
                raise AssertionError(f"condition not met within {sim_seconds} simulated seconds")
            await self.clock.advance(step)
            elapsed += step
            for _ in range(20):
                await asyncio.sleep(0.005)
                if predicate():
                    break
        return elapsed

    async def advance(self, sim_seconds: float, step: float = 1.0) -> None:
        """Let ``sim_seconds`` of simulated time pass, with real time for HTTP round-trips."""
        elapsed = 0.0
        while elapsed < sim_seconds:
            await self.clock.advance(step)
            elapsed += step
            await asyncio.sleep(0.02)

    async def run(self, coro: Any) -> Any:
        """Drive one coroutine to its end on the simulated clock."""
        task = asyncio.ensure_future(coro)
        while not task.done():
            await self.clock.advance(0.5)
            await asyncio.sleep(0.01)
        return task.result()

    async def stop(self) -> None:
        if self.runtime is not None and self.task is not None:
            self.runtime.engine.stop()
            await self.finish()
        elif self.runtime is not None:
            await self.runtime.aclose()
            self.runtime = None

    async def finish(self, real_seconds: float = 60.0) -> None:
        """Let the engine task end, advancing simulated time so work in flight can complete."""
        assert self.runtime is not None
        assert self.task is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + real_seconds  # a hang guard only
        while not self.task.done():
            if loop.time() > deadline:
                raise AssertionError("the engine did not stop")
            await self.clock.advance(0.5)
            await asyncio.sleep(0.01)
        await self.task
        await self.runtime.aclose()
        self.runtime = None

    def venue(self, coro: Any) -> Any:
        return self.fake.call(coro)
