"""Builds the engine's components for a mode: one place that knows how the pieces fit together.

Live, paper, demo and tests all go through ``build_runtime``; tests and the demo pass their own
exchange, whale source or analyst, everything else is the same code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from smt_engine.analyst import make_analyst
from smt_engine.analyst.base import Analyst
from smt_engine.clock import Clock
from smt_engine.commands.service import CommandService
from smt_engine.config import Settings
from smt_engine.domain import Mode
from smt_engine.engine import Engine
from smt_engine.exchange.base import Exchange
from smt_engine.exchange.factory import make_exchange, make_streams
from smt_engine.exchange.weex.probe_gate import require_live_probe
from smt_engine.notify.channels import ChannelError, load_channels
from smt_engine.notify.notifier import Notifier
from smt_engine.pipeline import Pipeline
from smt_engine.sdnotify import SdNotify
from smt_engine.secrets import SecretStore
from smt_engine.store import Store
from smt_engine.store.retention import Retention
from smt_engine.trading.ailog import AiLogOutbox, AiLogUploader
from smt_engine.trading.execution import Executor
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.proposals import ProposalBook
from smt_engine.trading.pushed import PushedFills
from smt_engine.trading.risk import RiskEngine
from smt_engine.whales.source import WhaleSource, WhaleSourceError, make_whale_source

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    clock: Clock
    exchange: Exchange
    analyst: Analyst
    whales: WhaleSource | None
    ailog: AiLogOutbox
    book: ProposalBook
    executor: Executor
    monitor: Monitor
    pipeline: Pipeline
    commands: CommandService
    engine: Engine
    secrets: SecretStore

    async def rebuild(self, sections: list[str]) -> dict[str, str]:
        """Reload: build a new analyst / whale source from the updated settings and swap it in."""
        done: dict[str, str] = {}
        if "analyst" in sections:
            old_analyst, self.analyst = (
                self.analyst,
                make_analyst(self.settings, self.store, self.clock, self.secrets),
            )
            self.pipeline.analyst = self.analyst
            await _close(old_analyst)
            done["analyst"] = f"rebuilt ({type(self.analyst).__name__}, model {self.settings.analyst.model})"
        if "whales" in sections:
            old_whales = self.whales
            if self.settings.whales.enabled:
                try:
                    self.whales = make_whale_source(self.settings, self.store, self.clock, self.secrets)
                    done["whales"] = "rebuilt"
                except WhaleSourceError as exc:
                    self.whales = None
                    done["whales"] = f"disabled: {exc}"
            else:
                self.whales = None
                done["whales"] = "disabled"
            self.pipeline.whales = self.whales
            await _close(old_whales)
        return done

    async def aclose(self) -> None:
        for closer in (self.exchange, self.analyst, self.whales):
            await _close(closer)


class _Closable(Protocol):
    async def aclose(self) -> None: ...


async def _close(component: _Closable | None) -> None:
    if component is None:
        return
    try:
        await component.aclose()
    except Exception:  # closing must not mask the reason we are stopping
        log.exception("closing %s failed", type(component).__name__)


def make_notifier(settings: Settings, store: Store, clock: Clock, secrets: SecretStore) -> Notifier:
    """The operator notifier; a bad URL turns notifications off loudly instead of stopping the engine."""
    if settings.engine.mode is Mode.DEMO:
        # The demo is for learning the console: it must not page the operator's phone.
        return Notifier(settings, store, clock, [], off_reason="demo mode sends no notifications")
    try:
        return Notifier(settings, store, clock, load_channels(secrets))
    except ChannelError as exc:
        log.error("notifications off: %s", exc, extra={"event": "notify.misconfigured"})
        return Notifier(settings, store, clock, [], problem=str(exc))


def build_runtime(
    settings: Settings,
    store: Store,
    clock: Clock,
    secrets: SecretStore,
    *,
    exchange: Exchange | None = None,
    whales: WhaleSource | None = None,
    analyst: Analyst | None = None,
    notify: SdNotify | None = None,
    config_path: Path | None = None,
    use_whales: bool = True,
    skip_probe: bool = False,
) -> Runtime:
    if exchange is None and settings.engine.mode is Mode.LIVE:
        require_live_probe(settings, store, clock, secrets, skip=skip_probe)
    exchange = exchange or make_exchange(settings, store, clock, secrets)
    analyst = analyst or make_analyst(settings, store, clock, secrets)
    if whales is None and use_whales and settings.whales.enabled:
        try:
            whales = make_whale_source(settings, store, clock, secrets)
        except WhaleSourceError as exc:
            # Tier-2 pairs do not need whales: run without them and say so every cycle.
            log.warning("whale discovery disabled: %s", exc, extra={"event": "whales.disabled"})
            whales = None
    ailog = AiLogOutbox(store, clock, settings)
    book = ProposalBook(store, clock, settings, RiskEngine(settings))
    executor = Executor(exchange, store, clock, settings, ailog)

    monitor = Monitor(settings, store, clock, exchange, executor, ailog)
    pipeline = Pipeline(
        settings,
        store,
        clock,
        exchange,
        analyst,
        book,
        executor,
        ailog,
        whales=whales,
    )

    retention = Retention(store)

    async def housekeeping(now: datetime) -> None:
        book.expire_due()
        retention(now)  # thins old account snapshots, at most hourly (smt_engine.store.retention)

    engine = Engine(
        settings,
        store,
        clock,
        monitor,
        pipeline,
        housekeeping=housekeeping,
        uploader=AiLogUploader(exchange, store, clock, settings) if settings.ailog_enabled else None,
        notify=notify,
        config_path=config_path,
        notifier=make_notifier(settings, store, clock, secrets),
        streams=make_streams(settings, store, clock, exchange, PushedFills()),
    )
    commands = CommandService(engine, settings, store, clock, exchange, book, executor, monitor)
    engine.commands = commands
    pipeline.trade_lock = engine.lock
    pipeline.work = engine.work
    book.on_halt = engine.halt
    runtime = Runtime(
        settings,
        store,
        clock,
        exchange,
        analyst,
        whales,
        ailog,
        book,
        executor,
        monitor,
        pipeline,
        commands,
        engine,
        secrets,
    )
    engine.rebuild = runtime.rebuild
    return runtime
