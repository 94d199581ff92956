"""Notifications from a real engine run (fake WEEX and Gemini, simulated clock) to a local webhook.

The operator must hear of a waiting proposal, the fill, the close and a halt, in that order and once each,
even when the webhook was down while they happened, and the engine must trade on time meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import CloseReason, CommandKind, CommandState, PositionState
from smt_engine.exchange.weex import WeexClient
from smt_engine.runtime import Runtime, build_runtime
from smt_engine.secrets import SecretStore
from smt_engine.store.notifications import NotificationState
from smt_engine.trading.risk import ReasonCode
from tests.fakes.gemini_server import FakeGeminiServer
from tests.fakes.webhook_server import Delivery, FakeWebhook
from tests.fakes.weex_server import FakeWeex
from tests.integration.test_engine import ETH_PRICE, MONITOR_S, T0, Rig, long_eth, open_position

TOKEN = "Wh00kT0ken8842xQ"


class NotifyingRig(Rig):
    """The engine rig with the notify_urls secret pointing at a local webhook."""

    def __init__(self, *args: Any, hook: FakeWebhook) -> None:
        super().__init__(*args)
        self.hook = hook

    def settings(self, approval: str = "auto") -> Settings:
        base = super().settings(approval).model_dump()
        base["notify"] = {"poll_interval": "1s", "timeout": "5s"}
        return Settings.model_validate(base)

    async def start(self, approval: str = "auto") -> Runtime:
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
        secrets = SecretStore(
            env={"GEMINI_API_KEY": "gemini-test-key-123", "NOTIFY_URLS": self.hook.json_url(f"/n/{TOKEN}")},
            use_keyring=False,
        )
        self.runtime = build_runtime(
            self.settings(approval), self.store, self.clock, secrets, exchange=exchange
        )
        self.task = asyncio.create_task(self.runtime.engine.run())
        return self.runtime


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[NotifyingRig]:
    clock = SimulatedClock(T0)
    with (
        FakeWeex(clock=clock, prices={"ETHUSDT": ETH_PRICE}) as fake,
        FakeGeminiServer() as gemini,
        FakeWebhook() as hook,
    ):
        r = NotifyingRig(tmp_path, fake, gemini, clock, hook=hook)
        try:
            yield r
        finally:
            await r.stop()
            r.store.close()


def kind_of(d: Delivery) -> str:
    for marker, kind in (
        ("waiting for approval", "proposal_waiting"),
        ("entry filled", "entry_filled"),
        (" closed (", "position_closed"),
        ("engine HALTED", "halted"),
        ("engine starting", "started"),
        ("engine stopped", "stopped"),
    ):
        if marker in d.title:
            return kind
    return d.title


async def test_the_operator_hears_of_each_step_once_in_order_even_after_the_webhook_was_down(
    rig: NotifyingRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rig.gemini.push(long_eth())
    await rig.start(approval="manual")
    await rig.until(lambda: any(kind_of(d) == "proposal_waiting" for d in rig.hook.delivered), 120)
    proposal = rig.store.proposals.pending()[0]
    waiting = next(d for d in rig.hook.delivered if kind_of(d) == "proposal_waiting")
    assert f"smt approve {proposal.id}" in waiting.message
    assert "ETH LONG" in waiting.message

    # The webhook goes down; trading goes on at its own pace.
    rig.hook.down = True
    cmd = rig.store.commands.enqueue(
        CommandKind.APPROVE, rig.clock.now(), "test", {"proposal_id": proposal.id}
    )
    assert cmd.id is not None
    # Simulated time moves in tenths of a second, each with up to 0.1 s of real time for the round trips:
    # simulated time runs no faster than real time, so a loaded machine's slow answers cost it seconds,
    # not tens of seconds. An approval held up by the failing deliveries (retries on a 10 s, 20 s, 40 s
    # back-off) would take far longer.
    filled_after = await rig.until(
        lambda: (c := rig.store.commands.get(cmd.id)) is not None and c.state is CommandState.DONE,
        60,
        step=0.1,
    )
    assert filled_after <= 15, "the approval was executed within seconds while notifications failed"
    await rig.until(lambda: (p := open_position(rig.store)) is not None and p.sl_order_id is not None, 60)
    pos = open_position(rig.store)
    await rig.until(lambda: rig.clock.now().second % int(MONITOR_S) == 0, 30)
    rig.fake.set_price("ETHUSDT", pos.tp_price + Decimal(5), high=pos.tp_price + Decimal(10))
    closed_after = await rig.until(
        lambda: (p := rig.store.positions.get(pos.id)) is not None and p.state is PositionState.CLOSED,
        4 * MONITOR_S,
    )
    assert closed_after <= 2 * MONITOR_S, "the take-profit was seen on time while notifications failed"
    assert rig.runtime is not None
    rig.runtime.engine.halt("daily loss limit hit (test)", ReasonCode.DAILY_LOSS)
    await rig.until(lambda: rig.hook.refused >= 2, 120)
    assert [kind_of(d) for d in rig.hook.delivered] == ["started", "proposal_waiting"]
    health = rig.store.health.get("notify")
    assert health is not None
    assert health.status.value == "down"
    assert "503" in health.detail

    # Back up: everything queued arrives, in order, once.
    rig.hook.down = False
    await rig.until(lambda: len(rig.hook.delivered) >= 5, 600, step=5)
    for _ in range(60):  # a further simulated minute: nothing is sent twice
        await rig.clock.advance(1)
        await asyncio.sleep(0.005)
    kinds = [kind_of(d) for d in rig.hook.delivered]
    assert kinds == ["started", "proposal_waiting", "entry_filled", "position_closed", "halted"]
    closed = rig.store.positions.get(pos.id)
    assert closed is not None
    assert closed.close_reason is CloseReason.TAKE_PROFIT
    assert "take-profit" in rig.hook.delivered[3].title
    assert "realised PnL +" in rig.hook.delivered[3].message
    assert not [n for n in rig.store.notifications.recent() if n.state is not NotificationState.SENT]

    # The URL's token is nowhere in the database, its WAL or the logs.
    await rig.stop()
    assert [kind_of(d) for d in rig.hook.delivered][-1] == "stopped", "the stop is sent before exiting"
    rig.store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    for path in sorted(rig.tmp.glob("smt.db*")):
        assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in caplog.text
